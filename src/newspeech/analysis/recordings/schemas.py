"""Shapes of the recording intake API."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

from newspeech.enums import AnalysisJobStatus, TranscriptionStatus


class RecordingProgress(BaseModel):
    job_id: int
    status: AnalysisJobStatus
    stages_done: int
    stages_total: int


class RecordingRead(BaseModel):
    id: int
    original_filename: str | None
    content_type: str | None = Field(description="what the file is, found by reading it")
    size_bytes: int
    duration_seconds: float | None
    status: TranscriptionStatus
    scenario: str = Field(description="the scenario's key, e.g. interview")
    report_types: list[str] = Field(description="keys of the reports asked for")
    building_type: str | None
    employee: str | None
    client: str | None
    place: str | None
    zone: str | None
    city: str | None
    recorded_on: dt.date | None
    uploaded_by: int | None
    created_at: dt.datetime
    job: RecordingProgress | None = Field(description="the latest transcription job")


class WordRead(BaseModel):
    start: float
    end: float
    word: str


class SegmentRead(BaseModel):
    start: float
    end: float
    speaker: str | None
    text: str
    words: list[WordRead]


class TranscriptRead(BaseModel):
    recording_id: int
    status: TranscriptionStatus
    language: str | None
    duration_seconds: float | None
    text: str | None
    segments: list[SegmentRead] = Field(
        description="timed segments with their words (times in seconds of the recording); "
        "empty until the recording is transcribed"
    )


class AudioLinkRead(BaseModel):
    recording_id: int
    url: str = Field(
        description="the audio's signed URL (relative to this server); no token needed"
    )
    expires_at: dt.datetime = Field(description="after this the URL answers 403: ask for a new one")
