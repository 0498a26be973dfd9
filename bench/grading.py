"""Grading benchmark: seed baseline, keyword, semantic alone, the old hybrid grader and the
default (hybrid with the mark model), and an LLM when a server is given.

    uv run python -m bench.grading          # tables + bench/results/grading.json
    uv run python -m bench.grading --limit 20   # first 20 questions per split (a quick look)
    uv run python -m bench.grading --sections saf   # only the 0-10 table on SAF
    uv run python -m bench.grading --llm-url http://gpu:8000/v1 --llm-model NAME  # + LLM rows

0. SAF (``newspeech.grading.saf``): marks on the 0-10 scale against the tutors' (normalised by
   each question's maximum points), on ``unseen_answers`` (new answers to the training
   questions) and ``unseen_questions`` (questions the fit never saw). Keywords are derived
   from the reference answer, as for an imported question without keywords. Pearson r,
   quadratic weighted kappa, exact and within-one agreement, RMSE, mean mark against the
   humans' (:mod:`newspeech.grading.agreement`). The mark model was fitted on SAF's
   ``training`` split only.
1. SemEval-2013 Task 7, 2-way (``newspeech.grading.semeval``): keywords derived from each
   reference answer, every student answer graded by every grader (best score over the
   question's references). The hybrid grader's weights were fitted on the training split only
   (``python -m newspeech.grading.fit``); test splits are never seen by the fit.
   A score threshold (``score >= t`` means correct) is chosen per corpus and grader on the
   training split only, by macro-F1; accuracy and macro-F1 are reported on every test split,
   with the majority class of training as a floor. ``@6`` columns use the product's own band
   (score >= 6 is "correct", the default ``keyword_matching_threshold``), no tuning at all.
   Latency is per ``grade()`` call, with the compiled-question cache warm after each
   question's first answer, as in an exam.
2. Latency on the banks' own model answers (longer than SemEval's), cold and warm cache.
3. The gaming suite (tests/grading/gaming_cases.yaml) through both graders: a gaming case is
   "won" by the answer when the grader scores it above the case's cap; an honest case is
   missed when the grader scores it below its floor. The suite was written alongside the
   keyword grader, so it is a regression check, not an independent evaluation.

Latency: mean, p95 and p99 per ``grade()`` call on one CPU core's share of this machine (2 cores
shared with other work: see the load average printed with the results).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.grading.cases import bank_questions, load_cases

from bench._hybrid_2way import TwoWayHybridGrader
from bench._semeval import SPLITS, TRAINING, grading_questions, load_split
from newspeech import __version__
from newspeech.grading import Grade, Grader, GradingQuestion, KeywordGrader, SeedKeywordGrader
from newspeech.grading import saf as saf_data
from newspeech.grading.agreement import agreement
from newspeech.grading.embeddings import MiniLMEmbedder
from newspeech.grading.hybrid import HybridGrader
from newspeech.grading.llm import LLMGrader
from newspeech.grading.semantic import SemanticGrader
from newspeech.grading.text import Analyser
from newspeech.llm import OpenAIChatClient

RESULTS = Path(__file__).resolve().parent / "results"
THRESHOLDS = range(0, 12)
"""Candidate score thresholds: 0 calls everything correct, 11 nothing."""


@dataclass(frozen=True)
class Scored:
    scores: list[int]
    labels: list[bool]
    latencies_ms: list[float]


def score_split(grader: Grader, corpus: str, split: str, limit: int | None) -> Scored:
    analyser = Analyser()
    scores: list[int] = []
    labels: list[bool] = []
    latencies: list[float] = []
    for question in load_split(corpus, split)[:limit]:
        references = grading_questions(question, analyser)
        for answer in question.answers:
            best = 0
            for reference in references:
                start = time.perf_counter()
                grade = grader.grade(reference, answer.text)
                latencies.append((time.perf_counter() - start) * 1000)
                best = max(best, grade.score)
            scores.append(best)
            labels.append(answer.correct)
    return Scored(scores, labels, latencies)


def metrics(predicted: Sequence[bool], labels: Sequence[bool]) -> dict[str, float]:
    """Accuracy and macro-F1 (mean of the F1 of "correct" and of "incorrect")."""
    pairs = list(zip(predicted, labels, strict=True))
    accuracy = sum(p == y for p, y in pairs) / len(pairs)
    f1s = []
    for positive in (True, False):
        tp = sum(p == positive and y == positive for p, y in pairs)
        fp = sum(p == positive and y != positive for p, y in pairs)
        fn = sum(p != positive and y == positive for p, y in pairs)
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return {"accuracy": accuracy, "macro_f1": statistics.fmean(f1s)}


def choose_threshold(scored: Scored) -> int:
    """The training threshold with the best macro-F1 (then accuracy, then the lower one)."""

    def quality(t: int) -> tuple[float, float, int]:
        found = metrics([s >= t for s in scored.scores], scored.labels)
        return found["macro_f1"], found["accuracy"], -t

    return max(THRESHOLDS, key=quality)


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def p99(values: Sequence[float]) -> float:
    return percentile(values, 0.99)


class PreparedHybrid(HybridGrader):
    """The hybrid grader as the exam uses it: the question's side is embedded when the
    question is asked (while it is spoken), so grading the answer does not wait for it."""

    def grade(
        self, question: GradingQuestion, answer: str, *, asr_confidence: float | None = None
    ) -> Grade:
        self.prepare(question)
        start = time.perf_counter()
        grade = super().grade(question, answer, asr_confidence=asr_confidence)
        self.graded_ms = (time.perf_counter() - start) * 1000
        return grade


class BlockingLLM:
    """An :class:`LLMGrader` called synchronously, on one event loop kept for the whole run."""

    def __init__(self, grader: LLMGrader, loop: asyncio.AbstractEventLoop) -> None:
        self.inner = grader
        self.evaluator = grader.evaluator
        self.loop = loop

    def grade(
        self, question: GradingQuestion, answer: str, *, asr_confidence: float | None = None
    ) -> Grade:
        return self.loop.run_until_complete(
            self.inner.grade_async(question, answer, asr_confidence=asr_confidence)
        )


def saf(
    graders: dict[str, Grader], limit: int | None, answer_limit: int | None = None
) -> list[dict[str, Any]]:
    """The 0-10 table: every grader's marks against the tutors' on SAF's two test splits."""
    analyser = Analyser()
    rows: list[dict[str, Any]] = []
    for split in (saf_data.UNSEEN_ANSWERS, saf_data.UNSEEN_QUESTIONS):
        questions = saf_data.load_split(split)[:limit]
        for name, grader in graders.items():
            marks: list[float] = []
            humans: list[float] = []
            latencies: list[float] = []
            for question in questions:
                grading = question.grading_question(analyser)
                prepare = getattr(grader, "prepare", None)
                if prepare is not None:
                    prepare(grading)  # the exam embeds the question while it is asked
                for answer in question.answers[:answer_limit]:
                    start = time.perf_counter()
                    grade = grader.grade(grading, answer.text)
                    latencies.append((time.perf_counter() - start) * 1000)
                    marks.append(10 * grade.score / grade.max_score)
                    humans.append(answer.mark)
            rows.append(
                {
                    "split": split,
                    "grader": name,
                    **agreement(marks, humans),
                    "latency_mean_ms": statistics.fmean(latencies),
                    "latency_p95_ms": percentile(latencies, 0.95),
                }
            )
    return rows


