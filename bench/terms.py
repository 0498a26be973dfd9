"""Key-term recall: are a question's terms heard (and graded) as they were said?

    scripts/bench terms                  # table + bench/results/terms.json
    scripts/bench terms --quick          # every 5th sentence and model answer, for iterating
    scripts/bench terms --voices piper   # one voice
    scripts/bench terms --quick --voices espeak --conditions biased prompt_terms \
        --decoding beam5 --cpu-sample 20  # decoder variants, CPU seconds per decode

The set (built from the shipped banks, src/newspeech/questions/banks, all six colleges):

  terms     every keyword's term and every synonym, each spoken inside a short answer sentence
            of its own question, two forms of two different keywords to a sentence, in the two
            candidate voices (tests/fixtures/voices.py: Piper noise-off, espeak-ng);
  answers   every question's model answer read whole, in both voices (terms in real context:
            "start noradrenaline to keep the mean arterial pressure ...");
  real      the real recordings with a known transcript (../shared/audio/SOURCE.txt: JFK, and
            "one two three" twice); their terms are the transcript's content words, since no
            bank question goes with them. The Silero lecture has no reference transcript and
            is left out.

Each item is decoded by whisper tiny.en (int8, the product's decoding unless --decoding says
otherwise) under each decoding condition, and its transcript is corrected towards the question's
terms (newspeech.voice.terms) or not:

  hotwords  the question as prompt, its keyword terms as hotwords: what the product did before;
  biased    newspeech.voice.bias.decoder_bias: the question as prompt, every keyword's term
            and then every synonym as hotwords, each with a comma (what the product does now;
            without the commas, measured at c38d91f: 92.3 % raw, 93.7 % corrected);
  prompt_terms  no hotwords: the question and then "Key terms: a, b and c." as the prompt;
  hot_sentence  the question as prompt, "Key terms: a, b and c." as the one hotword.

and each decoding (--decoding, one per run; its transcripts are cached apart): ``greedy`` (the
product's before), ``beam2`` / ``beam3`` / ``beam5`` (beam search of that width), ``hot96`` /
``hot32`` (hotword budget in tokens instead of 64), ``beam3hot96`` / ``beam5hot96`` (both;
``beam5hot96`` is the product's now, the default), ``blank`` (``suppress_blank`` off).
--cpu-sample N decodes N items once more, one at a time, and reports the process's CPU seconds
per decode (every thread; wall time depends on the load): N term sentences (short answers) and N
model answers read whole (long ones) apart.

Counted:
  recall        a spoken form is heard when the normalised transcript contains it, or another
                form of the same keyword, as a whole phrase (grading's normalisation and stems;
                no fuzzy slips). "answers": the keywords the model answer's own text contains.
  grader        the same keywords as the grader finds them (ConceptMatcher: fuzzy slips,
                negation) - what marks are given on.
  inserted      keywords in the transcript of which the speaker said no form (put in by the
                biased decoder, or by the correction).
  false neg.    a keyword the grader finds in the spoken text but only as negated in the
                transcript ("no adrenaline ... mean arterial pressure").
  false corr.   corrections that put in a term the speaker did not say: on the item's own
                question, and on every item corrected towards another question's terms: the
                next question of another college ("foreign": nothing there to find) and the
                next question of the same college ("near": a wrong answer in the same field,
                where a term that sounds like its words is most likely).

Synthesised audio and transcripts are kept in a temp folder (--cache), so a rerun only decodes
what changed; the load average is recorded because wall time depends on it.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import hashlib
import json
import re
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tests.fixtures.voices import CandidateVoices

from bench._provenance import Run
from newspeech.config import Settings
from newspeech.grading.matching import ConceptMatcher
from newspeech.grading.protocols import GradingQuestion, Keyword
from newspeech.grading.text import FUNCTION_WORDS, Analyser
from newspeech.questions.banks import load_banks
from newspeech.voice import stt as stt_module
from newspeech.voice.audio import decode_audio
from newspeech.voice.bias import bias_terms, decoder_bias
from newspeech.voice.pool import InferencePool
from newspeech.voice.protocols import PCM16, Word
from newspeech.voice.stt import WhisperSpeechToText
from newspeech.voice.terms import CorrectedTranscript, EspeakPhonetics, TermCorrector

ROOT = Path(__file__).resolve().parents[1]
AUDIO = ROOT.parent / "shared" / "audio"
RESULTS = ROOT / "bench" / "results"
GOAL = 0.95
TEMPLATES = (
    "I think the key points are {a}, {b} and {c}.",
    "In this case I would mention {a}, {b}, and also {c}.",
    "My answer includes {a}, {b}, as well as {c}.",
)
PAIRS = ("I think the key points are {a} and {b}.", "In this case I would mention {a} and {b}.")
SINGLE = ("I think the key point is {a}.", "In this case I would mention {a}.")
REAL = {
    "whisper_jfk.flac": "And so my fellow Americans, ask not what your country can do for you, "
    "ask what you can do for your country.",
    "speech_recognition_english.wav": "one two three",
    "speech_recognition_audio-mono-16-bit-44100Hz.wav": "one two three",
}


@dataclass(frozen=True)
class Question:
    bank: str
    key: str
    grading: GradingQuestion


@dataclass
class Item:
    name: str
    kind: str
    voice: str
    question: Question
    text: str
    spoken: tuple[tuple[int, str], ...]
    """(keyword index, form) said in ``text``."""
    foreign: Question
    neighbour: Question
    """Another question of the same bank: an answer to one question of a college, heard as a
    (wrong) answer to another, is where a term of the same field could be put in."""
    audio_file: str | None = None
    results: dict[str, dict[str, Any]] = field(default_factory=dict)


def questions() -> list[Question]:
    return [
        Question(
            bank.college_type,
            f"{bank.college_type}/s{scenario.scenario_id}q{q.question_number}",
            GradingQuestion(
                q.question,
                tuple(Keyword(k.term, tuple(k.synonyms), k.weight) for k in q.keywords),
                q.model_answer,
                q.guidelines,
            ),
        )
        for bank in load_banks()
        for scenario in bank.scenarios
        for q in scenario.questions
    ]


def sentences(question: GradingQuestion) -> list[tuple[str, tuple[tuple[int, str], ...]]]:
    """Every form of every keyword once, up to three forms of different keywords to a
    sentence (a list, as candidates list findings)."""
    queues = [[(i, f) for f in k.forms] for i, k in enumerate(question.keywords)]
    ordered: list[tuple[int, str]] = []
    while any(queues):
        for queue in queues:
            if queue:
                ordered.append(queue.pop(0))
    out: list[tuple[str, tuple[tuple[int, str], ...]]] = []
    while ordered:
        group = [ordered.pop(0)]
        for candidate in list(ordered):
            if len(group) < 3 and all(candidate[0] != g[0] for g in group):
                group.append(candidate)
                ordered.remove(candidate)
        templates = (SINGLE, PAIRS, TEMPLATES)[len(group) - 1]
        names = dict(zip("abc", (form for _, form in group), strict=False))
        out.append((templates[len(out) % len(templates)].format(**names), tuple(group)))
    return out


def build_set(voices: Sequence[str], quick: bool) -> list[Item]:
    qs = questions()
    items: list[Item] = []
    for n, q in enumerate(qs):
        # The foreign question: the same position in the next college's bank.
        foreign = qs[(n + len(qs) // 6) % len(qs)]
        bank = [other for other in qs if other.bank == q.bank]
        neighbour = bank[(bank.index(q) + 1) % len(bank)]
        for voice in voices:
            for s, (text, spoken) in enumerate(sentences(q.grading)):
                items.append(
                    Item(f"{q.key}/t{s}/{voice}", "terms", voice, q, text, spoken, foreign,
                         neighbour)
                )  # fmt: skip
            everything = tuple((i, k.term) for i, k in enumerate(q.grading.keywords))
            items.append(
                Item(f"{q.key}/answer/{voice}", "answers", voice, q, q.grading.model_answer,
                     everything, foreign, neighbour)
            )  # fmt: skip
    if quick:
        items = items[::5]
    for n, (name, text) in enumerate(REAL.items()):
        words = list(dict.fromkeys(w for w in re.findall(r"[a-z]+", text.lower())))
        terms = [w for w in words if w not in FUNCTION_WORDS and w != "ask"] or words
        real = Question(
            "real",
            f"real/{name}",
            GradingQuestion(
                "Please answer in your own words.",
                tuple(Keyword(t) for t in terms),
                text,
            ),
        )
        spoken = tuple(enumerate(terms))
        items.append(
            Item(f"real/{name}", "real", "real", real, text, spoken, qs[n * 11], qs[n * 11 + 1],
                 name)
        )  # fmt: skip
    return items


class Cache:
    """Audio and transcripts on disk, keyed by what produced them."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def _path(self, *parts: str, suffix: str) -> Path:
        digest = hashlib.sha1("\x00".join(parts).encode()).hexdigest()[:20]
        return self.folder / f"{digest}{suffix}"

    def audio(self, voice: str, text: str, render: Callable[[str], PCM16]) -> PCM16:
        path = self._path("audio", voice, text, suffix=".npy")
        if path.exists():
            return np.load(path)  # type: ignore[no-any-return]
        pcm = render(text)
        np.save(path, pcm)
        return pcm

    def transcript(self, key: Sequence[str]) -> dict[str, Any] | None:
        path = self._path(*key, suffix=".json")
        return json.loads(path.read_text()) if path.exists() else None

    def keep(self, key: Sequence[str], value: dict[str, Any]) -> None:
        self._path(*key, suffix=".json").write_text(json.dumps(value))


