from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from newspeech.models import ConfigValueType


class ConfigEntryRead(BaseModel):
    config_key: str
    value: Any = Field(description="typed by value_type")
    value_type: ConfigValueType
    description: str | None
    is_active: bool
    updated_at: dt.datetime


class ConfigEntryWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: Any = Field(description="a value of the key's type (new keys: of value_type)")
    value_type: ConfigValueType | None = Field(
        default=None, description="only for a new key; existing keys keep their type"
    )
    description: str | None = Field(default=None, max_length=2000)
    is_active: bool | None = None