def semeval(graders: dict[str, Grader], limit: int | None) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for corpus, splits in SPLITS.items():
        for name, grader in graders.items():
            training = score_split(grader, corpus, TRAINING, limit)
            threshold = choose_threshold(training)
            majority = sum(training.labels) * 2 >= len(training.labels)
            for split in splits[1:]:
                scored = score_split(grader, corpus, split, limit)
                rows.append(
                    {
                        "corpus": corpus,
                        "split": split,
                        "grader": name,
                        "threshold": threshold,
                        "answers": len(scored.labels),
                        **metrics([s >= threshold for s in scored.scores], scored.labels),
                        "at_product_band": metrics([s >= 6 for s in scored.scores], scored.labels),
                        "majority": metrics([majority] * len(scored.labels), scored.labels),
                        "latency_mean_ms": statistics.fmean(scored.latencies_ms),
                        "latency_p95_ms": percentile(scored.latencies_ms, 0.95),
                        "latency_p99_ms": p99(scored.latencies_ms),
                    }
                )
    return rows


def gaming(graders: dict[str, Grader]) -> dict[str, dict[str, Any]]:
    cases = load_cases()
    outcome: dict[str, dict[str, Any]] = {}
    for name, grader in graders.items():
        wins: list[dict[str, Any]] = []
        misses: list[dict[str, Any]] = []
        for case in cases:
            score = grader.grade(case.grading_question(), case.transcript).score
            if not case.acceptable(score):
                (misses if case.honest else wins).append({"case": case.id, "score": score})
        honest = sum(case.honest for case in cases)
        outcome[name] = {
            "gaming_cases": len(cases) - honest,
            "honest_cases": honest,
            "gaming_wins": wins,
            "honest_misses": misses,
        }
    return outcome


