"""The grading port: what a grader is given, what it returns, and the bands it sorts scores into.

Every grader (keyword, semantic, LLM, hybrid) takes a :class:`GradingQuestion` and a transcript
and returns a :class:`Grade`. Graders are synchronous, pure and fast: the exam loop calls them in
the inference pool, so they hold no I/O and no per-call state beyond caches.

Score granularity: :attr:`Grade.score` is a whole number of points. The seed stores
``evaluations.score_obtained`` as an integer and the result rules add integers out of 120; the
evidence a keyword grader sees (which concepts were said) does not support half points either.
The unrounded :attr:`Grade.fraction` travels with it, so a hybrid grader combines fractions and
rounds once, instead of adding rounding errors.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from newspeech.enums import EvaluatorType, FeedbackType
from newspeech.errors import ConfigurationError, ValidationFailed


@dataclass(frozen=True)
class Keyword:
    """One key concept of a question: its term, other ways of saying it, and its weight (1-3)."""

    term: str
    synonyms: tuple[str, ...] = ()
    weight: int = 1
    derived: bool = False
    """Derived from the model answer (:mod:`newspeech.grading.derive`), not an examiner's."""

    def __post_init__(self) -> None:
        if not self.term.strip():
            raise ValidationFailed("a keyword needs a non-empty term")
        if self.weight < 1:
            raise ValidationFailed(f"keyword {self.term!r}: weight {self.weight} is below 1")

    @property
    def forms(self) -> tuple[str, ...]:
        """The term first, then its synonyms."""
        return (self.term, *self.synonyms)


