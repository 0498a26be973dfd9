"""Recording-analysis jobs (issue 17): one job per run of the pipeline over a recording, with
its ordered stages.

The task queue (taskiq) only says "advance job N"; what is done, and each stage's output, lives
here. A stage's output is written in the same transaction that marks it done, and only if it
was not done already, so a stage run twice (a redelivered message, a worker killed after the
commit) stores its output once. Stages are ordered by ``(phase, chunk)``: the cut (phase 1),
one transcription per piece (phase 2, chunk 0, 1 ...; added by the cut), the assembly (phase 3),
then (added by the assembly) the speaker roles (4), each prompt of each report's chain (5) and
each report's assembly (6).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from newspeech.db.base import Base, BigIntPK, Timestamps, UTCDateTime
from newspeech.models.enums import (
    AnalysisJobStatus,
    AnalysisStageKind,
    AnalysisStageStatus,
    enum_column,
)


class AnalysisJob(Timestamps, Base):
    __tablename__ = "analysis_jobs"
    __table_args__ = (
        Index("ix_analysis_jobs_transcription_id", "transcription_id"),
        Index("ix_analysis_jobs_status", "status"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    transcription_id: Mapped[int] = mapped_column(
        ForeignKey("analysis_transcriptions.id", ondelete="CASCADE"), nullable=False
    )
    status: Mapped[AnalysisJobStatus] = mapped_column(
        enum_column(AnalysisJobStatus, "analysis_job_status"),
        default=AnalysisJobStatus.QUEUED,
        nullable=False,
    )
    error: Mapped[str | None] = mapped_column(Text)
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class AnalysisJobStage(Timestamps, Base):
    """One step of a job. ``lease_until`` is when a worker running it is presumed dead (the
    stage's time limit from its start), after which another worker may take it over."""

    __tablename__ = "analysis_job_stages"
    __table_args__ = (UniqueConstraint("job_id", "phase", "chunk"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    job_id: Mapped[int] = mapped_column(
        ForeignKey("analysis_jobs.id", ondelete="CASCADE"), nullable=False
    )
    phase: Mapped[int] = mapped_column(Integer, nullable=False)
    chunk: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    kind: Mapped[AnalysisStageKind] = mapped_column(
        enum_column(AnalysisStageKind, "analysis_stage_kind"), nullable=False
    )
    status: Mapped[AnalysisStageStatus] = mapped_column(
        enum_column(AnalysisStageStatus, "analysis_stage_status"),
        default=AnalysisStageStatus.PENDING,
        nullable=False,
    )
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    start_seconds: Mapped[float | None] = mapped_column(Float)
    end_seconds: Mapped[float | None] = mapped_column(Float)
    run_id: Mapped[int | None] = mapped_column(
        ForeignKey("analysis_report_runs.id", ondelete="CASCADE")
    )
    """the report run a prompt or report stage belongs to"""
    prompt_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("analysis_prompt_versions.id", ondelete="RESTRICT")
    )
    """the exact prompt text a prompt stage runs (fixed when the stage is made)"""
    output: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
