from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field


class ScoreBinRead(BaseModel):
    lower: float = Field(description="percentage, inclusive")
    upper: float = Field(description="percentage, exclusive (the last bin includes 100)")
    count: int


class ExamStatisticsRead(BaseModel):
    candidates: int
    items: int
    mean: float | None = Field(description="mean total, points")
    median: float | None
    std_dev: float | None
    cronbach_alpha: float | None
    distribution: list[ScoreBinRead]


class QuestionStatisticsRead(BaseModel):
    question_id: int
    scenario_id: int
    question_number: int
    question_text: str
    attempts: int
    max_score: float
    mean: float | None
    facility: float | None = Field(description="mean score / max score")
    std_dev: float | None
    discrimination: float | None = Field(description="correlation with the rest of the test")


class PassRateRead(BaseModel):
    period_start: dt.date
    attempts: int
    passes: int
    rate: float


class StatisticsReportRead(BaseModel):
    college_type: str
    since: dt.datetime | None
    until: dt.datetime | None
    period: Literal["week", "month"]
    exam: ExamStatisticsRead
    questions: list[QuestionStatisticsRead]
    pass_rates: list[PassRateRead]
