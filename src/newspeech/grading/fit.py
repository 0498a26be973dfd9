"""Fit the hybrid grader's weights on the SemEval-2013 training split, and store them as data.

    uv run python -m newspeech.grading.fit                 # writes grading/hybrid_weights.json
    uv run python -m newspeech.grading.fit --data DIR --out FILE

Only the ``training`` split of both corpora (Beetle, SciEntsBank) is read; the test splits are
for ``bench.grading``. For every student answer the features of :mod:`newspeech.grading.hybrid`
are computed against each reference answer (keywords derived as in
:mod:`newspeech.grading.semeval`) and the element-wise maximum is kept, since Beetle's references
are alternatives and graders score an answer by its best reference.

The model is an L2-regularised logistic regression on standardised features, fitted by Newton's
method in numpy. Its decision threshold is the probability with the best training macro-F1; the
stored ``offset`` moves that threshold onto the default correct line (fraction 0.6). Reported
metrics: in-sample, and 5-fold cross-validation grouped by question (no question in both the
folds that fit and the fold that is scored).
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from newspeech.grading.embeddings import MiniLMEmbedder
from newspeech.grading.hybrid import FEATURES, WEIGHTS_FILE, feature_vector
from newspeech.grading.keyword import KeywordGrader
from newspeech.grading.semantic import SemanticScorer
from newspeech.grading.semeval import DATA, SPLITS, TRAINING, grading_questions, load_split
from newspeech.grading.text import Analyser

Matrix = npt.NDArray[np.float64]
CORRECT_LINE = 0.6
L2 = 1.0
FOLDS = 5


@dataclass(frozen=True)
class Rows:
    x: Matrix
    y: npt.NDArray[np.bool_]
    groups: list[str]
    """The question each row answers (for grouped cross-validation)."""


def feature_rows(root: Path, corpus: str, split: str, scorer: SemanticScorer) -> Rows:
    """One row per student answer: the element-wise best features over the references."""
    analyser = Analyser()
    keyword = KeywordGrader()
    xs: list[list[float]] = []
    ys: list[bool] = []
    groups: list[str] = []
    for question in load_split(corpus, split, root):
        references = grading_questions(question, analyser)
        for answer in question.answers:
            per_reference = []
            for reference in references:
                grade = keyword.grade(reference, answer.text)
                signals = scorer.signals(reference, answer.text)
                per_reference.append(
                    feature_vector(grade.fraction, signals, answer.text, reference.model_answer)
                )
            xs.append(list(np.max(np.array(per_reference), axis=0)))
            ys.append(answer.correct)
            groups.append(f"{corpus}/{question.id}")
    return Rows(np.array(xs, dtype=np.float64), np.array(ys), groups)


def fit_logistic(x: Matrix, y: npt.NDArray[np.bool_], l2: float = L2) -> tuple[Matrix, float]:
    """Coefficients and intercept of an L2-regularised logistic regression (Newton's method).
    The intercept is not penalised."""
    design = np.hstack([x, np.ones((len(x), 1))])
    target = y.astype(np.float64)
    beta = np.zeros(design.shape[1])
    penalty = np.full(design.shape[1], l2)
    penalty[-1] = 0.0
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-(design @ beta)))
        gradient = design.T @ (p - target) + penalty * beta
        hessian = (design * (p * (1 - p))[:, None]).T @ design + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if np.abs(step).max() < 1e-8:
            break
    return beta[:-1], float(beta[-1])


def metrics(predicted: npt.NDArray[np.bool_], labels: npt.NDArray[np.bool_]) -> dict[str, float]:
    accuracy = float((predicted == labels).mean())
    f1s = []
    for positive in (True, False):
        tp = int(((predicted == positive) & (labels == positive)).sum())
        fp = int(((predicted == positive) & (labels != positive)).sum())
        fn = int(((predicted != positive) & (labels == positive)).sum())
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return {"accuracy": round(accuracy, 4), "macro_f1": round(float(np.mean(f1s)), 4)}


def best_threshold(p: Matrix, y: npt.NDArray[np.bool_]) -> float:
    """The probability threshold (0.05 steps) with the best macro-F1, then accuracy."""
    grid = np.round(np.arange(0.1, 0.91, 0.05), 2)
    return float(
        max(
            grid,
            key=lambda t: (metrics(p >= t, y)["macro_f1"], metrics(p >= t, y)["accuracy"]),
        )
    )


@dataclass(frozen=True)
class Fitted:
    mean: Matrix
    scale: Matrix
    coef: Matrix
    intercept: float
    threshold: float

    def probability(self, x: Matrix) -> Matrix:
        z = ((x - self.mean) / self.scale) @ self.coef + self.intercept
        result: Matrix = 1.0 / (1.0 + np.exp(-z))
        return result


def fit(rows: Rows) -> Fitted:
    mean = rows.x.mean(axis=0)
    scale = rows.x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    coef, intercept = fit_logistic((rows.x - mean) / scale, rows.y)
    partial = Fitted(mean, scale, coef, intercept, 0.5)
    threshold = best_threshold(partial.probability(rows.x), rows.y)
    return Fitted(mean, scale, coef, intercept, threshold)


def cross_validate(rows: Rows, folds: int = FOLDS) -> dict[str, float]:
    questions = sorted(set(rows.groups))
    rng = np.random.default_rng(2013)
    order = rng.permutation(len(questions))
    fold_of = {questions[i]: n % folds for n, i in enumerate(order)}
    assigned = np.array([fold_of[g] for g in rows.groups])
    predicted = np.zeros(len(rows.y), dtype=bool)
    for fold in range(folds):
        train, test = assigned != fold, assigned == fold
        model = fit(Rows(rows.x[train], rows.y[train], []))
        predicted[test] = model.probability(rows.x[test]) >= model.threshold
    return metrics(predicted, rows.y)


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def weights_document(rows: Rows, model: Fitted, data: Path) -> dict[str, Any]:
    offset = _logit(CORRECT_LINE) - _logit(model.threshold)
    return {
        "features": list(FEATURES),
        "mean": [round(float(v), 6) for v in model.mean],
        "scale": [round(float(v), 6) for v in model.scale],
        "coef": [round(float(v), 6) for v in model.coef],
        "intercept": round(model.intercept, 6),
        "offset": round(offset, 6),
        "provenance": {
            "data": f"SemEval-2013 Task 7 2-way, training split of {', '.join(SPLITS)} "
            f"({data.name}; see SOURCE.txt there)",
            "answers": len(rows.y),
            "correct": int(rows.y.sum()),
            "date": datetime.now(UTC).strftime("%Y-%m-%d"),
            "command": "uv run python -m newspeech.grading.fit",
            "code_commit": _commit(),
            "model": "L2 logistic regression (l2=1.0) on standardised features, Newton's method",
            "decision_probability": model.threshold,
            "training_in_sample": metrics(model.probability(rows.x) >= model.threshold, rows.y),
            "training_grouped_cv": cross_validate(rows),
        },
    }


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA, help="SemEval-2013 2-way folder")
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).with_name(WEIGHTS_FILE), help="weights file"
    )
    args = parser.parse_args(argv)
    scorer = SemanticScorer(MiniLMEmbedder(cache_size=50_000))
    parts = [feature_rows(args.data, corpus, TRAINING, scorer) for corpus in SPLITS]
    rows = Rows(
        np.vstack([p.x for p in parts]),
        np.concatenate([p.y for p in parts]),
        [g for p in parts for g in p.groups],
    )
    model = fit(rows)
    document = weights_document(rows, model, args.data)
    args.out.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    sys.stdout.write(json.dumps(document["provenance"], indent=2) + f"\nwrote {args.out}\n")


if __name__ == "__main__":
    main()