@dataclass(frozen=True)
class GradingQuestion:
    """Everything a grader may know about a question; no database identity."""

    text: str
    keywords: tuple[Keyword, ...]
    model_answer: str = ""
    guidelines: str = ""
    max_score: int = 10

    def __post_init__(self) -> None:
        if self.max_score < 1:
            raise ValidationFailed(f"max_score {self.max_score} is below 1")

    @property
    def total_weight(self) -> int:
        return sum(keyword.weight for keyword in self.keywords)

    @property
    def curated(self) -> bool:
        """Some keyword is an examiner's (not all derived from the model answer)."""
        return any(not keyword.derived for keyword in self.keywords)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> GradingQuestion:
        """Build from a bank row or a ``question_banks`` row turned into a mapping.

        Reads ``keywords`` (``[{"term", "synonyms", "weight"}]``) and falls back to the seed's
        flat ``expected_keywords`` (weight 1, no synonyms) when a row has no structured ones,
        and derives them from the model answer when it has neither
        (:func:`~newspeech.grading.derive.derive_keywords`).
        Accepts both spellings of the text fields (``question_text``/``question``,
        ``answer_guidelines``/``guidelines``).
        """
        raw_keywords = data.get("keywords") or [
            {"term": term} for term in data.get("expected_keywords") or ()
        ]
        try:
            keywords = tuple(
                Keyword(
                    term=str(item["term"]),
                    synonyms=tuple(str(s) for s in item.get("synonyms") or ()),
                    weight=int(item.get("weight", 1)),
                    derived=bool(item.get("derived", False)),
                )
                for item in raw_keywords
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValidationFailed(f"malformed question keywords: {exc!r}") from exc
        text = data.get("question_text", data.get("question"))
        if not text:
            raise ValidationFailed("a grading question needs its text")
        model_answer = str(data.get("model_answer") or "")
        if not keywords and model_answer.strip():
            # A row stored before keywords were derived on save: derive them now, as on save.
            from newspeech.grading.derive import derive_keywords

            keywords = derive_keywords(str(text), model_answer)
        return cls(
            text=str(text),
            keywords=keywords,
            model_answer=model_answer,
            guidelines=str(data.get("answer_guidelines", data.get("guidelines")) or ""),
            max_score=int(data.get("max_score") or 10),
        )


class ReviewReason(enum.StrEnum):
    """Why a human examiner should look at a grade. Graders may add their own strings."""

    LOW_ASR_CONFIDENCE = "low asr confidence"
    KEYWORD_STUFFING = "keyword stuffing"
    INSTRUCTION_IN_ANSWER = "instruction in answer"
    NO_KEYWORDS = "question has no keywords"


@dataclass(frozen=True)
class Grade:
    """The outcome of grading one answer."""

    score: int
    """Whole points, 0..``max_score``."""
    max_score: int
    fraction: float
    """Unrounded share of the question's credit earned, 0..1, after any gaming caps."""
    feedback_type: FeedbackType
    matched: tuple[str, ...]
    """Key concepts the answer states (keyword terms, in question order)."""
    missing: tuple[str, ...]
    """Key concepts not stated, most important first."""
    confidence: float
    """0..1: how far this grade can be trusted without a human looking."""
    review_reasons: tuple[str, ...]
    evaluator: EvaluatorType
    details: dict[str, Any] = field(default_factory=dict)
    """JSON-serialisable evidence (which words matched, what a guard removed)."""
    spoken_feedback: str = ""
    """Filled from the other fields by :func:`newspeech.grading.feedback.with_feedback`."""
    written_feedback: str = ""

    def __post_init__(self) -> None:
        if not 0 <= self.score <= self.max_score:
            raise ValueError(f"score {self.score} is outside 0..{self.max_score}")
        if not 0.0 <= self.fraction <= 1.0 or not 0.0 <= self.confidence <= 1.0:
            raise ValueError("fraction and confidence must lie in 0..1")

    @property
    def needs_review(self) -> bool:
        return bool(self.review_reasons)

    @property
    def percentage(self) -> float:
        """Score as a percentage of the maximum (``evaluations.percentage_correct``)."""
        return 100.0 * self.score / self.max_score


class Grader(Protocol):
    """Scores one transcribed answer. Synchronous, pure and fast: runs in the inference pool."""

    evaluator: EvaluatorType

    def grade(
        self,
        question: GradingQuestion,
        answer_transcript: str,
        *,
        asr_confidence: float | None = None,
    ) -> Grade:
        """Grade ``answer_transcript``; ``asr_confidence`` (0..1) is the transcriber's own."""
        ...


@dataclass(frozen=True)
class GradingThresholds:
    """The one rule that turns a mark into a feedback type, shared by every grader, the review
    desk and the results: correct at or above ``correct`` of the maximum, partial at or above
    ``partial``, otherwise incorrect. The defaults are the seed documents' rule (correct >= 8,
    partial >= 5 out of 10); the configuration keys of :attr:`CONFIG_KEYS` change them.

    Graders band the *mark* they give (whole points over the maximum, :meth:`classify_mark`),
    so the feedback type always agrees with the score the candidate sees.

    ``asr_review_below``: answers transcribed with less confidence than this go to review.
    """

    correct: float = 0.8
    partial: float = 0.5
    asr_review_below: float = 0.5

    CONFIG_KEYS: ClassVar[tuple[str, str, str]] = (
        "keyword_matching_threshold",
        "keyword_partial_threshold",
        "asr_review_confidence_threshold",
    )
    """Configuration keys read by :meth:`from_config`, in field order."""

    def __post_init__(self) -> None:
        values = (self.correct, self.partial, self.asr_review_below)
        if not all(math.isfinite(v) and 0.0 <= v <= 1.0 for v in values):
            raise ConfigurationError(f"grading thresholds must lie in 0..1: {self}")
        if self.partial >= self.correct:
            raise ConfigurationError(
                f"partial threshold {self.partial} must be below correct threshold {self.correct}"
            )

    @classmethod
    def from_config(cls, values: Mapping[str, Any]) -> GradingThresholds:
        """Build from configuration values; missing keys keep the seed's defaults."""
        correct_key, partial_key, asr_key = cls.CONFIG_KEYS
        try:
            return cls(
                correct=float(values.get(correct_key, cls.correct)),
                partial=float(values.get(partial_key, cls.partial)),
                asr_review_below=float(values.get(asr_key, cls.asr_review_below)),
            )
        except (TypeError, ValueError) as exc:
            raise ConfigurationError(f"invalid grading threshold: {exc}") from exc

    def classify(self, fraction: float) -> FeedbackType:
        """Correct if ``fraction >= correct``, partial if ``fraction >= partial``."""
        # The tolerance keeps 8/10 or 4/5 on the boundary whatever float rounding does.
        if fraction >= self.correct - 1e-9:
            return FeedbackType.CORRECT
        if fraction >= self.partial - 1e-9:
            return FeedbackType.PARTIAL
        return FeedbackType.INCORRECT

    def classify_mark(self, score: int, max_score: int) -> FeedbackType:
        """The feedback type of a mark of ``score`` out of ``max_score`` whole points."""
        return self.classify(score / max_score)


class AsyncGrader(Protocol):
    """A grader awaited on the event loop: what :func:`~newspeech.grading.factory.build_grader`
    returns. Offline graders are wrapped to run in the inference pool; LLM graders wait for
    their server on the loop."""

    evaluator: EvaluatorType

    async def grade_async(
        self,
        question: GradingQuestion,
        answer_transcript: str,
        *,
        asr_confidence: float | None = None,
    ) -> Grade: ...