CONDITIONS = ("hotwords", "biased", "prompt_terms", "hot_sentence")


def _listed(terms: Sequence[str]) -> str:
    return ", ".join(terms[:-1]) + (f" and {terms[-1]}" if len(terms) > 1 else terms[0])


def conditions(q: Question, chosen: Sequence[str]) -> dict[str, tuple[str | None, tuple[str, ...]]]:
    """Decoder prompt and hotwords per condition."""
    keywords = q.grading.keywords
    forms = [k.forms for k in keywords]
    terms = bias_terms(forms)
    every = {
        "hotwords": (q.grading.text, tuple(k.term for k in keywords)),
        "biased": decoder_bias(q.grading.text, forms),
        # The question, then its terms as a sentence, all as the text before the answer (the
        # terms nearest it); no hotwords.
        "prompt_terms": (f"{q.grading.text} Key terms: {_listed(terms)}.", ()),
        # The question as the prompt, the terms as one sentence in the hotword slot.
        "hot_sentence": (q.grading.text, (f"Key terms: {_listed(terms)}.",)),
    }
    return {name: every[name] for name in chosen}


@dataclass(frozen=True)
class Decoding:
    """How the decoder is run: ``greedy`` is the product's decoding before beam 5 and the 96-token
    hotword budget, ``beam5hot96`` the product's now (``newspeech.config.Settings``,
    :data:`newspeech.voice.stt.HOTWORD_TOKENS`)."""

    beam_size: int = 1
    hotword_tokens: int = 64
    suppress_blank: bool = True


