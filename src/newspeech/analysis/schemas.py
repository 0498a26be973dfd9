"""Shapes of the prompt registry's read API."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class RegistryEntryRead(BaseModel):
    """A scenario, report type or building type."""

    model_config = ConfigDict(from_attributes=True)

    key: str = Field(description="the normalised name, e.g. site-audit")
    name: str


class PromptRead(BaseModel):
    id: int
    scenario: RegistryEntryRead
    report_type: RegistryEntryRead
    building_type: RegistryEntryRead
    run_part: int = Field(description="the prompt's place in its report's chain, from 1")
    title: str
    is_active: bool = Field(description="false once the prompt left the synced folder tree")
    latest_version: int
    returns_json: bool = Field(description="the latest version answers with JSON")


class PromptVersionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    version: int
    text: str
    returns_json: bool
    json_schema: dict[str, Any] | None = Field(
        description="the JSON Schema a JSON answer must satisfy"
    )
    sha256: str = Field(description="hash of the text and schema: equal hashes, equal prompts")
    source: str | None = Field(description="where the text came from (the synced file)")
    created_at: dt.datetime


class PromptDiffRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    prompt_id: int
    from_version: int
    to_version: int
    unified_diff: str = Field(description="the texts' differences as a unified diff")
    schema_changed: bool