def bank_latency(graders: dict[str, Grader]) -> dict[str, dict[str, float]]:
    """Grading the banks' 72 model answers (long, dense spoken answers): the first call per
    question compiles and embeds the question (cold), later calls hit the question caches
    (warm). Each run says the answer with a different opening, so the answer itself is never
    cached: every call embeds a new transcript, as in an exam."""
    questions = list(bank_questions().values())
    timings: dict[str, dict[str, float]] = {}
    for name, grader in graders.items():
        runs: list[list[float]] = []
        for opening in ("", "I think ", "Well, so "):
            run = []
            for question in questions:
                start = time.perf_counter()
                grader.grade(question, opening + question.model_answer)
                elapsed = (time.perf_counter() - start) * 1000
                # A prepared grader times only the grading, not the preparation.
                run.append(getattr(grader, "graded_ms", elapsed))
            runs.append(run)
        warm = runs[1] + runs[2]
        timings[name] = {
            "cold_mean_ms": statistics.fmean(runs[0]),
            "cold_p99_ms": p99(runs[0]),
            "warm_mean_ms": statistics.fmean(warm),
            "warm_p95_ms": percentile(warm, 0.95),
            "warm_p99_ms": p99(warm),
        }
    return timings


def print_saf(rows: list[dict[str, Any]]) -> None:
    print(
        f"{'SAF split':<18} {'grader':<12} {'n':>4} {'r':>6} {'QWK':>6} {'exact':>6} "
        f"{'+-1':>6} {'RMSE':>5} {'mean':>5} {'human':>5} {'p95 ms':>7}"
    )
    for r in rows:
        print(
            f"{r['split']:<18} {r['grader']:<12} {r['answers']:>4} {r['pearson_r']:>6.3f} "
            f"{r['qwk']:>6.3f} {r['exact']:>6.3f} {r['within_one']:>6.3f} {r['rmse']:>5.2f} "
            f"{r['mean_mark']:>5.2f} {r['human_mean_mark']:>5.2f} {r['latency_p95_ms']:>7.2f}"
        )
    print()


def print_tables(
    rows: list[dict[str, Any]],
    games: dict[str, dict[str, Any]],
    bank: dict[str, dict[str, float]],
) -> None:
    print(
        f"{'corpus':<12} {'split':<22} {'grader':<10} {'t':>3} {'acc':>6} {'mF1':>6} "
        f"{'acc@6':>6} {'mF1@6':>6} {'major.':>6} {'mean ms':>8} {'p95 ms':>7}"
    )
    for r in rows:
        print(
            f"{r['corpus']:<12} {r['split']:<22} {r['grader']:<10} {r['threshold']:>3} "
            f"{r['accuracy']:>6.3f} {r['macro_f1']:>6.3f} "
            f"{r['at_product_band']['accuracy']:>6.3f} {r['at_product_band']['macro_f1']:>6.3f} "
            f"{r['majority']['accuracy']:>6.3f} "
            f"{r['latency_mean_ms']:>8.3f} {r['latency_p95_ms']:>7.3f}"
        )
    print()
    for name, t in bank.items():
        print(
            f"bank model answers, {name}: cold (first answer per question) mean "
            f"{t['cold_mean_ms']:.2f} ms, p99 {t['cold_p99_ms']:.2f} ms; warm mean "
            f"{t['warm_mean_ms']:.2f} ms, p95 {t['warm_p95_ms']:.2f} ms"
        )
    print()
    for name, g in games.items():
        wins = ", ".join(w["case"] for w in g["gaming_wins"]) or "none"
        misses = ", ".join(m["case"] for m in g["honest_misses"]) or "none"
        print(
            f"gaming suite, {name}: {len(g['gaming_wins'])}/{g['gaming_cases']} gaming cases "
            f"scored above their cap ({wins}); {len(g['honest_misses'])}/{g['honest_cases']} "
            f"honest cases below their floor ({misses})"
        )


