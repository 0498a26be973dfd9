"""CPU per decode of two decodings of ``scripts/bench terms``, interleaved on the same items.

    scripts/bench terms_cpu                        # greedy (before) against beam5hot96 (now)
    scripts/bench terms_cpu --decodings greedy beam5 --items 30

--cpu-sample in ``scripts/bench terms`` measures one decoding per run, so the load of the machine
differs between runs: on the shared 2-core box beam 5 measured 1 % above greedy per short answer
on the espeak sample and 65 % on the Piper one. Here each item is decoded by every decoding in
turn, the order alternating, one decode at a time, twice: N term sentences (short answers, both
voices) and N model answers read whole (long ones). CPU is the process's (every thread).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.fixtures.voices import CandidateVoices

from bench._provenance import Run
from bench.terms import DECODINGS, RESULTS, Cache, VariantSpeechToText, build_set, conditions
from newspeech.config import Settings
from newspeech.voice.pool import InferencePool
from newspeech.voice.stt import WhisperSpeechToText

REPEATS = 2


async def run(args: argparse.Namespace) -> dict[str, Any]:
    provenance = Run("terms_cpu")
    pool = InferencePool()
    voices = CandidateVoices()
    renders = {"piper": voices.piper, "espeak": voices.espeak}
    cache = Cache(args.cache)
    out: dict[str, Any] = {}
    try:
        settings = Settings(environment="test", data_dir=Path(tempfile.mkdtemp(prefix="cpu-")))
        model = WhisperSpeechToText.from_settings(settings, pool=pool).model
        engines = {}
        for name in args.decodings:
            engine = VariantSpeechToText(model, pool, beam_size=DECODINGS[name].beam_size)
            engine.decoding = DECODINGS[name]
            engines[name] = engine
        items = build_set(["piper", "espeak"], quick=False)
        for kind in ("terms", "answers"):
            of_kind = [i for i in items if i.kind == kind]
            sample = of_kind[:: max(1, len(of_kind) // args.items)][: args.items]
            cpu = dict.fromkeys(engines, 0.0)
            audio = 0.0
            for repeat in range(REPEATS):
                for n, item in enumerate(sample):
                    pcm = cache.audio(item.voice, item.text, renders[item.voice])
                    prompt, hotwords = conditions(item.question, ["biased"])["biased"]
                    audio += pcm.size / 16000
                    order = list(engines) if (n + repeat) % 2 == 0 else list(engines)[::-1]
                    for name in order:
                        started = time.process_time()
                        await engines[name].transcribe(pcm, prompt=prompt, hotwords=hotwords)
                        cpu[name] += time.process_time() - started
            decodes = len(sample) * REPEATS
            out[kind] = {
                "decodes_each": decodes,
                "audio_seconds_mean": round(audio / decodes, 2),
                **{
                    name: {
                        "cpu_seconds_per_decode": round(spent / decodes, 4),
                        "cpu_seconds_per_audio_second": round(spent / audio, 4),
                    }
                    for name, spent in cpu.items()
                },
            }
    finally:
        pool.close()
    return {**provenance.header(), "model": "whisper tiny.en int8", "results": out}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--decodings", nargs=2, choices=DECODINGS, default=["greedy", "beam5hot96"])
    parser.add_argument("--items", type=int, default=30, help="of each kind")
    parser.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "newspeech-bench-terms"
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "terms_cpu.json")
    args = parser.parse_args()
    result = asyncio.run(run(args))
    print(
        f"\ncommit {result['commit']}, load average {result['load_average_before']} → "
        f"{result['load_average_after']}, {result['wall_seconds']} s wall"
    )
    print(f"\n{'answers':<10}{'audio s':>9}" + "".join(f"{n:>24}" for n in args.decodings))
    for kind, row in result["results"].items():
        cells = "".join(
            f"{row[n]['cpu_seconds_per_decode']:>14.3f} s/decode" for n in args.decodings
        )
        print(f"{kind:<10}{row['audio_seconds_mean']:>9}{cells}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
