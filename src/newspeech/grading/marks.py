"""The mark model: from the keyword and semantic signals to the mark a human examiner gives.

A linear model (ridge regression) of the share of credit (the 0-10 mark over 10) on a few of
the hybrid grader's features, then a monotone calibration table that maps its output onto the
marks human examiners give. Both are data (``mark_model.json`` beside this module, with the
data, date, command and metrics they came from), fitted on the SAF training split only by
``uv run python -m newspeech.grading.fit`` (see :mod:`newspeech.grading.fit` for how).

The calibration is a piecewise-linear table (``np.interp`` over its knots), non-decreasing,
so more evidence never lowers the mark, and clipped to 0..1.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from newspeech.errors import ConfigurationError

MODEL_FILE = "mark_model.json"


@dataclass(frozen=True)
class MarkModel:
    """A fitted linear score over standardised features, and its calibration to marks."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    knots: tuple[float, ...]
    """Linear scores at which :attr:`marks` are given (increasing)."""
    marks: tuple[float, ...]
    """Share of credit (0..1) at each knot (non-decreasing)."""
    provenance: dict[str, Any]

    def __post_init__(self) -> None:
        sizes = {len(self.features), len(self.mean), len(self.scale), len(self.coef)}
        if len(sizes) != 1 or not self.features:
            raise ConfigurationError("mark model: features, mean, scale and coef differ in size")
        if len(self.knots) != len(self.marks) or len(self.knots) < 2:
            raise ConfigurationError("mark model: calibration needs as many marks as knots (>=2)")
        if np.any(np.diff(self.knots) < 0) or np.any(np.diff(self.marks) < -1e-12):
            raise ConfigurationError("mark model: calibration must be non-decreasing")

    def score(self, values: Mapping[str, float]) -> float:
        """The linear score of named feature ``values`` (every one of :attr:`features`)."""
        try:
            x = np.array([values[name] for name in self.features], dtype=np.float64)
        except KeyError as exc:
            raise ConfigurationError(f"mark model needs feature {exc}: re-fit it") from exc
        z = (x - np.asarray(self.mean)) / np.asarray(self.scale)
        return float(z @ np.asarray(self.coef) + self.intercept)

    def fraction(self, values: Mapping[str, float]) -> float:
        """The calibrated share of credit, 0..1."""
        mark = float(np.interp(self.score(values), self.knots, self.marks))
        return min(max(mark, 0.0), 1.0)

    def document(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "mean": [round(v, 6) for v in self.mean],
            "scale": [round(v, 6) for v in self.scale],
            "coef": [round(v, 6) for v in self.coef],
            "intercept": round(self.intercept, 6),
            "calibration": {
                "knots": [round(v, 6) for v in self.knots],
                "marks": [round(v, 6) for v in self.marks],
            },
            "provenance": self.provenance,
        }

    @classmethod
    def from_document(cls, data: Mapping[str, Any]) -> MarkModel:
        return cls(
            features=tuple(str(f) for f in data["features"]),
            mean=tuple(float(v) for v in data["mean"]),
            scale=tuple(float(v) for v in data["scale"]),
            coef=tuple(float(v) for v in data["coef"]),
            intercept=float(data["intercept"]),
            knots=tuple(float(v) for v in data["calibration"]["knots"]),
            marks=tuple(float(v) for v in data["calibration"]["marks"]),
            provenance=dict(data.get("provenance", {})),
        )

    @classmethod
    def load(cls, path: Path | None = None) -> MarkModel:
        """The model shipped with the package, or the one at ``path``."""
        try:
            if path is None:
                text = resources.files("newspeech.grading").joinpath(MODEL_FILE).read_text()
            else:
                text = path.read_text(encoding="utf-8")
            return cls.from_document(json.loads(text))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigurationError(f"cannot read the grader's mark model: {exc}") from exc