DECODINGS = {
    "greedy": Decoding(),
    "beam2": Decoding(beam_size=2),
    "beam3": Decoding(beam_size=3),
    "beam5": Decoding(beam_size=5),
    "hot96": Decoding(hotword_tokens=96),
    "hot32": Decoding(hotword_tokens=32),
    "beam3hot96": Decoding(beam_size=3, hotword_tokens=96),
    "beam5hot96": Decoding(beam_size=5, hotword_tokens=96),
    "blank": Decoding(suppress_blank=False),
}
PRODUCT = "beam5hot96"
assert DECODINGS[PRODUCT] == Decoding(
    beam_size=Settings.model_fields["whisper_beam_size"].default,
    hotword_tokens=stt_module.HOTWORD_TOKENS,
), "the product's decoding changed: name it in DECODINGS"


class VariantSpeechToText(WhisperSpeechToText):
    """The product's engine with :class:`Decoding`'s knobs turned (for measuring them)."""

    decoding = Decoding()

    def _clip_tokens(self, text: str | None, limit: int, *, keep_end: bool) -> str | None:
        if limit == stt_module.HOTWORD_TOKENS and not keep_end:
            limit = self.decoding.hotword_tokens
        return super()._clip_tokens(text, limit, keep_end=keep_end)


class Scorer:
    def __init__(self) -> None:
        self.analyser = Analyser()
        self.matcher = ConceptMatcher(self.analyser)
        self._compiled: dict[str, Any] = {}

    def stems(self, text: str) -> list[str]:
        return [t.stem for t in self.analyser.tokens(text)]

    def contains(self, text: str, keyword: Keyword) -> bool:
        have = " " + " ".join(self.stems(text)) + " "
        for form in keyword.forms:
            for variant in {form, form.replace("-", " "), form.replace("-", "")}:
                want = " ".join(self.stems(variant))
                if want and f" {want} " in have:
                    return True
        return False

    def grader(self, q: Question, text: str) -> list[tuple[bool, bool]]:
        """(matched, denied) per keyword, as the grader finds them."""
        compiled = self._compiled.get(q.key)
        if compiled is None:
            compiled = self._compiled[q.key] = self.matcher.compile(q.grading)
        found = self.matcher.match(compiled, self.matcher.tokens(compiled, text))
        return [(m.matched, m.denied) for m in found]


