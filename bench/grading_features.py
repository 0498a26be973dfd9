"""Mark-model feature experiment: do richer features from MiniLM and the keyword grader mark
closer to human examiners than the default's two (keyword fraction, similarity gain)?

    OPENBLAS_NUM_THREADS=1 uv run python -m bench.grading_features   # table + JSON
    ... --cache /tmp/features.npz   # keep the extracted features; a second run only refits

1. **Features.** Every SAF answer (all three splits) and every SemEval-2013 2-way answer
   against each of its question's references is graded once by the keyword grader and read
   once by MiniLM (one forward pass per answer, as in the product), with keywords derived from
   the reference. Besides the hybrid grader's own :data:`~newspeech.grading.hybrid.FEATURES`,
   :func:`extra_features` adds clause-level signals: the model answer's clauses (its
   sentences, long ones as overlapping windows) are its points, and each point's best cosine
   with any clause of the answer is its coverage; the question text's own coverage of the same
   points (what restating the question earns) is subtracted, as the similarity gain does for
   the whole answer. Also the share of points covered above :data:`HIT`, the weakest point,
   the answer's precision (how much of it is about the model answer), the keyword fraction
   the question text itself earns, and the answer's length.
2. **Variants** (:data:`VARIANTS`): each is fitted exactly as ``newspeech.grading.fit`` fits
   the default (ridge on standardised features, quantile-matched calibration on 5-fold
   question-grouped cross-validated scores, full marks from the training model answers'
   median score) on SAF ``training`` only, then scored on SAF's grouped cross-validation,
   ``unseen_answers`` and ``unseen_questions`` (exact, within one, QWK, mean mark), and on
   SemEval 2-way as ``bench.grading`` does (per corpus, the threshold with the best macro-F1
   on training; accuracy and macro-F1 on every test split). The ``shipped`` row scores the
   shipped ``mark_model.json`` on the same features and reproduces ``bench.grading``'s
   numbers; ``default`` is its feature set refitted.
3. **Choice.** A variant would replace the default only if it is at least as good on SAF
   unseen questions' QWK and exact agreement, keeps the mean within 0.5 of the tutors', and
   loses nothing on SemEval; the JSON records every variant's numbers whatever the outcome.
   Measured on 2026-12-07 (docs/grading.md, "Richer features"): none passed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.grading import metrics
from newspeech.grading import GradingQuestion, KeywordGrader
from newspeech.grading import saf as saf_data
from newspeech.grading import semeval as semeval_data
from newspeech.grading.agreement import agreement
from newspeech.grading.embeddings import MiniLMEmbedder
from newspeech.grading.fit import FOLDS, Rows, fit, grouped_folds
from newspeech.grading.guards import strip_instructions
from newspeech.grading.hybrid import FEATURES, GUARDS, feature_values
from newspeech.grading.marks import MarkModel
from newspeech.grading.semantic import SemanticScorer, chunk_spans, chunks
from newspeech.grading.text import Analyser

Matrix = npt.NDArray[np.float64]
RESULTS = Path(__file__).resolve().parent / "results"
HIT = 0.6
"""A model-answer point counts as covered when some clause of the answer is this close."""
EXTRA = (
    "point_coverage_gain",
    "point_hits",
    "weakest_point",
    "precision",
    "keyword_gain",
    "log_words",
)
NAMES = (*FEATURES, *EXTRA)
VARIANTS: dict[str, tuple[str, ...]] = {
    "default": ("keyword", "similarity_gain"),
    "+coverage": ("keyword", "similarity_gain", "coverage"),
    "+point gain": ("keyword", "similarity_gain", "point_coverage_gain"),
    "+point hits": ("keyword", "similarity_gain", "point_hits"),
    "+precision": ("keyword", "similarity_gain", "precision"),
    "+keyword gain": ("keyword_gain", "similarity_gain"),
    "+length": ("keyword", "similarity_gain", "log_words"),
    "+keypoints": ("keyword", "similarity_gain", "keypoint_coverage"),
    "clauses": ("keyword", "similarity_gain", "point_coverage_gain", "point_hits", "precision"),
    "all": NAMES,
}


@dataclasses.dataclass
class Table:
    """One feature row per graded (answer, reference) pair, with what identifies it."""

    x: list[list[float]] = dataclasses.field(default_factory=list)
    keyword: list[float] = dataclasses.field(default_factory=list)
    guarded: list[bool] = dataclasses.field(default_factory=list)
    target: list[float] = dataclasses.field(default_factory=list)
    """SAF: the tutor's share of credit; SemEval: 1.0 correct, 0.0 incorrect."""
    group: list[str] = dataclasses.field(default_factory=list)
    """Question id (SAF) or answer id (SemEval: one row per reference, best one counts)."""
    split: list[str] = dataclasses.field(default_factory=list)

    def arrays(self) -> dict[str, Any]:
        return {
            "x": np.array(self.x, dtype=np.float64),
            "keyword": np.array(self.keyword),
            "guarded": np.array(self.guarded),
            "target": np.array(self.target),
            "group": np.array(self.group),
            "split": np.array(self.split),
        }


