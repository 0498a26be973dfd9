"""Agreement between marks on the 0-10 scale: a grader's against human examiners'.

Used by the mark model's fit (:mod:`newspeech.grading.fit`) and by ``bench.grading``.
Marks are whole points: the grader's and the humans' (SAF has quarter and eighth points) are
rounded half up before the categorical measures (kappa, exact, within one); Pearson r and
RMSE compare the grader's whole points with the humans' unrounded marks.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

SCALE = 10


def whole_points(marks: Sequence[float] | np.ndarray) -> np.ndarray:
    """Half up, as the graders round: 7.5 -> 8."""
    return np.clip(np.floor(np.asarray(marks, dtype=np.float64) + 0.5 + 1e-9), 0, SCALE).astype(int)


def quadratic_weighted_kappa(a: np.ndarray, b: np.ndarray, categories: int = SCALE + 1) -> float:
    """Cohen's kappa with quadratic weights over whole-point marks ``0..categories-1``."""
    observed = np.zeros((categories, categories))
    np.add.at(observed, (a, b), 1.0)
    grid = np.arange(categories)
    weights = (grid[:, None] - grid[None, :]) ** 2 / (categories - 1) ** 2
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / observed.sum()
    denominator = float((weights * expected).sum())
    return 1.0 - float((weights * observed).sum()) / denominator if denominator else 0.0


def agreement(
    predicted: Sequence[float] | np.ndarray, human: Sequence[float] | np.ndarray
) -> dict[str, float]:
    """Pearson r, quadratic weighted kappa, exact and within-one agreement, RMSE, the mean
    mark and the humans' mean mark, for marks on the 0-10 scale."""
    grader = whole_points(predicted)
    raw = np.asarray(human, dtype=np.float64)
    humans = whole_points(raw)
    spread = grader.std() > 0 and raw.std() > 0
    return {
        "answers": len(raw),
        "pearson_r": round(float(np.corrcoef(grader, raw)[0, 1]) if spread else 0.0, 4),
        "qwk": round(quadratic_weighted_kappa(grader, humans), 4),
        "exact": round(float(np.mean(grader == humans)), 4),
        "within_one": round(float(np.mean(np.abs(grader - humans) <= 1)), 4),
        "rmse": round(float(np.sqrt(np.mean((grader - raw) ** 2))), 4),
        "mean_mark": round(float(grader.mean()), 4),
        "human_mean_mark": round(float(raw.mean()), 4),
    }
