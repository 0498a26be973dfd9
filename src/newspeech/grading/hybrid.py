"""The hybrid grader (the offline default): keyword and semantic signals turned into the mark
a human examiner would give, with the keyword grader's gaming guards kept as hard caps.

Features (:data:`FEATURES`, :func:`feature_values`), computed on the transcript with
instructions to the grader removed:

- ``keyword``: the keyword grader's fraction (stems, synonyms, ASR slips, negation, stuffing cap);
- ``similarity``, ``coverage``, ``keypoint_coverage``, ``question_similarity``: the semantic
  signals of :mod:`newspeech.grading.semantic`;
- ``keyword_x_similarity``: their product (both agree);
- ``length_ratio``: answer words over model-answer words, capped at 2;
- ``similarity_gain``: ``similarity`` less the similarity the question text itself has to the
  model answer (what the answer says beyond restating the question; see
  :mod:`newspeech.grading.semantic`).

The mark model (:mod:`newspeech.grading.marks`) maps the features it was fitted on to a share
of credit calibrated to human examiners' marks on the 0-10 scale. Its weights are data
(``mark_model.json`` beside that module, with the data, date, command and metrics it came
from), fitted on the SAF training split only by ``uv run python -m newspeech.grading.fit``.
The mark is that share of the question's points, rounded half up; its feedback type follows
the mark (:meth:`~newspeech.grading.protocols.GradingThresholds.classify_mark`).

Keyword evidence still bounds the mark (:func:`bound_by_keywords`): no more than the keyword
grader's fraction when that grader found stuffing or instructions to the grader (removed before
any signal is computed); and, for a question whose keywords an examiner wrote, when the answer
denies key concepts ("it is not X") or states at most :data:`CURATED_EVIDENCE_LINE` of their
weight (no credit from resemblance alone: padding and off-topic answers score what their
concepts earn). Keywords derived from the model answer do not bound it those two ways: every
content word of a long model answer is one, so good paraphrases hit few of them (the cap gave
them 0 before the mark model), and an honest paraphrase often says one with a negation nearby
("the organs don't get enough oxygen" for "starved of oxygen").

With an LLM score (see :mod:`newspeech.grading.llm`), the offline fraction and the LLM's are
averaged with :data:`LLM_WEIGHT`. That weight is not fitted (no LLM is available offline to
label the training split); it is a stated default.

Review: low ASR confidence, any guard, or signals that disagree (keyword against semantic, or
offline against LLM, by more than :data:`DISAGREEMENT`) send the grade to an examiner.
"""

from __future__ import annotations

import math
from typing import Any

from newspeech.enums import EvaluatorType
from newspeech.grading.embeddings import Embedder
from newspeech.grading.feedback import with_feedback
from newspeech.grading.guards import strip_instructions
from newspeech.grading.keyword import KeywordGrader, grade_confidence
from newspeech.grading.marks import MarkModel
from newspeech.grading.protocols import Grade, GradingQuestion, GradingThresholds, ReviewReason
from newspeech.grading.semantic import SemanticScorer, SemanticSignals, similarity_fraction

FEATURES = (
    "keyword",
    "similarity",
    "coverage",
    "keypoint_coverage",
    "question_similarity",
    "keyword_x_similarity",
    "length_ratio",
    "similarity_gain",
)
LLM_WEIGHT = 0.5
GUARDS = (ReviewReason.KEYWORD_STUFFING, ReviewReason.INSTRUCTION_IN_ANSWER)
DISAGREEMENT = 0.5
CURATED_EVIDENCE_LINE = 0.3
"""Share of an examiner's keyword weight at or below which the mark is the keyword grader's."""
SIGNALS_DISAGREE = "signals disagree"


def feature_values(
    keyword_fraction: float, signals: SemanticSignals, answer: str, question: GradingQuestion
) -> dict[str, float]:
    """The features of :data:`FEATURES`, by name."""
    answer_words = len(answer.split())
    model_words = max(len(question.model_answer.split()), 1)
    values = (
        keyword_fraction,
        signals.similarity,
        signals.coverage,
        signals.keypoint_coverage,
        signals.question_similarity,
        keyword_fraction * max(signals.similarity, 0.0),
        min(answer_words / model_words, 2.0),
        signals.similarity - signals.question_model_similarity,
    )
    return dict(zip(FEATURES, values, strict=True))


