"""The hybrid grader as it was before the mark model, kept as the benchmark's "hybrid (old)" row.

A logistic regression over the seven hybrid features, fitted on SemEval-2013's 2-way training
split (``bench/hybrid_2way_weights.json``, with its provenance; fitted by the ``fit`` module of
commit 864ea39), whose probability of "correct" was stretched to 0-10
(``fraction = sigmoid(z + offset)``), then bounded by the keyword evidence: capped at the
keyword fraction when a guard fired, denied concepts were found or the keyword fraction was
at most 0.3, and floored at the keyword fraction minus 0.1.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from newspeech.grading import Grade, GradingQuestion
from newspeech.grading.embeddings import Embedder
from newspeech.grading.hybrid import FEATURES, GUARDS, HybridGrader

WEIGHTS = Path(__file__).with_name("hybrid_2way_weights.json")
OLD_PARTIAL = 0.3
FLOOR_MARGIN = 0.1


class TwoWayLogistic:
    """The old weights, answering :meth:`fraction` like a mark model."""

    def __init__(self, path: Path = WEIGHTS) -> None:
        data = json.loads(path.read_text(encoding="utf-8"))
        self.features = tuple(data["features"])
        if not set(self.features) <= set(FEATURES):
            raise ValueError(f"{path}: features {data['features']} are not among {FEATURES}")
        self.mean = np.asarray(data["mean"])
        self.scale = np.asarray(data["scale"])
        self.coef = np.asarray(data["coef"])
        self.intercept = float(data["intercept"])
        self.offset = float(data["offset"])
        self.provenance: dict[str, Any] = data["provenance"]

    def fraction(self, values: dict[str, float]) -> float:
        x = np.array([values[name] for name in self.features])
        z = float(((x - self.mean) / self.scale) @ self.coef + self.intercept) + self.offset
        return 1.0 / (1.0 + math.exp(-z)) if z > -500 else 0.0


class TwoWayHybridGrader(HybridGrader):
    """The old default: stretched 2-way probability, bounded by keywords as it was."""

    def __init__(self, embedder: Embedder) -> None:
        super().__init__(embedder)
        self.model = TwoWayLogistic()  # type: ignore[assignment]

    def bound(self, fraction: float, keyword: Grade, question: GradingQuestion) -> float:
        guarded = any(r in keyword.review_reasons for r in GUARDS) or keyword.details.get("denied")
        if guarded or keyword.fraction <= OLD_PARTIAL + 1e-9:
            fraction = min(fraction, keyword.fraction)
        return max(fraction, keyword.fraction - FLOOR_MARGIN)
