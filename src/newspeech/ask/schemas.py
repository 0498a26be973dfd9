from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, model_validator


class AskRequest(BaseModel):
    """Either a plain-language ``question`` (needs an LLM) or a ``curated`` question's key
    with its ``parameters``."""

    question: str | None = Field(default=None, min_length=3, max_length=1000)
    curated: str | None = Field(default=None, min_length=1, max_length=100)
    parameters: dict[str, str] = Field(default_factory=dict, max_length=10)

    @model_validator(mode="after")
    def _one_of(self) -> AskRequest:
        if (self.question is None) == (self.curated is None):
            raise ValueError("send either question or curated")
        return self


class AskRead(BaseModel):
    question: str
    sql: str = Field(description="the SQL that ran, generated from the checked query")
    columns: list[str]
    rows: list[list[Any]]
    row_count: int
    chart: str = Field(description="table, bar or line: what suits the rows' shape")
    source: str = Field(description="llm, or curated:<key>")


class ColumnRead(BaseModel):
    name: str
    type: str
    description: str


class ViewRead(BaseModel):
    name: str
    description: str
    visibility: str
    columns: list[ColumnRead]


class ParameterRead(BaseModel):
    name: str
    kind: str = Field(
        description="college, date (YYYY-MM-DD), choice, text, or contains (a word to look for)"
    )
    label: str
    choices: list[str] = Field(description="the allowed values of a choice")


class CuratedRead(BaseModel):
    key: str
    title: str
    parameters: list[str]
    inputs: list[ParameterRead]
    chart: str


class CatalogueRead(BaseModel):
    views: list[ViewRead]
    curated: list[CuratedRead]
    llm_configured: bool
