"""The examiner's review: queue by question, flag, override, regrade (docs/examiner-api.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from newspeech.auth.deps import ExaminerUser
from newspeech.kit.ids import Id
from newspeech.kit.pagination import MAX_PAGE_SIZE
from newspeech.kit.responses import COMMON_ERRORS
from newspeech.results.schemas import ResultRead
from newspeech.review.deps import GraderDep, ReviewServiceDep
from newspeech.review.record import answer_mark
from newspeech.review.regrade import regrade_question
from newspeech.review.repository import ReviewItem
from newspeech.review.schemas import (
    FlagCreate,
    MarkRead,
    OverrideCreate,
    OverrideRead,
    QueuedQuestionRead,
    RegradeRead,
    RegradeRequest,
    ReviewAnswerRead,
    ReviewedEvaluationRead,
    ReviewPage,
)
from newspeech.review.service import default_seed

router = APIRouter(tags=["review"], responses=COMMON_ERRORS)


@router.get("/review/questions")
async def review_queue(service: ReviewServiceDep) -> list[QueuedQuestionRead]:
    """Questions with answers waiting for review, in the colleges you manage."""
    return [QueuedQuestionRead(**vars(q)) for q in await service.queue()]


def _read(item: ReviewItem) -> ReviewAnswerRead:
    answer, evaluation = item.answer, item.evaluation
    return ReviewAnswerRead(
        answer_id=answer.id,
        session_id=answer.session_id,
        session_code=item.exam_session.session_code,
        student_name=item.student.full_name or item.student.username,
        transcript=answer.transcribed_text,
        corrected_transcript=answer.answer_text if answer.term_corrected else None,
        score=evaluation.score_obtained,
        max_score=evaluation.max_score,
        feedback_type=evaluation.feedback_type,
        evaluator_type=evaluation.evaluator_type,
        review_reasons=[str(r) for r in evaluation.review_reasons or []],
        asr_confidence=answer.confidence_score,
        audio_url=f"/api/v1/answers/{answer.id}/audio" if answer.answer_audio_path else None,
        reviewed_at=evaluation.reviewed_at,
        mark=MarkRead.of(answer_mark(evaluation)),
    )


@router.get("/review/questions/{question_id}/answers")
async def review_answers(
    question_id: Id,
    user: ExaminerUser,
    service: ReviewServiceDep,
    seed: Annotated[int | None, Query(ge=0, le=2**32 - 1)] = None,
    include_reviewed: bool = False,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
) -> ReviewPage:
    """The question's answers waiting for review, in random order: the same ``seed`` gives
    the same order (default: one fixed per examiner), so pages do not overlap."""
    seed = default_seed(user.id) if seed is None else seed
    items = await service.answers(question_id, seed=seed, include_reviewed=include_reviewed)
    start = (page - 1) * size
    return ReviewPage(
        items=[_read(item) for item in items[start : start + size]],
        total=len(items),
        page=page,
        size=size,
        seed=seed,
    )


@router.post("/answers/{answer_id}/flag")
async def flag_answer(
    answer_id: Id, body: FlagCreate, user: ExaminerUser, service: ReviewServiceDep
) -> ReviewedEvaluationRead:
    """Put any graded answer in the review queue, with a reason."""
    evaluation = await service.flag(user, answer_id, body.reason)
    return ReviewedEvaluationRead.model_validate(evaluation)


@router.post("/answers/{answer_id}/override")
async def override_answer(
    answer_id: Id, body: OverrideCreate, user: ExaminerUser, service: ReviewServiceDep
) -> OverrideRead:
    """Change the score by hand (mandatory comment). The machine's first grade is kept in
    ``machine_grade``; the sitting's result is re-summed in the same transaction. 409 when the
    answer has no evaluation yet."""
    outcome = await service.override(user, answer_id, body.score, body.comment)
    return OverrideRead(
        evaluation=ReviewedEvaluationRead.model_validate(outcome.evaluation),
        result=None if outcome.result is None else ResultRead.model_validate(outcome.result),
    )


@router.post("/questions/{question_id}/regrade")
async def regrade(
    question_id: Id,
    body: RegradeRequest,
    user: ExaminerUser,
    service: ReviewServiceDep,
    grader: GraderDep,
    request: Request,
) -> RegradeRead:
    """Grade every stored answer to the question again against its current keywords and model
    answer. ``apply: false`` (default) lists the changes and stores nothing; ``apply: true``
    stores them with the results they change and audit rows. Manual overrides are skipped."""
    question = await service.question(question_id)
    report = await regrade_question(
        service.db,
        question,
        grader,
        apply=body.apply,
        auditor=service.auditor,
        actor_id=user.id,
        cache=request.app.state.statistics_cache,
    )
    return RegradeRead.model_validate(report)
