"""The real bank questions and the gaming suite (``gaming_cases.yaml``) as test data."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from newspeech.grading import GradingQuestion
from newspeech.questions.banks import load_banks

CASES_FILE = Path(__file__).with_name("gaming_cases.yaml")
KINDS = {"stuffing", "injection", "padding", "repetition", "negation", "honest"}


@cache
def bank_questions() -> dict[tuple[str, int, int], GradingQuestion]:
    """Every shipped question by (college, scenario id, question number)."""
    return {
        (bank.college_type, row["scenario_id"], row["question_number"]): (
            GradingQuestion.from_mapping(row)
        )
        for bank in load_banks()
        for row in bank.question_rows()
    }


def bank_question(college: str, scenario: int, number: int) -> GradingQuestion:
    return bank_questions()[(college, scenario, number)]


@dataclass(frozen=True)
class GamingCase:
    id: str
    college: str
    scenario: int
    question: int
    kind: str
    transcript: str
    max_score: int | None = None
    min_score: int | None = None
    review: bool | None = None

    @property
    def honest(self) -> bool:
        return self.kind == "honest"

    def grading_question(self) -> GradingQuestion:
        return bank_question(self.college, self.scenario, self.question)

    def acceptable(self, score: int) -> bool:
        """Within the case's bound: at most ``max_score``, or at least ``min_score``."""
        if self.max_score is not None and score > self.max_score:
            return False
        return self.min_score is None or score >= self.min_score


def load_cases(path: Path = CASES_FILE) -> list[GamingCase]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    cases = [GamingCase(**item) for item in data["cases"]]
    for case in cases:
        if case.kind not in KINDS:
            raise ValueError(f"{case.id}: unknown kind {case.kind!r}")
        if (case.min_score is None) == (case.max_score is None):
            raise ValueError(f"{case.id}: give exactly one of max_score, min_score")
        if case.honest != (case.min_score is not None):
            raise ValueError(f"{case.id}: honest cases take min_score, gaming cases max_score")
    return cases
