"""A real sitting's plan (the medical bank) without a database, and a clock the tests move."""

from __future__ import annotations

import random

from newspeech.exams.form import ExamForm
from newspeech.exams.plan import ExamPlan
from newspeech.models import Question
from newspeech.questions.banks import BANKS_DIR, load_bank


def bank_questions(college: str = "medical") -> list[Question]:
    rows = load_bank(BANKS_DIR / f"{college}.yaml").question_rows()
    return [Question(id=100 + i, **row) for i, row in enumerate(rows)]


def bank_plan(college: str = "medical") -> ExamPlan:
    rows = bank_questions(college)
    return ExamForm.choose(college.title(), rows, len(rows), random.Random(0)).plan()


class FakeClock:
    """Monotonic seconds that move only when a test says so."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
