from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, status

from newspeech.auth.deps import AuditorDep, ExaminerUser, ScopeDep
from newspeech.db.deps import DbSession
from newspeech.kit.ids import Id, ScenarioId
from newspeech.kit.pagination import Page, PageRequest
from newspeech.kit.responses import COMMON_ERRORS
from newspeech.models import Difficulty
from newspeech.questions.schemas import (
    QuestionBankRead,
    QuestionCreate,
    QuestionRead,
    QuestionUpdate,
    ScenarioRead,
)
from newspeech.questions.service import QuestionFilter, QuestionService

router = APIRouter(tags=["questions"], responses=COMMON_ERRORS)


def get_service(
    db: DbSession, auditor: AuditorDep, scope: ScopeDep, _user: ExaminerUser
) -> QuestionService:
    return QuestionService(db, auditor, scope)


ServiceDep = Annotated[QuestionService, Depends(get_service)]


@router.get("/question-banks/{college_type}")
async def get_question_bank(
    college_type: Annotated[str, Path(max_length=50)], service: ServiceDep
) -> QuestionBankRead:
    """A college's scenarios with their case text and question counts."""
    scenarios = await service.scenarios(college_type)
    return QuestionBankRead(
        college_type=college_type,
        scenarios=[ScenarioRead(**vars(s)) for s in scenarios],
    )


@router.get("/questions")
async def list_questions(
    service: ServiceDep,
    page: Annotated[PageRequest, Query()],
    college_type: Annotated[str | None, Query(max_length=50)] = None,
    scenario_id: ScenarioId | None = None,
    difficulty: Difficulty | None = None,
    category: Annotated[str | None, Query(max_length=100)] = None,
) -> Page[QuestionRead]:
    """Questions of the banks you manage. Sortable by id, college_type, scenario_id,
    question_number, created_at."""
    f = QuestionFilter(college_type, scenario_id, difficulty, category)
    rows, total = await service.search(f, page)
    return Page(
        items=[QuestionRead.model_validate(q) for q in rows],
        total=total,
        page=page.page,
        size=page.size,
    )


@router.post("/questions", status_code=status.HTTP_201_CREATED)
async def create_question(
    body: QuestionCreate, user: ExaminerUser, service: ServiceDep
) -> QuestionRead:
    return QuestionRead.model_validate(await service.create(user, body))


@router.get("/questions/{question_id}")
async def get_question(question_id: Id, service: ServiceDep) -> QuestionRead:
    return QuestionRead.model_validate(await service.get(question_id))


@router.patch("/questions/{question_id}")
async def update_question(
    question_id: Id, body: QuestionUpdate, user: ExaminerUser, service: ServiceDep
) -> QuestionRead:
    """Answers already given keep the question text they were given with."""
    return QuestionRead.model_validate(await service.update(user, question_id, body))


@router.delete("/questions/{question_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_question(question_id: Id, user: ExaminerUser, service: ServiceDep) -> None:
    """Only questions nobody has answered (409 otherwise)."""
    await service.delete(user, question_id)
