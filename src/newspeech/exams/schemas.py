from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, computed_field

from newspeech.answers.audio.service import audio_url
from newspeech.models import SessionStatus
from newspeech.results.schemas import ResultRead
from newspeech.review.schemas import EvaluationRead


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
