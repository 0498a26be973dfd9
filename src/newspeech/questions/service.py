"""Question banks: examiners edit the banks of their colleges, admins every bank.

A question saved with a model answer but no keywords gets keywords derived from its model answer
(:mod:`newspeech.grading.derive`), stored with ``"derived": true``; while every keyword is still
derived, changing the model answer derives them again. Keywords the examiner sends are theirs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from newspeech.audits.service import Auditor
from newspeech.auth.scope import Scope
from newspeech.db.errors import integrity_as_conflict
from newspeech.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from newspeech.exams.form import form_question_ids
from newspeech.exams.repository import ExamSessionRepository
from newspeech.grading.derive import derive_keywords
from newspeech.kit.pagination import PageRequest, fetch_page, order_by, where_given
from newspeech.models import Answer, Difficulty, Question, User
from newspeech.questions.repository import QuestionRepository, ScenarioSummary
from newspeech.questions.schemas import QuestionCreate, QuestionUpdate


@dataclass(frozen=True)
class QuestionFilter:
    college_type: str | None = None
    scenario_id: int | None = None
    difficulty: Difficulty | None = None
    category: str | None = None


SORTABLE = {
    "id": Question.id,
    "college_type": Question.college_type,
    "scenario_id": Question.scenario_id,
    "question_number": Question.question_number,
    "created_at": Question.created_at,
}


def _keyword_columns(keywords: list[dict[str, Any]] | None) -> dict[str, Any]:
    """The structured concepts plus the flat term list the seed's matcher counts."""
    if keywords is None:
        return {}
    stored = [{k: v for k, v in kw.items() if k != "derived" or v} for kw in keywords]
    return {"keywords": stored, "expected_keywords": [k["term"] for k in stored]}


def _derived_keywords(question_text: str, model_answer: str) -> list[dict[str, Any]]:
    return [
        {"term": k.term, "synonyms": [], "weight": 1, "derived": True}
        for k in derive_keywords(question_text, model_answer)
    ]


def _all_derived(keywords: list[dict[str, Any]] | None) -> bool:
    return all(k.get("derived") for k in keywords or ())


class QuestionService:
    def __init__(self, db: AsyncSession, auditor: Auditor, scope: Scope) -> None:
        self.db = db
        self.auditor = auditor
        self.scope = scope
        self.questions = QuestionRepository(db)

    async def search(self, f: QuestionFilter, page: PageRequest) -> tuple[list[Question], int]:
        query = select(Question)
        if not self.scope.is_admin:
            query = query.where(Question.college_type.in_(self.scope.colleges))
        query = where_given(
            query,
            (Question.college_type, "==", f.college_type),
            (Question.scenario_id, "==", f.scenario_id),
            (Question.difficulty_level, "==", f.difficulty),
            (Question.category, "==", f.category),
        )
        default = ["college_type", "scenario_id", "question_number"]
        query = query.order_by(*order_by(page.sort, SORTABLE, default))
        return await fetch_page(self.db, query, page)

    async def get(self, question_id: int) -> Question:
        question = await self.questions.get(question_id)
        if question is None or not self.scope.manages_college(question.college_type):
            raise NotFound(f"question {question_id} does not exist")
        return question

    async def scenarios(self, college_type: str) -> list[ScenarioSummary]:
        if not self.scope.manages_college(college_type):
            raise NotFound(f"question bank {college_type!r} does not exist")
        return await self.questions.scenarios(college_type)

    async def create(self, actor: User, data: QuestionCreate) -> Question:
        if not self.scope.manages_college(data.college_type):
            raise PermissionDenied(f"you do not manage the {data.college_type!r} bank")
        values = data.model_dump(exclude_none=True, exclude={"keywords"})
        keywords = data.model_dump()["keywords"]
        if not keywords and data.model_answer:
            keywords = _derived_keywords(data.question_text, data.model_answer)
        values |= _keyword_columns(keywords)
        question = Question(**values)
        self.db.add(question)
        async with integrity_as_conflict("cannot create question"):
            await self.db.flush()
        await self._audit("question.create", actor, question)
        return question

    async def update(self, actor: User, question_id: int, data: QuestionUpdate) -> Question:
        question = await self.get(question_id)
        changes = data.model_dump(exclude_unset=True, exclude={"keywords"})
        if any(value is None for key, value in changes.items() if key != "scenario_description"):
            raise ValidationFailed("only scenario_description may be set to null")
        if "keywords" in data.model_fields_set:
            changes |= _keyword_columns(data.model_dump()["keywords"])
        for name, value in changes.items():
            setattr(question, name, value)
        rederive = "model_answer" in changes and "keywords" not in data.model_fields_set
        if question.model_answer and (
            not question.keywords or (rederive and _all_derived(question.keywords))
        ):
            # Keywords nobody wrote follow the model answer until an examiner edits them.
            derived = _derived_keywords(question.question_text, question.model_answer)
            for name, value in _keyword_columns(derived).items():
                setattr(question, name, value)
            changes["keywords"] = derived
        if question.min_score > question.max_score:
            raise ValidationFailed("min_score must not exceed max_score")
        await self.db.flush()
        await self._audit("question.update", actor, question, {"fields": sorted(changes)})
        return question

    async def delete(self, actor: User, question_id: int) -> None:
        """Delete a question nobody has answered yet (answers keep their question)."""
        question = await self.get(question_id)
        answered = await self.db.scalar(
            select(Answer.id).where(Answer.question_bank_id == question.id).limit(1)
        )
        if answered is not None:
            raise Conflict(f"question {question_id} has answers; edit it instead of deleting")
        await self._ensure_on_no_unfinished_form(question)
        await self._audit("question.delete", actor, question)
        await self.db.delete(question)
        async with integrity_as_conflict(f"cannot delete question {question_id}"):
            await self.db.flush()

    async def _ensure_on_no_unfinished_form(self, question: Question) -> None:
        """An unfinished sitting will still ask the questions of its form (a sitting from before
        forms were stored asks the whole bank), so none of them may go until it ends."""
        sittings = ExamSessionRepository(self.db)
        for code, form in await sittings.unfinished_forms(question.college_type):
            if form is None or question.id in form_question_ids(form):
                raise Conflict(
                    f"question {question.id} is on the exam form of sitting {code}, "
                    "which has not finished; delete it after that"
                )

    async def _audit(
        self, action: str, actor: User, question: Question, extra: dict[str, Any] | None = None
    ) -> None:
        await self.auditor.record(
            action,
            actor_id=actor.id,
            resource_type="question",
            resource_id=question.id,
            details={"college_type": question.college_type, **(extra or {})},
        )
