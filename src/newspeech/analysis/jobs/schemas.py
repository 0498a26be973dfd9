"""Shapes of the analysis jobs API."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from newspeech.enums import AnalysisJobStatus, AnalysisStageKind, AnalysisStageStatus


class StageRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kind: AnalysisStageKind
    chunk: int = Field(description="the piece of the recording, for transcription stages")
    status: AnalysisStageStatus
    attempts: int
    start_seconds: float | None
    end_seconds: float | None
    error: str | None
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


class JobRead(BaseModel):
    id: int
    transcription_id: int
    status: AnalysisJobStatus
    error: str | None
    stages_done: int
    stages_total: int = Field(description="grows once the recording is cut into pieces")
    eta_seconds: float | None = Field(description="time left at the pace so far")
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    stages: list[StageRead]
