"""Question banks shipped as YAML data files (``questions/banks/<college>.yaml``).

Each file is one college type: its scenarios (a short case read aloud) and each scenario's
questions with keywords, accepted synonyms, weights, a model answer and marking guidelines.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from newspeech.enums import Difficulty
from newspeech.errors import ValidationFailed

BANKS_DIR = Path(__file__).with_name("banks")


class KeywordSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    term: str = Field(min_length=1, max_length=100)
    synonyms: list[str] = Field(default_factory=list)
    weight: int = Field(default=1, ge=1, le=3)
    derived: bool = False
    """Derived from the model answer (:mod:`newspeech.grading.derive`), not written by an
    examiner; the question editor shows it so, and editing it makes it the examiner's own."""

    def stored(self) -> dict[str, Any]:
        """The ``keywords`` JSON entry; ``derived`` only when set, so curated rows keep their
        shape."""
        return self.model_dump(exclude=None if self.derived else {"derived"})


class QuestionSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question_number: int = Field(ge=1)
    question: str = Field(min_length=10)
    category: str = Field(min_length=1, max_length=100)
    difficulty: Difficulty
    keywords: list[KeywordSpec] = Field(min_length=1)
    model_answer: str = Field(min_length=10)
    guidelines: str = Field(min_length=10)


class ScenarioSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scenario_id: int = Field(ge=1)
    name: str = Field(min_length=1, max_length=255)
    case: str = Field(min_length=20)
    questions: list[QuestionSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _numbered_in_order(self) -> ScenarioSpec:
        numbers = [q.question_number for q in self.questions]
        if numbers != list(range(1, len(numbers) + 1)):
            raise ValueError(f"question numbers must run 1..{len(numbers)}, got {numbers}")
        return self


class BankSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    college_type: str = Field(pattern=r"^[a-z][a-z0-9_]{1,49}$")
    name: str = Field(min_length=1, max_length=100)
    description: str | None = None
    scenarios: list[ScenarioSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_scenarios(self) -> BankSpec:
        ids = [s.scenario_id for s in self.scenarios]
        if len(set(ids)) != len(ids):
            raise ValueError(f"scenario ids repeat: {ids}")
        return self

    def question_rows(self) -> list[dict[str, Any]]:
        """Rows for the ``question_banks`` table."""
        return [
            {
                "college_type": self.college_type,
                "scenario_id": scenario.scenario_id,
                "scenario_name": scenario.name,
                "scenario_description": scenario.case,
                "question_number": question.question_number,
                "question_text": question.question,
                "category": question.category,
                "difficulty_level": question.difficulty,
                "keywords": [keyword.stored() for keyword in question.keywords],
                "expected_keywords": [keyword.term for keyword in question.keywords],
                "model_answer": question.model_answer,
                "answer_guidelines": question.guidelines,
                "max_score": 10,
                "min_score": 0,
            }
            for scenario in self.scenarios
            for question in scenario.questions
        ]


def load_bank(path: Path) -> BankSpec:
    """Parse and validate one bank file; errors name the file and the offending field."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ValidationFailed(f"{path}: cannot read question bank: {exc}") from exc
    try:
        return BankSpec.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ValidationFailed(f"{path}: invalid question bank: {problems}") from exc


def load_banks(folder: Path = BANKS_DIR) -> list[BankSpec]:
    banks = [load_bank(path) for path in sorted(folder.glob("*.yaml"))]
    if not banks:
        raise ValidationFailed(f"no question banks (*.yaml) in {folder}")
    return banks