class Extractor:
    def __init__(self) -> None:
        self.embedder = MiniLMEmbedder(cache_size=20_000)
        self.scorer = SemanticScorer(self.embedder)
        self.keyword = KeywordGrader()
        self.own: dict[tuple[str, str], tuple[Matrix, float]] = {}

    def question_side(self, question: GradingQuestion) -> tuple[Matrix, Matrix, float]:
        """The model answer's point vectors, the question text's coverage of each point and
        the keyword fraction the question text earns (once per question)."""
        texts = chunks(question.model_answer) or [question.model_answer]
        points = self.embedder.embed(texts).astype(np.float64)
        key = (question.text, question.model_answer)
        if key not in self.own:
            spans = chunk_spans(question.text)
            if spans:
                _, parts = self.embedder.embed_spans(question.text, spans)
                covered = (points @ parts.T).max(axis=1).astype(np.float64)
            else:
                covered = np.zeros(len(points))
            self.own[key] = (covered, self.keyword.grade(question, question.text).fraction)
        covered, restated = self.own[key]
        return points, covered, restated

    def row(self, question: GradingQuestion, answer: str) -> tuple[list[float], float, bool]:
        keyword = self.keyword.grade(question, answer)
        text, _ = strip_instructions(answer)
        signals = self.scorer.signals(question, text)
        values = feature_values(keyword.fraction, signals, text, question)
        values |= extra_features(self, question, text, keyword.fraction)
        guarded = any(r in keyword.review_reasons for r in GUARDS)
        return [values[n] for n in NAMES], keyword.fraction, guarded


def extra_features(
    extractor: Extractor, question: GradingQuestion, text: str, keyword: float
) -> dict[str, float]:
    points, own, restated = extractor.question_side(question)
    spans = chunk_spans(text)
    words = len(text.split())
    if not spans:
        zero = dict.fromkeys(EXTRA, 0.0)
        return zero | {"keyword_gain": keyword - restated}
    _, parts = extractor.embedder.embed_spans(text, spans)
    sims = (points @ parts.T).astype(np.float64)
    best = sims.max(axis=1)
    return {
        "point_coverage_gain": float(np.mean(best - own)),
        "point_hits": float(np.mean(best >= HIT)),
        "weakest_point": float(best.min()),
        "precision": float(sims.max(axis=0).mean()),
        "keyword_gain": keyword - restated,
        "log_words": float(np.log1p(words)),
    }


def saf_rows(extractor: Extractor, table: Table) -> None:
    analyser = Analyser()
    for split in saf_data.SPLITS:
        for question in saf_data.load_split(split):
            grading = question.grading_question(analyser)
            for answer in question.answers:
                x, keyword, guarded = extractor.row(grading, answer.text)
                table.x.append(x)
                table.keyword.append(keyword)
                table.guarded.append(guarded)
                table.target.append(answer.fraction)
                table.group.append(question.id)
                table.split.append(split)


def semeval_questions() -> Iterator[tuple[str, str, semeval_data.SemEvalQuestion]]:
    for corpus, splits in semeval_data.SPLITS.items():
        for split in splits:
            for question in semeval_data.load_split(corpus, split):
                yield corpus, split, question