SECTIONS = ("saf", "semeval", "gaming", "latency")


def build_graders(args: argparse.Namespace, loop: asyncio.AbstractEventLoop) -> dict[str, Grader]:
    # One embedder for all: the default goes first, so it embeds each answer itself and its
    # latencies are real; the semantic grader and the old hybrid then hit the cache (their
    # latencies are not reported). The latency section uses fresh embedders.
    shared = MiniLMEmbedder(cache_size=100_000)
    graders: dict[str, Grader] = {
        "seed": SeedKeywordGrader(),
        "keyword": KeywordGrader(),
        "hybrid": HybridGrader(shared),
        "semantic": SemanticGrader(shared),
        "hybrid-old": TwoWayHybridGrader(shared),
    }
    if args.llm_url:
        client = OpenAIChatClient(args.llm_url, model=args.llm_model, api_key=args.llm_key)
        graders["llm"] = BlockingLLM(LLMGrader(client, graders["hybrid"]), loop)
    if args.only:
        graders = {name: g for name, g in graders.items() if name in args.only}
    return graders


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="questions per split")
    parser.add_argument("--llm-url", help="OpenAI-compatible server: adds LLM rows")
    parser.add_argument("--llm-model", default="gpt-4o-mini")
    parser.add_argument("--llm-key", default=os.environ.get("NEWSPEECH_LLM_API_KEY"))
    parser.add_argument("--only", nargs="*", help="grader names to run (default: all)")
    parser.add_argument("--answers", type=int, default=None, help="SAF answers per question")
    parser.add_argument("--sections", nargs="*", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--out", type=Path, default=RESULTS / "grading.json")
    args = parser.parse_args(argv)
    loop = asyncio.new_event_loop()
    graders = build_graders(args, loop)
    saf_rows = saf(graders, args.limit, args.answers) if "saf" in args.sections else []
    print_saf(saf_rows)
    rows = semeval(graders, args.limit) if "semeval" in args.sections else []
    games = gaming(graders) if "gaming" in args.sections else {}
    bank: dict[str, dict[str, float]] = {}
    if "latency" in args.sections:
        fresh: dict[str, Grader] = {"seed": SeedKeywordGrader(), "keyword": KeywordGrader()}
        fresh["semantic"] = SemanticGrader(MiniLMEmbedder())
        fresh["hybrid"] = HybridGrader(MiniLMEmbedder())
        fresh["hybrid, question prepared"] = PreparedHybrid(MiniLMEmbedder())
        bank = bank_latency(fresh)
    print_tables(rows, games, bank)
    llm = graders.get("llm")
    if isinstance(llm, BlockingLLM):
        loop.run_until_complete(llm.inner.client.aclose())
    loop.close()
    write_results(args, graders, saf_rows, rows, games, bank)


def write_results(
    args: argparse.Namespace,
    graders: dict[str, Grader],
    saf_rows: list[dict[str, Any]],
    rows: list[dict[str, Any]],
    games: dict[str, dict[str, Any]],
    bank: dict[str, dict[str, float]],
) -> None:
    load = os.getloadavg()
    args.out.parent.mkdir(exist_ok=True)
    default = graders.get("hybrid")
    args.out.write_text(
        json.dumps(
            {
                "version": __version__,
                "python": platform.python_version(),
                "machine": platform.machine(),
                "limit": args.limit,
                "sections": args.sections,
                "cpus": os.cpu_count(),
                "load_average_at_end": [round(v, 2) for v in load],
                "command": "uv run python -m bench.grading",
                "mark_model": default.model.provenance
                if isinstance(default, HybridGrader)
                else None,
                "saf": saf_rows,
                "semeval": rows,
                "gaming": games,
                "bank_latency": bank,
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
