from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from newspeech.models import Difficulty
from newspeech.questions.interchange.model import check_keyword_text

Text = Annotated[str, Field(min_length=1, max_length=10_000)]
# The importer's rule (``BankQuestion``): what the API stores, every export can write back.
Term = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(check_keyword_text)]


class Keyword(BaseModel):
    """A keyword as the API writes it, validated exactly as an imported file's keywords are."""

    model_config = ConfigDict(extra="forbid")

    term: Term
    synonyms: list[Term] = Field(default_factory=list, max_length=50)
    weight: int = Field(default=1, ge=1, le=3)
    derived: bool = False
    """Derived from the model answer, not (yet) checked by an examiner: the editor shows it so
    and sends it back without the mark once the examiner has edited it."""


class QuestionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    college_type: str
    scenario_id: int
    scenario_name: str
    scenario_description: str | None
    question_number: int
    question_text: str
    category: str | None
    difficulty_level: Difficulty
    keywords: list[Keyword] | None
    expected_keywords: list[str] | None
    model_answer: str | None
    max_score: int
    min_score: int
    answer_guidelines: str | None
    created_at: dt.datetime
    updated_at: dt.datetime


class QuestionFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scenario_name: str | None = Field(default=None, min_length=1, max_length=255)
    scenario_description: Text | None = None
    question_text: Text | None = None
    category: str | None = Field(default=None, max_length=100)
    difficulty_level: Difficulty | None = None
    keywords: list[Keyword] | None = Field(default=None, max_length=100)
    model_answer: Text | None = None
    max_score: int | None = Field(default=None, ge=1, le=100)
    min_score: int | None = Field(default=None, ge=0, le=100)
    answer_guidelines: Text | None = None


class QuestionCreate(QuestionFields):
    college_type: str = Field(min_length=1, max_length=50)
    scenario_id: int = Field(ge=1, le=10_000)
    question_number: int = Field(ge=1, le=1_000)
    scenario_name: str = Field(min_length=1, max_length=255)
    question_text: Text

    @model_validator(mode="after")
    def _scores_in_order(self) -> QuestionCreate:
        if (self.min_score or 0) > (self.max_score or 10):
            raise ValueError("min_score must not exceed max_score")
        return self


class QuestionUpdate(QuestionFields):
    """Changes to a question. Answers already given keep the text that was asked."""


class ScenarioRead(BaseModel):
    scenario_id: int
    scenario_name: str
    scenario_description: str | None
    question_count: int


class QuestionBankRead(BaseModel):
    college_type: str
    scenarios: list[ScenarioRead]
