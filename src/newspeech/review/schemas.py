from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from newspeech.exams.schemas import EvaluationRead, MarkRead
from newspeech.models import EvaluatorType, FeedbackType
from newspeech.results.schemas import ResultRead

NonBlank = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


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
