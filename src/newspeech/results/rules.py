"""How a sitting's scores become a result: percentage, grade and pass/fail, in one place.

Defaults follow the seed: 12 questions x 10 points = 120; grades A/B/C/D at 90/80/70/60 % and F
below; pass at 50 % (60/120). Note the seed's quirk, kept on purpose: a candidate with 50-59 %
passes while graded F. Admins change ``pass_percentage`` (and the grade bands) in the
configuration table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

DEFAULT_GRADE_BANDS: tuple[tuple[str, float], ...] = (
    ("A", 90.0),
    ("B", 80.0),
    ("C", 70.0),
    ("D", 60.0),
)
FAIL_GRADE = "F"


@dataclass(frozen=True)
class QuestionScore:
    question_number: int
    score: int
    max_score: int = 10


@dataclass(frozen=True)
class ResultPolicy:
    total_questions: int = 12
    points_per_question: int = 10
    pass_percentage: float = 50.0
    grade_bands: tuple[tuple[str, float], ...] = DEFAULT_GRADE_BANDS

    def __post_init__(self) -> None:
        if self.total_questions < 1 or self.points_per_question < 1:
            raise ValueError("a result needs at least one question worth at least one point")
        if not 0.0 <= self.pass_percentage <= 100.0:
            raise ValueError(f"pass_percentage {self.pass_percentage} is outside 0..100")
        floors = [floor for _grade, floor in self.grade_bands]
        if floors != sorted(floors, reverse=True):
            raise ValueError("grade bands must be listed from the highest floor down")

    @property
    def max_score(self) -> int:
        return self.total_questions * self.points_per_question

    @classmethod
    def from_config(cls, values: Mapping[str, Any]) -> ResultPolicy:
        """Build from configuration values (missing keys keep the defaults)."""
        bands = values.get("grade_thresholds")
        return cls(
            total_questions=int(values.get("total_questions", cls.total_questions)),
            points_per_question=int(values.get("points_per_question", cls.points_per_question)),
            pass_percentage=float(values.get("pass_percentage", cls.pass_percentage)),
            grade_bands=tuple(
                sorted(((str(g), float(f)) for g, f in bands.items()), key=lambda b: -b[1])
            )
            if isinstance(bands, Mapping)
            else DEFAULT_GRADE_BANDS,
        )

    def grade_for(self, percentage: float) -> str:
        for grade, floor in self.grade_bands:
            if percentage >= floor:
                return grade
        return FAIL_GRADE


@dataclass(frozen=True)
class ResultSummary:
    total_score: int
    max_score: int
    percentage: float
    grade: str
    passed: bool
    questions: Sequence[QuestionScore] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        return {
            "total": self.total_score,
            "max_score": self.max_score,
            "percentage": self.percentage,
            "grade": self.grade,
            "pass": self.passed,
            "questions": [
                {"question_number": q.question_number, "score": q.score, "max_score": q.max_score}
                for q in self.questions
            ],
        }


def summarise(scores: Sequence[QuestionScore], policy: ResultPolicy) -> ResultSummary:
    """Total, percentage of the policy's maximum (unanswered questions count as 0), grade, pass."""
    total = sum(score.score for score in scores)
    percentage = round(100.0 * total / policy.max_score, 2)
    return ResultSummary(
        total_score=total,
        max_score=policy.max_score,
        percentage=percentage,
        grade=policy.grade_for(percentage),
        passed=percentage >= policy.pass_percentage,
        questions=tuple(scores),
    )
