from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from newspeech.answers.audio.service import audio_url
from newspeech.models import EvaluatorType, FeedbackType, SessionStatus
from newspeech.results.schemas import ResultRead
from newspeech.review.record import AnswerMark, LineKind, ReviewState, answer_mark


class CandidateRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    full_name: str | None


class ExamSessionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    user_id: int
    user: CandidateRead
    """Who sat it (the examiner's session list shows the candidate)."""
    college_type: str
    session_code: str
    attempt_number: int
    """The candidate's attempt at this college: 1, 2, ..."""
    status: SessionStatus
    start_time: dt.datetime | None
    end_time: dt.datetime | None
    duration_seconds: int
    total_score: int
    total_questions: int
    questions_answered: int
    voice_detected_count: int
    avg_latency_ms: float
    max_latency_ms: float
    created_at: dt.datetime
    updated_at: dt.datetime


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


class AnswerRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    question_bank_id: int
    question_number: int
    question_text: str | None
    answer_text: str | None = Field(
        description="what was graded: the transcript with the question's misheard terms read "
        "back in (the same as transcribed_text when nothing was corrected)"
    )
    transcribed_text: str | None = Field(description="what speech recognition heard, unchanged")
    audio_duration_seconds: float
    confidence_score: float
    is_complete: bool
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    created_at: dt.datetime
    evaluation: EvaluationRead | None
    answer_audio_path: str | None = Field(default=None, exclude=True)

    @computed_field  # type: ignore[prop-decorator]  # pydantic's documented use on a property
    @property
    def audio_url(self) -> str | None:
        """Where the recording can be fetched (``GET``, byte ranges); null when none is kept."""
        return None if self.answer_audio_path is None else audio_url(self.id)


class ExamSessionDetail(ExamSessionRead):
    answers: list[AnswerRead]
    result: ResultRead | None