class HybridGrader:
    """Keyword and semantic signals turned into a calibrated mark; the offline default."""

    evaluator = EvaluatorType.HYBRID

    def __init__(
        self,
        embedder: Embedder,
        thresholds: GradingThresholds | None = None,
        *,
        model: MarkModel | None = None,
        keyword: KeywordGrader | None = None,
    ) -> None:
        self.thresholds = thresholds or GradingThresholds()
        self.keyword = keyword or KeywordGrader(self.thresholds)
        self.scorer = SemanticScorer(embedder)
        self.model = model or MarkModel.load()

    def prepare(self, question: GradingQuestion) -> None:
        """Do the question's share of the work ahead (compile its keywords, embed its model
        answer and key concepts): call it in the pool when the question is asked, so the
        answer's grade only pays for the answer."""
        self.keyword.compile(question)
        self.keyword.policy(question)
        self.scorer.prepare(question)

    def bound(self, fraction: float, keyword: Grade, question: GradingQuestion) -> float:
        """The mark's share of credit within what the keyword evidence allows."""
        return bound_by_keywords(fraction, keyword, curated=question.curated)

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
        values = feature_values(keyword.fraction, signals, text, question)
        offline = self.model.fraction(values)
        fraction = offline
        if llm_fraction is not None:
            fraction = (1 - LLM_WEIGHT) * offline + LLM_WEIGHT * min(max(llm_fraction, 0.0), 1.0)
        fraction = self.bound(fraction, keyword, question)
        reasons = list(keyword.review_reasons)
        disagree = abs(keyword.fraction - similarity_fraction(signals.similarity)) > DISAGREEMENT
        if llm_fraction is not None:
            disagree = disagree or abs(llm_fraction - offline) > DISAGREEMENT
        if disagree and question.keywords:
            reasons.append(SIGNALS_DISAGREE)
        score = math.floor(fraction * question.max_score + 0.5 + 1e-9)
        feedback_type = self.thresholds.classify_mark(score, question.max_score)
        confidence = grade_confidence(
            fraction,
            self.thresholds,
            asr_confidence=asr_confidence,
            certainty=0.7 if disagree else 1.0,
            flagged=not _only_asr(reasons),
        )
        details: dict[str, Any] = {
            "method": "hybrid",
            "features": {name: round(v, 4) for name, v in values.items()},
            "offline_fraction": round(offline, 4),
            "keyword": keyword.details,
            "keypoints": dict(signals.keypoints),
        }
        if llm_fraction is not None:
            details["llm_fraction"] = round(llm_fraction, 4)
            details["llm"] = llm_details or {}
        grade = Grade(
            score=score,
            max_score=question.max_score,
            fraction=fraction,
            feedback_type=feedback_type,
            matched=keyword.matched,
            missing=keyword.missing,
            confidence=confidence,
            review_reasons=tuple(reasons),
            evaluator=self.evaluator,
            details=details,
        )
        return with_feedback(
            grade, question.model_answer, denied=tuple(keyword.details.get("denied", ()))
        )


def bound_by_keywords(fraction: float, keyword: Grade, *, curated: bool = True) -> float:
    """``fraction``, capped at the keyword grader's when a gaming guard fired, the answer
    denied key concepts, or (``curated`` keywords only) it states too few of them (see the
    module docstring)."""
    denied = curated and bool(keyword.details.get("denied"))
    guarded = denied or any(r in keyword.review_reasons for r in GUARDS)
    too_few = curated and keyword.fraction <= CURATED_EVIDENCE_LINE + 1e-9
    return min(fraction, keyword.fraction) if guarded or too_few else fraction


def _only_asr(reasons: list[str]) -> bool:
    """No reason beyond low ASR confidence and disagreement (already in the confidence)."""
    return all(r in (ReviewReason.LOW_ASR_CONFIDENCE, SIGNALS_DISAGREE) for r in reasons)