def spoken_keywords(item: Item, scorer: Scorer) -> list[int]:
    if item.kind != "answers":
        return sorted({i for i, _ in item.spoken})
    # The model answer: the keywords its own text says (as the grader reads it).
    return [i for i, (matched, _) in enumerate(scorer.grader(item.question, item.text)) if matched]


def score(item: Item, text: str, scorer: Scorer) -> dict[str, Any]:
    keywords = item.question.grading.keywords
    wanted = spoken_keywords(item, scorer)
    if item.kind == "terms":
        heard = [f for i, f in item.spoken if scorer.contains(text, keywords[i])]
        recall = (len(heard), len(item.spoken))
    else:
        heard = [keywords[i].term for i in wanted if scorer.contains(text, keywords[i])]
        recall = (len(heard), len(wanted))
    graded = scorer.grader(item.question, text)
    reference = scorer.grader(item.question, item.text)
    return {
        "recall": recall,
        "grader": (sum(graded[i][0] for i in wanted), len(wanted)),
        "false_negations": sum(graded[i][1] and not reference[i][1] for i in wanted),
        # Keywords in the transcript that the speaker did not say: put in by the decoder
        # (biased towards them) or by the correction.
        "inserted": sum(
            scorer.contains(text, k) and not scorer.contains(item.text, k) for k in keywords
        ),
        "negated": [keywords[i].term for i in wanted if graded[i][1] and not reference[i][1]],
    }


def said_term(item: Item, term: str, scorer: Scorer) -> bool:
    return " ".join(scorer.stems(term)) in " ".join(scorer.stems(item.text))


