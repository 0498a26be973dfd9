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
    cronbach_alpha: float | None = Field(
        description="null when undefined for the data or withheld (see cronbach_alpha_note)"
    )
    cronbach_alpha_note: str | None = Field(
        default=None, description="why alpha is not given: too few candidates"
    )
    min_candidates: int = Field(
        description="candidates needed before alpha and discrimination are given "
        "(configuration statistics_min_candidates)"
    )
    terminated_excluded: int = Field(
        description="results of terminated sittings in the period, left out of these numbers "
        "(pass rates count them)"
    )
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
    discrimination: float | None = Field(
        description="correlation with the rest of the test; null when undefined or withheld"
    )
    discrimination_note: str | None = Field(
        default=None, description="why discrimination is not given: too few candidates"
    )


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