def semeval_rows(extractor: Extractor, table: Table) -> None:
    analyser = Analyser()
    for corpus, split, question in semeval_questions():
        references = semeval_data.grading_questions(question, analyser)
        for answer in question.answers:
            for reference in references:
                x, keyword, guarded = extractor.row(reference, answer.text)
                table.x.append(x)
                table.keyword.append(keyword)
                table.guarded.append(guarded)
                table.target.append(1.0 if answer.correct else 0.0)
                table.group.append(f"{corpus}/{split}/{question.id}/{answer.id}")
                table.split.append(f"{corpus}/{split}")


def extract(cache: Path | None) -> tuple[dict[str, Any], dict[str, Any]]:
    if cache is not None and cache.exists():
        data = np.load(cache)
        return (
            {k[4:]: data[k] for k in data.files if k.startswith("saf_")},
            {k[4:]: data[k] for k in data.files if k.startswith("sem_")},
        )
    extractor = Extractor()
    saf_table, sem_table = Table(), Table()
    start = time.perf_counter()
    saf_rows(extractor, saf_table)
    print(f"SAF features: {len(saf_table.x)} rows in {time.perf_counter() - start:.0f} s")
    semeval_rows(extractor, sem_table)
    print(f"SemEval features: {len(sem_table.x)} rows in {time.perf_counter() - start:.0f} s")
    saf, sem = saf_table.arrays(), sem_table.arrays()
    if cache is not None:
        np.savez_compressed(
            cache,
            **{f"saf_{k}": v for k, v in saf.items()},
            **{f"sem_{k}": v for k, v in sem.items()},
        )
    return saf, sem


def fit_variant(saf: dict[str, Any], anchors: Matrix, names: tuple[str, ...]) -> MarkModel:
    """Fit like ``newspeech.grading.fit`` on SAF training, on the features ``names``;
    ``anchors`` are the training questions' model answers read back (all features)."""
    columns = [NAMES.index(n) for n in names]
    train = saf["split"] == saf_data.TRAINING
    rows = Rows(
        saf["x"][train][:, columns],
        saf["target"][train],
        list(saf["group"][train]),
        anchors[:, columns],
    )
    return fit(rows, names)


def model_anchors(extractor: Extractor) -> Matrix:
    """Each SAF training question's model answer graded against itself (all features)."""
    analyser = Analyser()
    rows = []
    for question in saf_data.load_split(saf_data.TRAINING):
        x, _, _ = extractor.row(question.grading_question(analyser), question.reference)
        rows.append(x)
    return np.array(rows)


def marks(model: MarkModel, table: dict[str, Any], mask: npt.NDArray[np.bool_]) -> Matrix:
    """Whole-point marks out of 10, bounded as the hybrid grader bounds derived keywords."""
    columns = [NAMES.index(n) for n in model.features]
    x = table["x"][mask][:, columns]
    fractions = np.array([model.fraction(dict(zip(model.features, r, strict=True))) for r in x])
    guarded = table["guarded"][mask]
    fractions = np.where(guarded, np.minimum(fractions, table["keyword"][mask]), fractions)
    return np.floor(fractions * 10 + 0.5 + 1e-9)


def cross_validated(
    saf: dict[str, Any], anchors: Matrix, names: tuple[str, ...]
) -> dict[str, float]:
    """SAF training, grouped by question: each fold marked by a fit on the other folds."""
    train = saf["split"] == saf_data.TRAINING
    groups = list(saf["group"][train])
    folds = grouped_folds(groups)
    columns = [NAMES.index(n) for n in names]
    x, y = saf["x"][train][:, columns], saf["target"][train]
    predicted = np.zeros(len(y))
    for fold in range(FOLDS):
        held = folds == fold
        kept = [g for g, h in zip(groups, held, strict=True) if not h]
        rows = Rows(x[~held], y[~held], kept, anchors[:, columns])
        model = fit(rows, names)
        predicted[held] = [model.fraction(dict(zip(names, r, strict=True))) for r in x[held]]
    return agreement(10 * predicted, 10 * y)


def saf_scores(model: MarkModel, saf: dict[str, Any]) -> dict[str, dict[str, float]]:
    out = {}
    for split in (saf_data.UNSEEN_ANSWERS, saf_data.UNSEEN_QUESTIONS):
        mask = saf["split"] == split
        out[split] = agreement(marks(model, saf, mask), 10 * saf["target"][mask])
    return out


