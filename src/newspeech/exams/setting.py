"""What a sitting is opened with: its exam form (chosen from the bank when it starts, read back
when it resumes) and its configuration (the values stored when it starts, read back when it
resumes): the clock rules, the grading thresholds, the result policy, the voice settings."""

from __future__ import annotations

import random
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from newspeech.colleges.repository import CollegeTypeRepository
from newspeech.configuration.current import current_config
from newspeech.configuration.keys import ExamConfig
from newspeech.errors import NotFound
from newspeech.exams.form import ExamForm, FormQuestion
from newspeech.exams.plan import ExamPlan, ExamRules
from newspeech.exams.repository import ExamSessionRepository
from newspeech.models import ExamSession
from newspeech.questions.repository import QuestionRepository
from newspeech.results.rules import ResultPolicy


@dataclass(frozen=True)
class Setting:
    """What start and resume load from the database before the first word is said."""

    plan: ExamPlan
    questions: dict[int, FormQuestion]
    """The form's questions by ``question_banks`` id: what each answer is stored and graded
    against."""
    rules: ExamRules
    policy: ResultPolicy
    config: ExamConfig
    """Every value the sitting runs on; ``rules`` and ``policy`` are built from it."""

    @classmethod
    def of(cls, form: ExamForm, config: ExamConfig) -> Setting:
        values = config.values()
        return cls(
            plan=form.plan(),
            questions=form.by_id(),
            rules=ExamRules.from_config(values),
            policy=ResultPolicy.from_config(values),
            config=config,
        )


async def choose_form(
    db: AsyncSession, college_type: str, total: int | None, rng: random.Random
) -> ExamForm:
    """A form from the live bank: ``total`` questions (``None``: the whole bank)."""
    college = await CollegeTypeRepository(db).get(college_type)
    rows = await QuestionRepository(db).for_college(college_type)
    if college is None or not rows:
        raise NotFound(f"college type {college_type!r} does not exist or has no questions")
    return ExamForm.choose(college.name, rows, len(rows) if total is None else total, rng)


async def form_of(db: AsyncSession, exam_session: ExamSession, rng: random.Random) -> ExamForm:
    """The sitting's stored form. A sitting created before forms were stored was planned on
    the whole bank: it gets that, stored now, so it does not change again."""
    sittings = ExamSessionRepository(db)
    stored = await sittings.form_of(exam_session.id)
    if stored is not None:
        return ExamForm.from_json(stored)
    form = await choose_form(db, exam_session.college_type, None, rng)
    await sittings.set_form(exam_session.id, form.to_json())
    return form


async def config_of(db: AsyncSession, exam_session: ExamSession) -> ExamConfig:
    """The configuration the sitting started with. A sitting created before it was stored
    takes the values stored now, stored with it, so they do not change again."""
    sittings = ExamSessionRepository(db)
    stored = await sittings.config_of(exam_session.id)
    if stored is not None:
        return ExamConfig.from_values(stored)
    config = await current_config(db)
    await sittings.set_config(exam_session.id, config.snapshot())
    return config
