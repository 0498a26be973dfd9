from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from newspeech.db.base import Base, BigIntPK, UTCDateTime, utcnow

if TYPE_CHECKING:
    from newspeech.models.exams import ExamSession


class Result(Base):
    """The summary of a finished sitting: total, percentage, grade, pass/fail, certificate."""

    __tablename__ = "results"
    __table_args__ = (
        Index("ix_results_user_id", "user_id"),
        Index("ix_results_college_type", "college_type"),
        Index("ix_results_pass_status", "pass_status"),
        Index("ix_results_generated_at", "generated_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), unique=True, nullable=False
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    college_type: Mapped[str] = mapped_column(
        String(50),
        ForeignKey("college_types.code", onupdate="CASCADE", ondelete="RESTRICT"),
        nullable=False,
    )
    total_score: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    max_score: Mapped[int] = mapped_column(Integer, default=120, nullable=False)
    percentage_correct: Mapped[float] = mapped_column(Float, default=0.0, nullable=False)
    grade: Mapped[str | None] = mapped_column(String(1))
    pass_status: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    result_json: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    certificate_path: Mapped[str | None] = mapped_column(String(255))
    generated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)

    exam_session: Mapped[ExamSession] = relationship(back_populates="result")
