from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, computed_field

from newspeech.models import EvaluatorType, FeedbackType
from newspeech.results.schemas import ResultRead
from newspeech.review.record import AnswerMark, LineKind, ReviewState, answer_mark

NonBlank = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class MachineMarkRead(BaseModel):
    score: int
    max_score: int
    feedback_type: FeedbackType
    evaluator_type: EvaluatorType
    feedback: str | None = Field(description="the grader's own wording")


class ExaminerMarkRead(BaseModel):
    score: int
    max_score: int
    feedback_type: FeedbackType
    comment: str | None
    by_id: int | None = Field(description="the examiner's user id (null once removed)")
    by: str = Field(description="the examiner's name")
    at: dt.datetime | None = Field(description="when the score was changed")


class MarkLineRead(BaseModel):
    kind: LineKind
    text: str


class MarkRead(BaseModel):
    """The mark that counts and where it came from (``newspeech.review.record``)."""

    score: int
    max_score: int
    feedback_type: FeedbackType
    source: Literal["machine", "examiner"]
    headline: str
    machine: MachineMarkRead | None = Field(
        description="the machine's grade; after an override, its original one"
    )
    examiner: ExaminerMarkRead | None = Field(description="the override, when there is one")
    review: ReviewState = Field(description="none, pending (queued) or resolved (reviewed)")
    review_reasons: list[str]
    lines: list[MarkLineRead] = Field(description="the mark in words, as every view shows it")

    @classmethod
    def of(cls, mark: AnswerMark) -> MarkRead:
        return cls(
            score=mark.score,
            max_score=mark.max_score,
            feedback_type=mark.feedback_type,
            source=mark.source,
            headline=mark.headline,
            machine=None if mark.machine is None else MachineMarkRead(**asdict(mark.machine)),
            examiner=None if mark.examiner is None else ExaminerMarkRead(**asdict(mark.examiner)),
            review=mark.review,
            review_reasons=list(mark.review_reasons),
            lines=[MarkLineRead(kind=line.kind, text=line.text) for line in mark.lines()],
        )


class ExaminerNameRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    username: str
    full_name: str | None


class EvaluationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    evaluator_type: EvaluatorType
    score_obtained: int
    max_score: int
    percentage_correct: float
    feedback: str | None = Field(description="the machine's wording (kept after an override)")
    feedback_type: FeedbackType
    matched_keywords: list[Any] | None
    missing_keywords: list[Any] | None
    latency_ms: float
    processing_time_ms: float
    created_at: dt.datetime
    needs_review: bool
    review_reasons: list[Any] | None
    reviewed_at: dt.datetime | None
    review_comment: str | None
    machine_grade: dict[str, Any] | None
    overridden_by: int | None
    overridden_at: dt.datetime | None
    overrider: ExaminerNameRead | None = Field(default=None, exclude=True)

    @computed_field  # type: ignore[prop-decorator]  # pydantic's documented use on a property
    @property
    def mark(self) -> MarkRead:
        """The mark that counts, its provenance, and the machine's original beside it."""
        return MarkRead.of(answer_mark(self))


class QueuedQuestionRead(BaseModel):
    question_id: int
    college_type: str
    scenario_id: int
    question_number: int
    question_text: str
    max_score: int
    pending: int = Field(description="answers waiting for review")


class ReviewAnswerRead(BaseModel):
    answer_id: int
    session_id: int
    session_code: str
    student_name: str
    transcript: str | None = Field(description="what speech recognition heard, unchanged")
    corrected_transcript: str | None = Field(
        default=None,
        description="the transcript with the question's misheard terms read back in, which is "
        "what was graded; null when nothing was corrected",
    )
    score: int
    max_score: int
    feedback_type: FeedbackType
    evaluator_type: EvaluatorType
    review_reasons: list[str]
    asr_confidence: float
    audio_url: str | None = Field(description="the answer's recording, when one is stored")
    reviewed_at: dt.datetime | None
    mark: MarkRead = Field(description="the mark that counts and its provenance")


class ReviewPage(BaseModel):
    items: list[ReviewAnswerRead]
    total: int
    page: int
    size: int
    seed: int = Field(description="pass it back to page through the same order")


class FlagCreate(BaseModel):
    reason: Annotated[NonBlank, StringConstraints(max_length=500)]


class OverrideCreate(BaseModel):
    score: int = Field(ge=0, le=1000, description="0..the evaluation's max_score")
    comment: Annotated[NonBlank, StringConstraints(max_length=2000)] = Field(
        description="why the score changes (mandatory)"
    )


class ReviewedEvaluationRead(EvaluationRead):
    answer_id: int
    session_id: int
    flagged_by: int | None
    flagged_at: dt.datetime | None
    reviewed_by: int | None


class OverrideRead(BaseModel):
    evaluation: ReviewedEvaluationRead
    result: ResultRead | None = Field(description="the sitting's result after the change, if any")


class RegradeRequest(BaseModel):
    apply: bool = Field(default=False, description="false: a dry run that changes nothing")


class ScoreChangeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    answer_id: int
    session_id: int
    session_code: str
    old_score: int
    new_score: int
    old_feedback_type: FeedbackType
    new_feedback_type: FeedbackType


class ResultChangeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    session_id: int
    session_code: str
    old_total: int
    new_total: int
    old_grade: str | None
    new_grade: str
    old_passed: bool
    new_passed: bool


class RegradeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    question_id: int
    applied: bool
    graded: int
    changes: list[ScoreChangeRead]
    results: list[ResultChangeRead]
    skipped_manual: int
