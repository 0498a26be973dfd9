"""How a sitting's scores become a result: percentage, grade and pass/fail, in one place.

Defaults follow the seed: 12 questions x 10 points = 120; grades A/B/C/D at 90/80/70/60 %; pass
at 50 % (60/120). Admins change ``pass_percentage`` and the grade bands (``grade_thresholds``) in
the configuration table.

One rule keeps the grade and the pass mark from contradicting each other: **the lowest passing
band starts at the pass mark**. Below the pass mark the grade is always F. When the pass mark is
below the lowest configured band, one more band fills the gap, lettered after the lowest one
(with the seed's bands and pass mark: E for 50-59 %). A band floor below the pass mark is raised
to it (a fail is never graded D). A configuration whose passes would print as F (a band called
F, or a filler band that would be lettered F) is refused.
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
PASS_GRADE = "P"  # the one band when no grade bands are configured


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
        letters = [grade for grade, _floor in self.passing_bands]
        if any(len(letter) != 1 for letter in letters):
            raise ValueError(f"grades are one character each (got {letters})")
        if FAIL_GRADE in letters or len(set(letters)) != len(letters):
            raise ValueError(
                f"grade bands {dict(self.grade_bands)} with pass_percentage "
                f"{self.pass_percentage:g} would print a pass as {FAIL_GRADE} or two bands "
                f"with one letter: the lowest passing band starts at the pass mark and is "
                f"lettered after the lowest configured band; name the bands other than "
                f"{FAIL_GRADE}, or raise pass_percentage to the lowest band's floor"
            )

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

    @property
    def passing_bands(self) -> tuple[tuple[str, float], ...]:
        """The bands as graded: none starts below the pass mark, and the lowest starts at it
        (a filler band, lettered after the lowest configured one, when they leave a gap)."""
        bands = [(g, max(f, self.pass_percentage)) for g, f in self.grade_bands]
        bands = [b for i, b in enumerate(bands) if i == 0 or b[1] < bands[i - 1][1]]
        if not bands:
            return ((PASS_GRADE, self.pass_percentage),)
        lowest_grade, lowest_floor = bands[-1]
        if lowest_floor > self.pass_percentage:
            bands.append((_next_letter(lowest_grade), self.pass_percentage))
        return tuple(bands)

    def grade_for(self, percentage: float) -> str:
        if percentage < self.pass_percentage:
            return FAIL_GRADE
        for grade, floor in self.passing_bands:
            if percentage >= floor:
                return grade
        return FAIL_GRADE


def _next_letter(grade: str) -> str:
    """The letter after ``grade`` (D -> E); a grade that is not a letter gets the fail letter,
    which the policy then refuses."""
    if len(grade) == 1 and grade.isalpha() and grade.upper() < "Z":
        return chr(ord(grade.upper()) + 1)
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
    """Total, percentage of the maximum (unanswered questions count as 0), grade, pass.

    The maximum is the policy's (``total_questions`` x ``points_per_question``), or what the
    answered questions were worth when that is more (more questions than the policy counts, say
    after ``total_questions`` was lowered mid-sitting, or questions worth more than
    ``points_per_question``): a score is never over 100 %.
    """
    total = sum(score.score for score in scores)
    maximum = max(policy.max_score, sum(score.max_score for score in scores))
    percentage = min(100.0, round(100.0 * total / maximum, 2))
    return ResultSummary(
        total_score=total,
        max_score=maximum,
        percentage=percentage,
        grade=policy.grade_for(percentage),
        passed=percentage >= policy.pass_percentage,
        questions=tuple(scores),
    )
