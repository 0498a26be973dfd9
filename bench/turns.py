"""End-of-turn evaluation: is every answer heard whole and stored under its own question?

    scripts/bench turns                       # table + bench/results/turns.json
    scripts/bench turns --items 'piper-*'     # a part of the set (fnmatch on item names)
    NEWSPEECH_TURN_COMPLETE_THRESHOLD=0.7 scripts/bench turns --out /tmp/turns-0.7.json
    scripts/bench turns --settle-min-seconds -1 --out /tmp/turns-unsettled.json

The set (tests/fixtures/turn_set.py): real recordings with sentence and thinking pauses
(../shared/audio), model answers from all six banks in the Piper and espeak candidate voices
with 0.3-2.5 s pauses spliced in at sentence ends and commas, keyword lists read with commas,
one-word answers. Each item is one sitting through the real session loop (Silero VAD, Smart
Turn v3.2, whisper tiny.en, the examiner's Piper voice with its noise off) on the
virtual-clock harness with the scripted exam; the loop's settings come from NEWSPEECH_* as
in production. Counted per answer (tests/voice/turn_sitting.py):

  cut        a turn was declared at a pause before the answer's last word
  healed     ... and the answer went on and was amended: all of it stored under its question
  premature  cut and not healed (goal 0): the stored answer misses words, or they went elsewhere
  shifted    some of its words were stored under another question (goal 0)
  WER        word error rate of the stored transcripts (answers whose words are known)
  decoded    audio seconds the recogniser was given per second of answer played (pauses
             that make a decode hear the answer again raise it; --settle-min-seconds)
  delay      last word → the turn that took the whole answer, on answers never cut
             (goal p50 <= 600 ms). Virtual time: the loop's decision (pause length, turn
             model, silence fallback), not inference time (bench/latency.py measures that).

The harness settles real inference before moving virtual time, so the counts are the same
on every run and any load; the load average is recorded because the wall time is not.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import fnmatch
import json
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from tests.fixtures.turn_set import turn_set
from tests.fixtures.voices import CandidateVoices
from tests.voice.turn_sitting import AnswerOutcome, ItemOutcome, sit, steady_engines

from bench._provenance import Run
from newspeech.config import Settings
from newspeech.voice.engines import load_speech_engines
from newspeech.voice.session import LoopSettings

ROOT = Path(__file__).resolve().parents[1]
AUDIO = ROOT.parent / "shared" / "audio"
RESULTS = ROOT / "bench" / "results"
DELAY_GOAL_MS = 600


def ms(values: list[float], q: float) -> float | None:
    if not values:
        return None
    return round(1000 * float(np.percentile(np.asarray(values), q)))


def summary(answers: list[AnswerOutcome]) -> dict[str, Any]:
    clean = [a.delay for a in answers if not a.cuts and a.delay is not None]
    healed = [a.delay for a in answers if a.healed and a.delay is not None]
    return {
        "answers": len(answers),
        "cut": sum(bool(a.cuts) for a in answers),
        "healed": sum(a.healed for a in answers),
        "premature": sum(a.premature for a in answers),
        "shifted": sum(a.shifted for a in answers),
        "delay_ms": {"n": len(clean), "p50": ms(clean, 50), "p90": ms(clean, 90)}
        | {"max": ms(clean, 100)},
        "healed_delay_ms": {"n": len(healed), "p50": ms(healed, 50), "max": ms(healed, 100)},
        "wer": word_error_rate(answers),
    }


def word_error_rate(answers: list[AnswerOutcome]) -> float | None:
    """Word errors of the stored transcripts over the words said (answers with a known text)."""
    counted = [a.errors for a in answers if a.errors is not None]
    said = sum(words for _, words in counted)
    return round(sum(errors for errors, _ in counted) / said, 4) if said else None


def decoding(outcomes: list[ItemOutcome]) -> dict[str, Any]:
    """Audio seconds decoded per second of answer played, by group and in total: 1.0 when
    every stretch is decoded once, more when pauses make decodes hear it again."""
    groups: dict[str, list[ItemOutcome]] = defaultdict(list)
    for outcome in outcomes:
        groups[f"{outcome.item.kind}/{outcome.item.voice}"].append(outcome)
    groups["TOTAL"] = outcomes

    def ratio(group: list[ItemOutcome]) -> float:
        spoken = sum(o.spoken_seconds for o in group)
        return round(sum(o.decoded_seconds for o in group) / spoken, 2) if spoken else 0.0

    return {name: ratio(group) for name, group in groups.items()}


def by_pause(answers: list[AnswerOutcome]) -> list[dict[str, Any]]:
    """Cuts by the pause they were declared in, and how many were rejoined (the answer went
    on and was amended under its question)."""
    cuts: dict[tuple[str, float], list[bool]] = defaultdict(list)
    for answer in answers:
        for cut in answer.cuts:
            key = ("none", 0.0) if cut.pause is None else (cut.pause.boundary, cut.pause.seconds)
            cuts[key].append(cut.rejoined)
    return [
        {"boundary": boundary, "pause_s": seconds, "cuts": len(r), "rejoined": sum(r)}
        for (boundary, seconds), r in sorted(cuts.items())
    ]


def answer_row(answer: AnswerOutcome) -> dict[str, Any]:
    return {
        "asked": answer.asked,
        "filed_under": list(answer.filed_under),
        "whole": answer.whole,
        "cuts": [c.describe() for c in answer.cuts],
        "healed": answer.healed,
        "premature": answer.premature,
        "shifted": answer.shifted,
        "delay_ms": None if answer.delay is None else round(1000 * answer.delay),
        "transcript": answer.transcript,
    }


def item_row(outcome: ItemOutcome) -> dict[str, Any]:
    item = outcome.item
    return {
        "name": item.name,
        "voice": item.voice,
        "kind": item.kind,
        "turns": outcome.turns,
        "continuations": outcome.continuations,
        "answers": [
            answer_row(a)
            | {
                "text": spoken.text,
                "last_word_s": spoken.last_word,
                "pauses": [dataclasses.asdict(p) for p in spoken.pauses],
            }
            for a, spoken in zip(outcome.answers, item.answers, strict=True)
        ],
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    provenance = Run("turns")
    settings = Settings(environment="test", data_dir=Path(tempfile.mkdtemp(prefix="turns-")))
    loop_settings = LoopSettings.from_settings(settings)
    if args.settle_min_seconds is not None:
        settle = None if args.settle_min_seconds < 0 else args.settle_min_seconds
        loop_settings = dataclasses.replace(loop_settings, settle_min_seconds=settle)
    speech = await load_speech_engines(settings)
    await speech.warm_up()
    engines = steady_engines(speech)
    builders = turn_set(AUDIO, CandidateVoices())
    names = [n for n in builders if any(fnmatch.fnmatch(n, p) for p in args.items)]
    outcomes = []
    try:
        for name in names:
            outcome = await sit(engines, builders[name](), loop_settings)
            outcomes.append(outcome)
            bad = sum(a.premature or a.shifted for a in outcome.answers)
            print(f"  {name:<34} {len(outcome.answers)} answers, {bad} not whole on its question")
    finally:
        await speech.aclose()
    answers = [a for o in outcomes for a in o.answers]
    groups: dict[str, list[AnswerOutcome]] = defaultdict(list)
    for a in answers:
        groups[f"{a.kind}/{a.voice}"].append(a)
    return {
        **provenance.header(),
        "engines": "silero vad, smart-turn v3.2, whisper tiny.en int8, piper en_US-joe-medium",
        "settings": {
            "vad_threshold": settings.vad_threshold,
            "vad_start_seconds": settings.vad_start_seconds,
            "vad_stop_seconds": settings.vad_stop_seconds,
            "turn_complete_threshold": settings.turn_complete_threshold,
            "turn_incomplete_stop_seconds": settings.turn_incomplete_stop_seconds,
            "continuation_min_seconds": loop_settings.continuation_min_seconds,
            "settle_min_seconds": loop_settings.settle_min_seconds,
        },
        "items_selected": args.items,
        "total": summary(answers),
        "groups": {name: summary(group) for name, group in sorted(groups.items())},
        "cuts_by_pause": by_pause(answers),
        "decoded_per_spoken_second": decoding(outcomes),
        "items": [item_row(o) for o in outcomes],
    }


def print_table(result: dict[str, Any]) -> None:
    print(
        f"\ncommit {result['commit']}, load average {result['load_average_before']} → "
        f"{result['load_average_after']}, {result['wall_seconds']} s wall"
    )
    print("settings: " + ", ".join(f"{k}={v}" for k, v in result["settings"].items()))
    header = (
        f"{'group':<20}{'answers':>8}{'cut':>5}{'healed':>7}{'premature':>10}{'shifted':>8}"
        f"{'delay n':>8}{'p50 ms':>8}{'p90 ms':>8}{'max ms':>8}{'WER':>7}{'decoded':>9}"
    )
    print("\n" + header)
    rows = [*result["groups"].items(), ("TOTAL", result["total"])]
    for name, row in rows:
        delay = row["delay_ms"]
        print(
            f"{name:<20}{row['answers']:>8}{row['cut']:>5}{row['healed']:>7}"
            f"{row['premature']:>10}{row['shifted']:>8}{delay['n']:>8}{delay['p50']!s:>8}"
            f"{delay['p90']!s:>8}{delay['max']!s:>8}{row['wer']!s:>7}"
            f"{result['decoded_per_spoken_second'].get(name, '')!s:>9}"
        )
    total = result["total"]
    print(
        f"\ngoals: premature 0 (got {total['premature']}), shifted 0 (got {total['shifted']}), "
        f"delay p50 <= {DELAY_GOAL_MS} ms on answers never cut "
        f"(got {total['delay_ms']['p50']}); healed answers' delay: "
        f"p50 {total['healed_delay_ms']['p50']}, max {total['healed_delay_ms']['max']} ms"
    )
    print(f"\n{'cuts by pause':<24}{'cuts':>6}{'rejoined':>10}")
    for row in result["cuts_by_pause"]:
        label = f"{row['boundary']} {row['pause_s']:g} s"
        print(f"{label:<24}{row['cuts']:>6}{row['rejoined']:>10}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--items",
        nargs="+",
        default=["*"],
        help="item name patterns (fnmatch), default all",
    )
    parser.add_argument(
        "--settle-min-seconds",
        type=float,
        default=None,
        help="keep a pause's decode when the answer goes on if it heard at least this long "
        "(default: the loop's own; a negative value keeps none)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "turns.json")
    args = parser.parse_args()
    result = asyncio.run(run(args))
    print_table(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
