from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict


class ResultRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    session_id: int
    user_id: int
    college_type: str
    total_score: int
    max_score: int
    percentage_correct: float
    grade: str | None
    pass_status: bool
    result_json: dict[str, Any] | None
    certificate_path: str | None
    generated_at: dt.datetime


class CollegeStatisticsRead(BaseModel):
    college_type: str
    attempts: int
    passes: int
    pass_rate: float | None
    average_percentage: float | None
    highest_score: int | None
    lowest_score: int | None