async def decode_all(
    items: list[Item],
    stt: WhisperSpeechToText,
    voices: CandidateVoices,
    cache: Cache,
    chosen: Sequence[str],
    variant: str = "greedy",
) -> None:
    renders: dict[str, Callable[[str], PCM16]] = {"piper": voices.piper, "espeak": voices.espeak}
    todo = []
    for item in items:
        if item.audio_file:
            pcm = decode_audio((AUDIO / item.audio_file).read_bytes(), max_seconds=600)
        else:
            pcm = cache.audio(item.voice, item.text, renders[item.voice])
        digest = hashlib.sha1(pcm.tobytes()).hexdigest()
        for name, (prompt, hotwords) in conditions(item.question, chosen).items():
            key: tuple[str, ...] = ("tiny.en-v3", digest, prompt or "", "|".join(hotwords))
            if variant != "greedy":
                key = (*key, repr(DECODINGS[variant]))
            found = cache.transcript(key)
            if found is None:
                todo.append((item, name, key, pcm, prompt, hotwords))
            else:
                item.results[name] = found
    print(f"  {len(items)} items, {len(todo)} decodes to run")
    done = 0
    started = time.perf_counter()

    async def one(job: tuple[Any, ...]) -> None:
        nonlocal done
        item, name, key, pcm, prompt, hotwords = job
        transcript = await stt.transcribe(pcm, prompt=prompt, hotwords=hotwords)
        value = {
            "text": transcript.text,
            "words": [
                [w.text, round(w.probability, 4), round(w.start, 3), round(w.end, 3)]
                for w in transcript.words
            ],
        }
        cache.keep(key, value)
        item.results[name] = value
        done += 1
        if done % 100 == 0:
            print(f"  {done}/{len(todo)} decoded, {time.perf_counter() - started:.0f} s")

    for start in range(0, len(todo), stt.num_workers * 4):
        await asyncio.gather(*(one(job) for job in todo[start : start + stt.num_workers * 4]))


