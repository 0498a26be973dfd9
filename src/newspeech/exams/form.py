"""The exam form of one sitting: which cases and questions it asks, chosen when it starts and
stored with it (``sessions.exam_form``).

A form is a snapshot: each question's words, key terms, model answer and marking guidelines as
they stood when the sitting started. Asking, resuming and grading read the form, never the live
bank, so a question edited or imported into the bank reaches only sittings that start later.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from newspeech.errors import InvalidState, ValidationFailed
from newspeech.exams.plan import ExamPlan, PlannedQuestion, PlannedScenario
from newspeech.models import Question
from newspeech.voice.bias import hotwords

FORM_VERSION = 1


def form_question_ids(data: Mapping[str, Any]) -> set[int]:
    """The ``question_banks`` ids a stored form asks (an unreadable form asks none)."""
    try:
        return {int(q["question_id"]) for s in data["scenarios"] for q in s["questions"]}
    except (KeyError, TypeError, ValueError):
        return set()


@dataclass(frozen=True)
class FormQuestion:
    """One question as it was when the form was chosen (what grading needs of it, too)."""

    id: int
    """The ``question_banks`` row (``answers.question_bank_id``)."""
    question_text: str
    keywords: list[Any] | None
    expected_keywords: list[Any] | None
    model_answer: str | None
    answer_guidelines: str | None
    max_score: int

    def keyword_forms(self) -> list[list[str]]:
        """Each key term's forms, the term first and then its synonyms (the flat
        ``expected_keywords`` when the question has no structured ones)."""
        forms = [
            [str(k["term"]), *(str(s) for s in k.get("synonyms") or ())]
            for k in self.keywords or ()
            if isinstance(k, Mapping) and k.get("term")
        ]
        return forms or [[str(k)] for k in self.expected_keywords or ()]

    @classmethod
    def of(cls, row: Question) -> FormQuestion:
        return cls(
            id=row.id,
            question_text=row.question_text,
            keywords=row.keywords,
            expected_keywords=row.expected_keywords,
            model_answer=row.model_answer,
            answer_guidelines=row.answer_guidelines,
            max_score=row.max_score,
        )


@dataclass(frozen=True)
class FormScenario:
    scenario_id: int
    name: str
    case: str
    questions: tuple[FormQuestion, ...]


@dataclass(frozen=True)
class ExamForm:
    college_name: str
    scenarios: tuple[FormScenario, ...]

    @property
    def questions(self) -> tuple[FormQuestion, ...]:
        return tuple(q for scenario in self.scenarios for q in scenario.questions)

    def by_id(self) -> dict[int, FormQuestion]:
        return {q.id: q for q in self.questions}

    @classmethod
    def choose(
        cls,
        college_name: str,
        rows: Sequence[Question],
        total: int,
        rng: random.Random,
    ) -> ExamForm:
        """At most ``total`` questions of the bank, as whole cases where they fit.

        A bank of ``total`` questions or fewer is asked whole. A larger one: cases are taken in
        a random order while they fit whole; what is still missing is filled with the first
        questions of a case not taken. The chosen cases keep their order in the bank, and each
        case its questions in order.
        """
        if not rows:
            raise ValidationFailed(f"the {college_name} question bank is empty")
        if total < 1:
            raise ValidationFailed(f"total_questions must be at least 1, not {total}")
        bank: dict[int, list[Question]] = {}
        for row in sorted(rows, key=lambda r: (r.scenario_id, r.question_number)):
            bank.setdefault(row.scenario_id, []).append(row)
        chosen = dict(bank)
        if len(rows) > total:
            order = list(bank)
            rng.shuffle(order)
            chosen, left = {}, total
            for scenario_id in order:
                if len(bank[scenario_id]) <= left:
                    chosen[scenario_id] = bank[scenario_id]
                    left -= len(bank[scenario_id])
            for scenario_id in order:
                if left and scenario_id not in chosen:
                    chosen[scenario_id] = bank[scenario_id][:left]
                    left -= len(chosen[scenario_id])
        scenarios = []
        for scenario_id in sorted(chosen):
            first = bank[scenario_id][0]
            scenarios.append(
                FormScenario(
                    scenario_id=scenario_id,
                    name=first.scenario_name,
                    case=first.scenario_description or first.scenario_name,
                    questions=tuple(FormQuestion.of(row) for row in chosen[scenario_id]),
                )
            )
        return cls(college_name=college_name, scenarios=tuple(scenarios))

    def plan(self) -> ExamPlan:
        """What the engine asks: the form's cases and questions, numbered 1..N overall."""
        scenarios, number = [], 0
        for index, scenario in enumerate(self.scenarios, start=1):
            planned = []
            for question in scenario.questions:
                number += 1
                terms = hotwords(question.keyword_forms())
                planned.append(
                    PlannedQuestion(
                        number,
                        index,
                        scenario.scenario_id,
                        question.question_text,
                        question.id,
                        terms,
                    )
                )
            scenarios.append(
                PlannedScenario(
                    index=index,
                    scenario_id=scenario.scenario_id,
                    name=scenario.name,
                    case=scenario.case,
                    questions=tuple(planned),
                )
            )
        return ExamPlan(college_name=self.college_name, scenarios=tuple(scenarios))

    def to_json(self) -> dict[str, Any]:
        return {
            "version": FORM_VERSION,
            "college_name": self.college_name,
            "scenarios": [
                {
                    "scenario_id": s.scenario_id,
                    "name": s.name,
                    "case": s.case,
                    "questions": [
                        {
                            "question_id": q.id,
                            "question_text": q.question_text,
                            "keywords": q.keywords,
                            "expected_keywords": q.expected_keywords,
                            "model_answer": q.model_answer,
                            "answer_guidelines": q.answer_guidelines,
                            "max_score": q.max_score,
                        }
                        for q in s.questions
                    ],
                }
                for s in self.scenarios
            ],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ExamForm:
        if data.get("version") != FORM_VERSION:
            raise InvalidState(f"exam form version {data.get('version')!r} is not supported")
        try:
            return cls(
                college_name=str(data["college_name"]),
                scenarios=tuple(
                    FormScenario(
                        scenario_id=int(s["scenario_id"]),
                        name=str(s["name"]),
                        case=str(s["case"]),
                        questions=tuple(
                            FormQuestion(
                                id=int(q["question_id"]),
                                question_text=str(q["question_text"]),
                                keywords=q.get("keywords"),
                                expected_keywords=q.get("expected_keywords"),
                                model_answer=q.get("model_answer"),
                                answer_guidelines=q.get("answer_guidelines"),
                                max_score=int(q["max_score"]),
                            )
                            for q in s["questions"]
                        ),
                    )
                    for s in data["scenarios"]
                ),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidState(f"the stored exam form is damaged: {exc!r}") from exc
