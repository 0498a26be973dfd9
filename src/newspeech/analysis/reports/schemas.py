"""Shapes of the reports API."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from newspeech.enums import ReportRunStatus, ReportStatus


class ReportRunRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    number: int = Field(description="1 for the report's first run, 2 after a re-run ...")
    job_id: int | None
    status: ReportRunStatus
    model: str | None = Field(description="the model asked; none for a report without prompts")
    error: str | None
    created_at: dt.datetime
    finished_at: dt.datetime | None


class ReportRead(BaseModel):
    id: int
    recording_id: int
    scenario: str
    report_type: str = Field(description="the report type's key (`transcript`, `client-brief`)")
    report_type_name: str
    needs_llm: bool = Field(description="its type runs prompts, so it needs NEWSPEECH_LLM_API_URL")
    status: ReportStatus
    error: str | None
    building_type: str | None
    place: str | None
    city: str | None
    zone: str | None
    employee: str | None
    client: str | None
    report_date: dt.date | None
    created_at: dt.datetime
    updated_at: dt.datetime
    runs: list[ReportRunRead]


class ReportDetail(ReportRead):
    markdown: str | None = Field(description="the latest finished run's report")
    html: str | None = Field(
        description="that Markdown as HTML safe to show in a page: HTML in the Markdown is "
        "escaped, script links are not links, images are left out"
    )
    data: dict[str, Any] | None = Field(description="its parsed JSON parts")


class ReportTypeRead(BaseModel):
    scenario: str
    key: str
    name: str
    needs_llm: bool = Field(description="runs prompts: needs NEWSPEECH_LLM_API_URL")
    available: bool = Field(description="can be made on this installation now")
    building_types: list[str] = Field(description="building types it has prompts for")


class ReportTypesRead(BaseModel):
    llm_configured: bool
    report_types: list[ReportTypeRead]


class LLMCallRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    stage_id: int
    stage_attempt: int
    sequence: int
    purpose: str
    prompt_version_id: int | None
    part: int | None
    parts: int | None
    input_sha256: str
    model_requested: str
    model_answered: str | None
    parameters: dict[str, Any]
    prompt_tokens: int | None
    completion_tokens: int | None
    total_tokens: int | None
    latency_seconds: float
    raw_output: str | None
    parsed: Any
    error: str | None
    created_at: dt.datetime


class RerunRead(BaseModel):
    report_id: int
    run: ReportRunRead
    job_id: int
