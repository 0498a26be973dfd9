"""The hybrid grader (the offline default): keyword and semantic signals, combined by weights
fitted on public data, with the keyword grader's gaming guards kept as hard caps.

Features (:data:`FEATURES`), computed on the transcript with instructions to the grader removed:

- ``keyword``: the keyword grader's fraction (stems, synonyms, ASR slips, negation, stuffing cap);
- ``similarity``, ``coverage``, ``keypoint_coverage``, ``question_similarity``: the semantic
  signals of :mod:`newspeech.grading.semantic`;
- ``keyword_x_similarity``: their product (both agree);
- ``length_ratio``: answer words over model-answer words, capped at 2.

A logistic regression over the standardised features gives the probability that a human
examiner calls the answer correct. Its weights are data (``hybrid_weights.json`` beside this
module, with the data, date, command, metrics it came from), fitted on the SemEval-2013 training
split only by ``uv run python -m newspeech.grading.fit``. The fraction of credit is that
probability shifted so that the fitted decision threshold falls on the default "correct" line
(0.6): ``fraction = sigmoid(z + offset)``; the configured thresholds then band it as everywhere.

Keyword evidence bounds the fitted fraction (:func:`bound_by_keywords`), because a probability
of being judged correct is not credit earned, and embeddings reward answers that merely sound
like the model answer:

- no more than the keyword grader's fraction when that grader found stuffing, instructions to
  the grader (removed before any signal is computed) or denied key concepts ("it is not X"),
  or when it found too few key concepts to call the answer even partial (no credit from
  resemblance alone: padding, negated and off-topic answers score what their concepts earn);
- no less than the keyword fraction minus :data:`KEYWORD_FLOOR_MARGIN`.

On the SemEval training split this bounding does not cost accuracy (Beetle 0.667 -> 0.690,
SciEntsBank 0.710 -> 0.710 at the product band), and it keeps the gaming suite at zero wins.

With an LLM score (see :mod:`newspeech.grading.llm`), the offline fraction and the LLM's are
averaged with :data:`LLM_WEIGHT`. That weight is not fitted (no LLM is available offline to
label the training split); it is a stated default.

Review: low ASR confidence, any guard, or signals that disagree (keyword against semantic, or
offline against LLM, by more than :data:`DISAGREEMENT`) send the grade to an examiner.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from newspeech.errors import ConfigurationError
from newspeech.grading.embeddings import Embedder
from newspeech.grading.feedback import spoken_feedback, written_feedback
from newspeech.grading.guards import strip_instructions
from newspeech.grading.keyword import KeywordGrader, grade_confidence
from newspeech.grading.protocols import Grade, GradingQuestion, GradingThresholds, ReviewReason
from newspeech.grading.semantic import SemanticScorer, SemanticSignals, similarity_fraction
from newspeech.models.enums import EvaluatorType

FEATURES = (
    "keyword",
    "similarity",
    "coverage",
    "keypoint_coverage",
    "question_similarity",
    "keyword_x_similarity",
    "length_ratio",
)
WEIGHTS_FILE = "hybrid_weights.json"
LLM_WEIGHT = 0.5
KEYWORD_FLOOR_MARGIN = 0.1
GUARDS = (ReviewReason.KEYWORD_STUFFING, ReviewReason.INSTRUCTION_IN_ANSWER)
DISAGREEMENT = 0.5
SIGNALS_DISAGREE = "signals disagree"


def feature_vector(
    keyword_fraction: float, signals: SemanticSignals, answer: str, model_answer: str
) -> list[float]:
    """The features of :data:`FEATURES`, in order."""
    answer_words = len(answer.split())
    model_words = max(len(model_answer.split()), 1)
    return [
        keyword_fraction,
        signals.similarity,
        signals.coverage,
        signals.keypoint_coverage,
        signals.question_similarity,
        keyword_fraction * max(signals.similarity, 0.0),
        min(answer_words / model_words, 2.0),
    ]


@dataclass(frozen=True)
class HybridWeights:
    """A fitted logistic regression over standardised :data:`FEATURES`."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    offset: float
    """Added to the logit so the fitted decision threshold lands on fraction 0.6."""
    provenance: dict[str, Any]

    def __post_init__(self) -> None:
        sizes = {len(self.features), len(self.mean), len(self.scale), len(self.coef)}
        if sizes != {len(FEATURES)} or tuple(self.features) != FEATURES:
            raise ConfigurationError(
                f"hybrid weights are for features {list(self.features)}, expected {list(FEATURES)}"
                ": re-fit them with `uv run python -m newspeech.grading.fit`"
            )

    def logit(self, x: list[float]) -> float:
        z = (np.asarray(x) - np.asarray(self.mean)) / np.asarray(self.scale)
        return float(z @ np.asarray(self.coef) + self.intercept)

    def fraction(self, x: list[float]) -> float:
        value = self.logit(x) + self.offset
        return 1.0 / (1.0 + math.exp(-value)) if value > -500 else 0.0

    @classmethod
    def load(cls, path: Path | None = None) -> HybridWeights:
        """The weights shipped with the package, or those at ``path``."""
        try:
            if path is None:
                text = resources.files("newspeech.grading").joinpath(WEIGHTS_FILE).read_text()
            else:
                text = path.read_text(encoding="utf-8")
            data = json.loads(text)
            return cls(
                features=tuple(data["features"]),
                mean=tuple(data["mean"]),
                scale=tuple(data["scale"]),
                coef=tuple(data["coef"]),
                intercept=float(data["intercept"]),
                offset=float(data["offset"]),
                provenance=dict(data.get("provenance", {})),
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigurationError(f"cannot read the hybrid grader's weights: {exc}") from exc


class HybridGrader:
    """Keyword and semantic signals combined by fitted weights; the offline default."""

    evaluator = EvaluatorType.HYBRID

    def __init__(
        self,
        embedder: Embedder,
        thresholds: GradingThresholds | None = None,
        *,
        weights: HybridWeights | None = None,
        keyword: KeywordGrader | None = None,
    ) -> None:
        self.thresholds = thresholds or GradingThresholds()
        self.keyword = keyword or KeywordGrader(self.thresholds)
        self.scorer = SemanticScorer(embedder)
        self.weights = weights or HybridWeights.load()

    def prepare(self, question: GradingQuestion) -> None:
        """Do the question's share of the work ahead (compile its keywords, embed its model
        answer and key concepts): call it in the pool when the question is asked, so the
        answer's grade only pays for the answer."""
        self.keyword.compile(question)
        self.scorer.prepare(question)

    def grade(
        self,
        question: GradingQuestion,
        answer_transcript: str,
        *,
        asr_confidence: float | None = None,
    ) -> Grade:
        return self.grade_with(question, answer_transcript, asr_confidence=asr_confidence)

    def grade_with(
        self,
        question: GradingQuestion,
        answer_transcript: str,
        *,
        asr_confidence: float | None = None,
        llm_fraction: float | None = None,
        llm_details: dict[str, Any] | None = None,
    ) -> Grade:
        """Grade, folding in an LLM's fraction of credit when one is given."""
        keyword = self.keyword.grade(question, answer_transcript, asr_confidence=asr_confidence)
        text, _ = strip_instructions(answer_transcript)
        signals = self.scorer.signals(question, text)
        x = feature_vector(keyword.fraction, signals, text, question.model_answer)
        offline = self.weights.fraction(x)
        fraction = offline
        if llm_fraction is not None:
            fraction = (1 - LLM_WEIGHT) * offline + LLM_WEIGHT * min(max(llm_fraction, 0.0), 1.0)
        fraction = bound_by_keywords(fraction, keyword, self.thresholds)
        reasons = list(keyword.review_reasons)
        disagree = abs(keyword.fraction - similarity_fraction(signals.similarity)) > DISAGREEMENT
        if llm_fraction is not None:
            disagree = disagree or abs(llm_fraction - offline) > DISAGREEMENT
        if disagree and question.keywords:
            reasons.append(SIGNALS_DISAGREE)
        score = math.floor(fraction * question.max_score + 0.5 + 1e-9)
        feedback_type = self.thresholds.classify(fraction)
        confidence = grade_confidence(
            fraction,
            self.thresholds,
            asr_confidence=asr_confidence,
            certainty=0.7 if disagree else 1.0,
            flagged=not _only_asr(reasons),
        )
        details: dict[str, Any] = {
            "method": "hybrid",
            "features": dict(zip(FEATURES, (round(v, 4) for v in x), strict=True)),
            "offline_fraction": round(offline, 4),
            "keyword": keyword.details,
            "keypoints": dict(signals.keypoints),
        }
        if llm_fraction is not None:
            details["llm_fraction"] = round(llm_fraction, 4)
            details["llm"] = llm_details or {}
        return Grade(
            score=score,
            max_score=question.max_score,
            fraction=fraction,
            feedback_type=feedback_type,
            matched=keyword.matched,
            missing=keyword.missing,
            confidence=confidence,
            review_reasons=tuple(reasons),
            spoken_feedback=spoken_feedback(
                feedback_type,
                missing=keyword.missing,
                model_answer=question.model_answer,
                review_reasons=reasons,
            ),
            written_feedback=written_feedback(
                feedback_type,
                score=score,
                max_score=question.max_score,
                matched=keyword.matched,
                missing=keyword.missing,
                denied=tuple(keyword.details.get("denied", ())),
                model_answer=question.model_answer,
                review_reasons=reasons,
            ),
            evaluator=self.evaluator,
            details=details,
        )


def bound_by_keywords(fraction: float, keyword: Grade, thresholds: GradingThresholds) -> float:
    """``fraction`` kept within what the keyword evidence allows (see the module docstring)."""
    guarded = any(r in keyword.review_reasons for r in GUARDS) or keyword.details.get("denied")
    if guarded or keyword.fraction <= thresholds.partial + 1e-9:
        fraction = min(fraction, keyword.fraction)
    return max(fraction, keyword.fraction - KEYWORD_FLOOR_MARGIN)


def _only_asr(reasons: list[str]) -> bool:
    """No reason beyond low ASR confidence and disagreement (already in the confidence)."""
    return all(r in (ReviewReason.LOW_ASR_CONFIDENCE, SIGNALS_DISAGREE) for r in reasons)