def semeval_scores(model: MarkModel, sem: dict[str, Any]) -> dict[str, dict[str, float]]:
    every = np.ones(len(sem["target"]), dtype=bool)
    scores = marks(model, sem, every)
    best: dict[str, float] = {}
    label: dict[str, bool] = {}
    split_of: dict[str, str] = {}
    for score, group, target, split in zip(
        scores, sem["group"], sem["target"], sem["split"], strict=True
    ):
        best[group] = max(best.get(group, 0.0), float(score))
        label[group] = bool(target)
        split_of[group] = str(split)
    out: dict[str, dict[str, float]] = {}
    for corpus, splits in semeval_data.SPLITS.items():
        train = [g for g, s in split_of.items() if s == f"{corpus}/{semeval_data.TRAINING}"]

        def quality(t: int, train: list[str] = train) -> tuple[float, float, int]:
            found = metrics([best[g] >= t for g in train], [label[g] for g in train])
            return found["macro_f1"], found["accuracy"], -t

        threshold = max(range(12), key=quality)
        for split in splits[1:]:
            keys = [g for g, s in split_of.items() if s == f"{corpus}/{split}"]
            found = metrics([best[g] >= threshold for g in keys], [label[g] for g in keys])
            out[f"{corpus}/{split}"] = {"threshold": threshold, **found}
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cache", type=Path, help="keep / reuse extracted features here")
    parser.add_argument("--out", type=Path, default=RESULTS / "grading-features.json")
    args = parser.parse_args(argv)
    saf, sem = extract(args.cache)
    anchor_cache = args.cache.with_suffix(".anchors.npy") if args.cache else None
    if anchor_cache is not None and anchor_cache.exists():
        anchors = np.load(anchor_cache)
    else:
        anchors = model_anchors(Extractor())
        if anchor_cache is not None:
            np.save(anchor_cache, anchors)
    shipped = MarkModel.load()
    results: dict[str, Any] = {
        "shipped": {"saf": saf_scores(shipped, saf), "semeval": semeval_scores(shipped, sem)}
    }
    for name, names in VARIANTS.items():
        model = fit_variant(saf, anchors, names)
        results[name] = {
            "features": list(names),
            "coef": [round(c, 4) for c in model.coef],
            "training_grouped_cv": cross_validated(saf, anchors, names),
            "saf": saf_scores(model, saf),
            "semeval": semeval_scores(model, sem),
        }
    print_table(results)
    load = os.getloadavg()
    args.out.write_text(
        json.dumps(
            {
                "command": "OPENBLAS_NUM_THREADS=1 uv run python -m bench.grading_features",
                "cpus": os.cpu_count(),
                "load_average_at_end": [round(v, 2) for v in load],
                "point_hit_similarity": HIT,
                "variants": results,
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    print(f"\nwrote {args.out} (load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f})")


def print_table(results: dict[str, Any]) -> None:
    uq, ua = saf_data.UNSEEN_QUESTIONS, saf_data.UNSEEN_ANSWERS
    print(
        f"{'variant':<15} {'cv QWK':>6} {'cv ex':>6} | {'UQ QWK':>6} {'exact':>6} {'+-1':>6} "
        f"{'mean':>5} | {'UA QWK':>6} {'exact':>6} {'mean':>5} | SemEval acc (b-UA b-UQ "
        "s-UA s-UQ s-UD) mean"
    )
    for name, r in results.items():
        cv = r.get("training_grouped_cv", {"qwk": float("nan"), "exact": float("nan")})
        q, a = r["saf"][uq], r["saf"][ua]
        accs = [v["accuracy"] for v in r["semeval"].values()]
        print(
            f"{name:<15} {cv['qwk']:>6.3f} {cv['exact']:>6.3f} | {q['qwk']:>6.3f} "
            f"{q['exact']:>6.3f} {q['within_one']:>6.3f} {q['mean_mark']:>5.2f} | "
            f"{a['qwk']:>6.3f} {a['exact']:>6.3f} {a['mean_mark']:>5.2f} | "
            + " ".join(f"{v:.3f}" for v in accs)
            + f" {statistics.fmean(accs):.3f}"
        )


if __name__ == "__main__":
    main()