async def cpu_per_decode(
    items: list[Item], stt: WhisperSpeechToText, cache: Cache, chosen: Sequence[str], n: int
) -> dict[str, Any]:
    """CPU seconds (all threads of the process) per decode, one decode at a time, on ``n``
    term sentences (a short answer, 3-8 s) and ``n`` model answers read whole (a long one,
    10-35 s), each every ``len // n``-th of its kind: the same sample for every variant."""
    out: dict[str, Any] = {}
    for name in chosen:
        for kind in ("terms", "answers"):
            of_kind = [i for i in items if i.kind == kind]
            sample = of_kind[:: max(1, len(of_kind) // n)][:n]
            if not sample:
                continue
            jobs = []
            for item in sample:
                pcm = cache.audio(item.voice, item.text, lambda text: np.zeros(0, np.int16))
                prompt, hotwords = conditions(item.question, [name])[name]
                jobs.append((pcm, prompt, hotwords))
            await stt.transcribe(jobs[0][0], prompt=jobs[0][1], hotwords=jobs[0][2])  # warm
            cpu, wall = time.process_time(), time.perf_counter()
            audio = 0.0
            for pcm, prompt, hotwords in jobs:
                await stt.transcribe(pcm, prompt=prompt, hotwords=hotwords)
                audio += pcm.size / 16000
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            out[f"{name}/{kind}"] = {
                "decodes": len(jobs),
                "audio_seconds_mean": round(audio / len(jobs), 2),
                "cpu_seconds_per_decode": round(cpu / len(jobs), 4),
                "cpu_seconds_per_audio_second": round(cpu / audio, 4),
                "wall_seconds_per_decode": round(wall / len(jobs), 4),
            }
    return out


def heard_words(value: dict[str, Any]) -> list[Word]:
    """The decoder's words with their probabilities (what the product passes the corrector)."""
    out = []
    for w in value.get("words", []):
        start, end = (w[2], w[3]) if len(w) > 3 else (0.0, 0.0)
        out.append(Word(w[0], start, end, w[1]))
    return out


def evaluate(items: list[Item], corrector: TermCorrector) -> dict[str, Any]:
    scorer = Scorer()
    rows: dict[tuple[str, str, str], dict[str, Any]] = {}
    samples: list[dict[str, Any]] = []
    negations: list[dict[str, Any]] = []
    for item in items:
        q = item.question.grading
        terms = [f for k in q.keywords for f in k.forms]
        for condition, value in item.results.items():
            raw = value["text"]
            words = heard_words(value)
            fixed = corrector.correct(raw, terms, vocabulary=(q.text, q.model_answer), words=words)
            other = towards(corrector, raw, words, item.foreign.grading)
            near = towards(corrector, raw, words, item.neighbour.grading)
            for corrected, text in (("raw", raw), ("corrected", fixed.text)):
                s = score(item, text, scorer)
                if s["false_negations"]:
                    negations.append(
                        {"item": item.name, "condition": f"{condition}+{corrected}",
                         "said": item.text, "graded": text, "keywords": s["negated"]}
                    )  # fmt: skip
                for group in (item.voice, item.question.bank, item.kind, "TOTAL"):
                    row = rows.setdefault(
                        (condition, corrected, group),
                        {"recall": [0, 0], "grader": [0, 0], "false_negations": 0,
                         "false_corrections_own": 0, "false_corrections_foreign": 0,
                         "false_corrections_neighbour": 0, "corrections": 0,
                         "foreign_items": 0, "inserted": 0},
                    )  # fmt: skip
                    for k in ("recall", "grader"):
                        row[k][0] += s[k][0]
                        row[k][1] += s[k][1]
                    row["false_negations"] += s["false_negations"]
                    row["inserted"] += s["inserted"]
                    if corrected == "corrected":
                        row["corrections"] += len(fixed.corrections)
                        row["false_corrections_own"] += sum(
                            not said_term(item, c.term, scorer) for c in fixed.corrections
                        )
                        row["false_corrections_foreign"] += sum(
                            not said_term(item, c.term, scorer) for c in other.corrections
                        )
                        row["false_corrections_neighbour"] += sum(
                            not said_term(item, c.term, scorer) for c in near.corrections
                        )
                        row["foreign_items"] += 1
            if fixed.corrections or other.corrections or near.corrections:
                samples.append(
                    {
                        "item": item.name,
                        "condition": condition,
                        "said": item.text,
                        "heard": raw,
                        "corrected": [
                            [
                                c.heard,
                                c.term,
                                c.similarity,
                                c.probability,
                                said_term(item, c.term, scorer),
                            ]
                            for c in fixed.corrections
                        ],
                        "foreign": [
                            [c.heard, c.term, c.similarity, c.probability]
                            for c in other.corrections
                        ],
                        "neighbour": [
                            [
                                c.heard,
                                c.term,
                                c.similarity,
                                c.probability,
                                said_term(item, c.term, scorer),
                            ]
                            for c in near.corrections
                        ],
                    }
                )
    table: dict[str, dict[str, Any]] = {}
    for (condition, corrected, group), row in sorted(rows.items()):
        for k in ("recall", "grader"):
            n, d = row[k]
            row[k] = {"heard": n, "of": d, "rate": round(n / d, 4) if d else None}
        table.setdefault(f"{condition}+{corrected}", {})[group] = row
    return {"table": table, "corrections": samples, "false_negations": negations}


def towards(
    corrector: TermCorrector, raw: str, words: Sequence[Word], question: GradingQuestion
) -> CorrectedTranscript:
    """``raw`` corrected as if it answered ``question``."""
    return corrector.correct(
        raw,
        [f for k in question.keywords for f in k.forms],
        vocabulary=(question.text, question.model_answer),
        words=words,
    )


def misses(items: list[Item], corrector: TermCorrector, condition: str) -> list[dict[str, Any]]:
    scorer = Scorer()
    out = []
    for item in items:
        if item.kind != "terms" or condition not in item.results:
            continue
        q = item.question.grading
        raw = item.results[condition]["text"]
        fixed = corrector.correct(
            raw,
            [f for k in q.keywords for f in k.forms],
            vocabulary=(q.text, q.model_answer),
            words=heard_words(item.results[condition]),
        ).text
        lost = [f for i, f in item.spoken if not scorer.contains(fixed, q.keywords[i])]
        if lost:
            out.append({"item": item.name, "said": item.text, "heard": raw, "corrected": fixed,
                        "missed": lost})  # fmt: skip
    return out


async def run(args: argparse.Namespace) -> dict[str, Any]:
    provenance = Run("terms")
    items = build_set(args.voices, args.quick)
    pool = InferencePool()
    try:
        settings = Settings(
            environment="test",
            data_dir=Path(tempfile.mkdtemp(prefix="terms-")),
            whisper_beam_size=DECODINGS[args.decoding].beam_size,
        )
        engine = WhisperSpeechToText.from_settings(settings, pool=pool)
        stt = VariantSpeechToText(
            engine.model, pool, beam_size=engine.beam_size, num_workers=engine.num_workers
        )
        stt.decoding = DECODINGS[args.decoding]
        stt.suppress_blank = stt.decoding.suppress_blank
        cache = Cache(args.cache)
        await decode_all(items, stt, CandidateVoices(), cache, args.conditions, args.decoding)
        cpu = (
            await cpu_per_decode(items, stt, cache, args.conditions, args.cpu_sample)
            if args.cpu_sample
            else None
        )
    finally:
        pool.close()
    corrector = TermCorrector(EspeakPhonetics())
    evaluated = evaluate(items, corrector)
    return {
        **provenance.header(),
        "model": "whisper tiny.en int8",
        "decoding": {"name": args.decoding, **dataclasses.asdict(DECODINGS[args.decoding])},
        "cpu": cpu,
        "quick": args.quick,
        "voices": args.voices,
        "items": {
            kind: sum(i.kind == kind for i in items) for kind in ("terms", "answers", "real")
        },
        "table": evaluated["table"],
        "misses": misses(items, corrector, "biased"),
        "corrections": evaluated["corrections"],
        "false_negations": evaluated["false_negations"],
    }


def print_table(result: dict[str, Any]) -> None:
    print(
        f"\ncommit {result['commit']}, load average {result['load_average_before']} → "
        f"{result['load_average_after']}, {result['wall_seconds']} s wall, items {result['items']}"
    )
    header = (
        f"{'condition':<22}{'group':<12}{'recall':>16}{'grader':>16}{'false neg':>10}"
        f"{'corr':>6}{'false own':>10}{'false foreign':>14}{'false near':>11}{'inserted':>9}"
    )
    print("\n" + header)
    for condition, groups in result["table"].items():
        for group, row in groups.items():
            r, g = row["recall"], row["grader"]
            print(
                f"{condition:<22}{group:<12}"
                f"{r['heard']:>6}/{r['of']:<4} {100 * (r['rate'] or 0):5.1f}%"
                f"{g['heard']:>6}/{g['of']:<4} {100 * (g['rate'] or 0):5.1f}%"
                f"{row['false_negations']:>10}{row['corrections']:>6}"
                f"{row['false_corrections_own']:>10}{row['false_corrections_foreign']:>14}"
                f"{row['false_corrections_neighbour']:>11}{row.get('inserted', 0):>9}"
            )
        print()
    for condition, cost in (result.get("cpu") or {}).items():
        print(f"cpu {condition}: {cost}")
    best = result["table"].get("biased+corrected", {}).get("TOTAL")
    if best:
        print(f"goal: key-term recall >= {100 * GOAL:.0f}% (biased+corrected: "
              f"{100 * (best['recall']['rate'] or 0):.1f}%), false negations 0 "
              f"(got {best['false_negations']})")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="every 5th item (and the real ones)")
    parser.add_argument("--voices", nargs="+", default=["piper", "espeak"])
    parser.add_argument(
        "--conditions", nargs="+", choices=CONDITIONS, default=["hotwords", "biased"]
    )
    parser.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "newspeech-bench-terms"
    )
    parser.add_argument("--decoding", choices=DECODINGS, default=PRODUCT)
    parser.add_argument(
        "--cpu-sample", type=int, default=0, help="measure CPU s per decode on this many items"
    )
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    result = asyncio.run(run(args))
    print_table(result)
    out = args.out or RESULTS / ("terms-quick.json" if args.quick else "terms.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
