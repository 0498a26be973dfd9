from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from newspeech.db.base import Base, BigIntPK, CreatedAt, Timestamps, UTCDateTime
from newspeech.models.enums import EvaluatorType, FeedbackType, SessionStatus, enum_column

if TYPE_CHECKING:
    from newspeech.models.questions import Question
    from newspeech.models.results import Result
    from newspeech.models.users import User


class ExamSession(Timestamps, Base):
    """One viva sitting (the seed's ``sessions`` table)."""

    __tablename__ = "sessions"
    __table_args__ = (
        Index("ix_sessions_user_id", "user_id"),
        Index("ix_sessions_status", "status"),
        Index("ix_sessions_created_at", "created_at"),
        Index("ix_sessions_college_type", "college_type"),
        # One sitting per attempt: two starts racing for the same attempt cannot both succeed.
        Index(
            "ix_sessions_user_id_college_type_attempt_number",
            "user_id",
            "college_type",
            "attempt_number",
            unique=True,
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    college_type: Mapped[str] = mapped_column(
        String(50),
        ForeignKey("college_types.code", onupdate="CASCADE", ondelete="RESTRICT"),
        nullable=False,
    )
    # The unique constraint's index serves the seed's idx_session_code.
    session_code: Mapped[str] = mapped_column(String(50), unique=True, nullable=False)
    status: Mapped[SessionStatus] = mapped_column(
        enum_column(SessionStatus, "session_status"), default=SessionStatus.PENDING, nullable=False
    )
    start_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    end_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    duration_seconds: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    total_score: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    total_questions: Mapped[int] = mapped_column(Integer, default=12, nullable=False)
    questions_answered: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    voice_detected_count: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    avg_latency_ms: Mapped[float] = mapped_column(Float, default=0.0, nullable=False)
    max_latency_ms: Mapped[float] = mapped_column(Float, default=0.0, nullable=False)
    # The candidate's attempt at this college: 1 for the first sitting, 2 for the next ...
    attempt_number: Mapped[int] = mapped_column(
        Integer, default=1, server_default=text("1"), nullable=False
    )
    # The exam form chosen when the sitting was created (newspeech.exams.form): its cases and
    # questions as they stood then. Asking, resuming and grading read this, never the live bank.
    # Deferred (tens of kilobytes, needed only to open a sitting): read it with
    # ExamSessionRepository.form_of; touching the attribute on a loaded row raises.
    exam_form: Mapped[dict[str, Any] | None] = mapped_column(
        JSON, deferred=True, deferred_raiseload=True
    )

    # The exam configuration the sitting was created with (newspeech.configuration.keys
    # .ExamConfig as JSON): it keeps these values to its result, whatever an admin edits later.
    # Null for a sitting created before it was stored (the first resume stores the values then).
    config_snapshot: Mapped[dict[str, Any] | None] = mapped_column(
        JSON, deferred=True, deferred_raiseload=True
    )

    user: Mapped[User] = relationship(back_populates="exam_sessions")
    answers: Mapped[list[Answer]] = relationship(
        back_populates="exam_session",
        order_by="(Answer.question_number, Answer.id)",
        passive_deletes=True,
    )
    result: Mapped[Result | None] = relationship(
        back_populates="exam_session", uselist=False, passive_deletes=True
    )


class AttemptGrant(CreatedAt, Base):
    """One more attempt at a college's exam for one candidate, allowed by an examiner or admin
    (on top of the configured ``max_attempts``)."""

    __tablename__ = "attempt_grants"
    __table_args__ = (Index("ix_attempt_grants_user_id_college_type", "user_id", "college_type"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    college_type: Mapped[str] = mapped_column(
        String(50),
        ForeignKey("college_types.code", onupdate="CASCADE", ondelete="CASCADE"),
        nullable=False,
    )
    granted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reason: Mapped[str | None] = mapped_column(Text)


class Answer(CreatedAt, Base):
    """A student's response to one question.

    ``question_text`` keeps the words that were actually asked, so a later edit of the bank never
    changes what an answer was an answer to.
    """

    __tablename__ = "answers"
    __table_args__ = (
        Index("ix_answers_session_id", "session_id"),
        Index("ix_answers_question_bank_id", "question_bank_id"),
        Index("ix_answers_question_number", "question_number"),
        Index("ix_answers_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False
    )
    question_bank_id: Mapped[int] = mapped_column(
        ForeignKey("question_banks.id", ondelete="RESTRICT"), nullable=False
    )
    question_number: Mapped[int] = mapped_column(Integer, nullable=False)
    question_text: Mapped[str | None] = mapped_column(Text)
    answer_text: Mapped[str | None] = mapped_column(Text)
    answer_audio_path: Mapped[str | None] = mapped_column(String(255))
    audio_duration_seconds: Mapped[float] = mapped_column(Float, default=0.0, nullable=False)
    transcribed_text: Mapped[str | None] = mapped_column(Text)
    confidence_score: Mapped[float] = mapped_column(Float, default=0.0, nullable=False)
    is_complete: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # Per-turn latency measured by the session loop (TurnTimings.milliseconds()): end of speech
    # to turn declared, to transcript, to grade, to first examiner audio byte.
    turn_latency: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    exam_session: Mapped[ExamSession] = relationship(back_populates="answers")
    question: Mapped[Question] = relationship()

    evaluation: Mapped[Evaluation | None] = relationship(
        back_populates="answer", uselist=False, passive_deletes=True
    )

    @property
    def graded_text(self) -> str:
        """What the answer is graded on: ``answer_text``, the transcript with the question's
        misheard terms read back in (newspeech.voice.terms), or the transcript itself.
        ``transcribed_text`` is what speech recognition heard and is never changed."""
        if self.answer_text is not None:
            return self.answer_text
        return self.transcribed_text or ""

    @property
    def term_corrected(self) -> bool:
        """Whether what is graded differs from what was heard."""
        return (
            self.answer_text is not None
            and self.transcribed_text is not None
            and self.answer_text != self.transcribed_text
        )


class Evaluation(Timestamps, Base):
    """How one answer was scored (one evaluation per answer)."""

    __tablename__ = "evaluations"
    __table_args__ = (
        Index("ix_evaluations_session_id", "session_id"),
        Index("ix_evaluations_feedback_type", "feedback_type"),
        Index("ix_evaluations_score_obtained", "score_obtained"),
        Index("ix_evaluations_needs_review_reviewed_at", "needs_review", "reviewed_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    # The unique constraint's index serves the seed's idx_answer_id.
    answer_id: Mapped[int] = mapped_column(
        ForeignKey("answers.id", ondelete="CASCADE"), unique=True, nullable=False
    )
    session_id: Mapped[int] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False
    )
    evaluator_type: Mapped[EvaluatorType] = mapped_column(
        enum_column(EvaluatorType, "evaluator_type"),
        default=EvaluatorType.KEYWORD_MATCH,
        nullable=False,
    )
    score_obtained: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    max_score: Mapped[int] = mapped_column(Integer, default=10, nullable=False)
    percentage_correct: Mapped[float] = mapped_column(Float, default=0.0, nullable=False)
    feedback: Mapped[str | None] = mapped_column(Text)
    feedback_type: Mapped[FeedbackType] = mapped_column(
        enum_column(FeedbackType, "feedback_type"),
        default=FeedbackType.INCORRECT,
        nullable=False,
    )
    matched_keywords: Mapped[list[Any] | None] = mapped_column(JSON)
    missing_keywords: Mapped[list[Any] | None] = mapped_column(JSON)
    latency_ms: Mapped[float] = mapped_column(Float, default=0.0, nullable=False)
    processing_time_ms: Mapped[float] = mapped_column(Float, default=0.0, nullable=False)
    # Review state (docs/examiner-api.md). An evaluation waits in the review queue while
    # ``needs_review`` is set and ``reviewed_at`` is not; ``review_reasons`` says why (the
    # grader's reasons, a mid-range score, an examiner's flag).
    needs_review: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false(), nullable=False
    )
    review_reasons: Mapped[list[Any] | None] = mapped_column(JSON)
    flagged_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    flagged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    review_comment: Mapped[str | None] = mapped_column(Text)
    # The machine's grade as it stood before the first override (score, max_score,
    # feedback_type, evaluator_type, feedback); later overrides never replace it.
    machine_grade: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Who set the score by hand, and when (the latest override). Unlike ``reviewed_*``, a
    # later flag does not clear them: the mark that counts still came from that examiner.
    overridden_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    overridden_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    answer: Mapped[Answer] = relationship(back_populates="evaluation")
    # Loaded with the evaluation: every view of a mark names who changed it.
    overrider: Mapped[User | None] = relationship(foreign_keys=[overridden_by], lazy="selectin")


class SittingLease(Base):
    """Which exam loop may write a sitting (``newspeech.exams.lease``).

    Opening a sitting (start or resume, on any process or node) takes it over: ``generation``
    goes up by one and the new loop holds that number. Every write a loop makes first renews
    the lease for its own generation in the same transaction; a loop whose generation is no
    longer the row's has been taken over and writes nothing more. ``holder`` and
    ``expires_at`` say which process runs the loop and until when it last promised to renew.
    """

    __tablename__ = "sitting_leases"

    session_id: Mapped[int] = mapped_column(
        BigIntPK, ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True
    )
    generation: Mapped[int] = mapped_column(Integer, nullable=False)
    holder: Mapped[str] = mapped_column(String(100), nullable=False)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), nullable=False)
