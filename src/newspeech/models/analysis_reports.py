"""Report runs and the LLM calls behind them (issue 17).

A report (``analysis_reports``) is asked for once; each run of its prompt chain is a
:class:`ReportRun` with its own Markdown, parsed JSON and PDF, so re-running a report adds a
run and the runs before stay. Every request to the LLM is an :class:`LLMCall`: which prompt
version, a hash of exactly what was sent, the model asked and the model that answered, the
parameters, token usage, latency, the raw answer, the parsed JSON and the error. A call is
stored in the transaction that ends its stage's try, unique per (stage, try, sequence), so a
stage run twice never stores a call twice.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from newspeech.db.base import Base, BigIntPK, CreatedAt, Timestamps, UTCDateTime
from newspeech.models.enums import ReportRunStatus, enum_column


class ReportRun(Timestamps, Base):
    """One run of a report's chain: ``number`` counts the report's runs from 1."""

    __tablename__ = "analysis_report_runs"
    __table_args__ = (
        UniqueConstraint("report_id", "number"),
        Index("ix_analysis_report_runs_job_id", "job_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    report_id: Mapped[int] = mapped_column(
        ForeignKey("analysis_reports.id", ondelete="CASCADE"), nullable=False
    )
    number: Mapped[int] = mapped_column(Integer, nullable=False)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("analysis_jobs.id", ondelete="SET NULL"))
    status: Mapped[ReportRunStatus] = mapped_column(
        enum_column(ReportRunStatus, "report_run_status"),
        default=ReportRunStatus.PENDING,
        nullable=False,
    )
    model: Mapped[str | None] = mapped_column(String(200))
    """the model asked for (none for a report without prompts)"""
    markdown: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    pdf_key: Mapped[str | None] = mapped_column(String(500))
    """the PDF in the audio store (local folder or S3), next to the recordings"""
    pdf_bytes: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class LLMCall(CreatedAt, Base):
    """One chat-completion request of a job stage (a prompt over one part of the transcript,
    the combination of parts, a repair after an invalid answer, the speaker-role pass)."""

    __tablename__ = "analysis_llm_calls"
    __table_args__ = (
        UniqueConstraint("stage_id", "stage_attempt", "sequence"),
        Index("ix_analysis_llm_calls_run_id", "run_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    stage_id: Mapped[int] = mapped_column(
        ForeignKey("analysis_job_stages.id", ondelete="CASCADE"), nullable=False
    )
    stage_attempt: Mapped[int] = mapped_column(Integer, nullable=False)
    sequence: Mapped[int] = mapped_column(Integer, nullable=False)
    run_id: Mapped[int | None] = mapped_column(
        ForeignKey("analysis_report_runs.id", ondelete="CASCADE")
    )
    prompt_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("analysis_prompt_versions.id", ondelete="RESTRICT")
    )
    purpose: Mapped[str] = mapped_column(String(20), nullable=False)
    """``part`` (a prompt over one part of the transcript), ``combine``, ``repair``, ``speakers``"""
    part: Mapped[int | None] = mapped_column(Integer)
    parts: Mapped[int | None] = mapped_column(Integer)
    input_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    model_requested: Mapped[str] = mapped_column(String(200), nullable=False)
    model_answered: Mapped[str | None] = mapped_column(String(200))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    completion_tokens: Mapped[int | None] = mapped_column(Integer)
    total_tokens: Mapped[int | None] = mapped_column(Integer)
    latency_seconds: Mapped[float] = mapped_column(Float, nullable=False)
    raw_output: Mapped[str | None] = mapped_column(Text)
    parsed: Mapped[Any] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text)
