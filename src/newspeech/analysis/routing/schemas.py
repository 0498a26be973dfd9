"""Shapes of the routing API."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

NameField = Annotated[str, Field(min_length=1, max_length=200)]


class RoutingRead(BaseModel):
    scenario: str | None = Field(description="the scenario's key; none before the first choice")
    report_types: list[str] = Field(description="report types' keys, in the order chosen")
    building_type: str | None = Field(description="the building type's name")
    updated_at: dt.datetime | None


class RoutingUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scenario: NameField
    report_types: list[NameField] = Field(default_factory=list, max_length=20)
    building_type: NameField | None = None
