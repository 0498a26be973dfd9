"""Opening a sitting: a new one (its exam form and configuration chosen and stored), or an
unfinished one picked up where the database says it stopped."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from newspeech.attempts.service import ensure_may_start
from newspeech.audits.repository import AuditLogRepository
from newspeech.configuration.current import current_config
from newspeech.db.engine import unit_of_work
from newspeech.errors import AttemptLimitReached, InvalidState, NotFound, PermissionDenied
from newspeech.exams.dependencies import ExamDependencies
from newspeech.exams.engine import ExamEngine
from newspeech.exams.lease import Lease, first_lease, take
from newspeech.exams.recorder import ExamRecorder, is_resumable
from newspeech.exams.repository import AnswerRepository, ExamSessionRepository
from newspeech.exams.setting import Setting, choose_form, config_of, form_of
from newspeech.models import Answer, ExamSession, SessionStatus, User, UserStatus


@dataclass(frozen=True)
class OpenedSitting:
    """A sitting as the conversation starts from it."""

    session_code: str
    college_type: str
    setting: Setting
    engine: ExamEngine
    recorder: ExamRecorder
    ungraded: list[Answer] = field(default_factory=list)
    """Stored answers never graded: graded before the examiner speaks."""
    resumed: bool = False
    """It already existed (a resume, or a start that resumed)."""


def _candidate_name(user: User) -> str:
    return user.full_name or user.username


async def _audit_refused(deps: ExamDependencies, user: User, college_type: str) -> None:
    if not deps.audit_enabled:
        return
    async with unit_of_work(deps.sessionmaker) as db:
        await AuditLogRepository(db).log(
            "exam.start_refused",
            user_id=user.id,
            status="failure",
            details={"college_type": college_type, "reason": AttemptLimitReached.code},
        )


async def open_sitting(deps: ExamDependencies, user: User, college_type: str) -> OpenedSitting:
    """The candidate's sitting of the college: their unfinished one, resumed (``resumed``
    is set), or a new one (pending until they confirm who they are) with its exam form,
    if the attempt policy allows another (``AttemptLimitReached`` if not)."""
    if user.status is not UserStatus.ACTIVE:
        raise PermissionDenied(f"user {user.username} is {user.status.value}")
    try:
        async with unit_of_work(deps.sessionmaker) as db:
            sittings = ExamSessionRepository(db)
            unfinished = await sittings.unfinished_for(user.id, college_type)
            if unfinished is None:
                return await _create(deps, db, user, college_type)
        return await _take_and_reopen(deps, unfinished.id, user)
    except AttemptLimitReached:
        await _audit_refused(deps, user, college_type)
        raise


async def _create(
    deps: ExamDependencies, db: AsyncSession, user: User, college_type: str
) -> OpenedSitting:
    """A new sitting of the college (and its lease), in the caller's transaction."""
    sittings = ExamSessionRepository(db)
    attempts = await ensure_may_start(db, user.id, college_type)
    config = await current_config(db)
    form = await choose_form(db, college_type, config.total_questions, deps.rng)
    setting = Setting.of(form, config)
    exam_session = await sittings.create(
        user_id=user.id,
        college_type=college_type,
        total_questions=len(setting.plan.questions),
        exam_form=form.to_json(),
        attempt_number=attempts.used + 1,
        config_snapshot=config.snapshot(),
    )
    recorder = ExamRecorder(
        deps.sessionmaker,
        exam_session.id,
        user_id=user.id,
        audit_enabled=deps.audit_enabled,
        lease=await first_lease(db, exam_session.id, deps.lease),
    )
    await recorder.audit_in(
        db,
        "exam.created",
        {
            "college_type": college_type,
            "attempt": exam_session.attempt_number,
            "attempts_allowed": attempts.allowed,
            "questions": [q.question_id for q in setting.plan.questions],
        },
    )
    return OpenedSitting(
        session_code=exam_session.session_code,
        college_type=college_type,
        setting=setting,
        engine=ExamEngine(setting.plan, setting.rules, _candidate_name(user), deps.clock),
        recorder=recorder,
    )


async def resume_sitting(deps: ExamDependencies, session_code: str, user: User) -> OpenedSitting:
    """Pick up an interrupted sitting where the database says it stopped."""
    async with unit_of_work(deps.sessionmaker) as db:
        exam_session = await ExamSessionRepository(db).get_by_code(session_code)
        if exam_session is None:
            raise NotFound(f"exam session {session_code} does not exist")
        if exam_session.user_id != user.id:
            raise PermissionDenied(f"exam session {session_code} belongs to another user")
        _ensure_resumable(exam_session)
    return await _take_and_reopen(deps, exam_session.id, user)


async def _take_and_reopen(
    deps: ExamDependencies, exam_session_id: int, user: User
) -> OpenedSitting:
    """Take the sitting over (any loop still running it, on any node, writes nothing more),
    then read it: the take commits first, so what that loop stored before is read."""
    lease = await take(deps.sessionmaker, exam_session_id, deps.lease)
    async with unit_of_work(deps.sessionmaker) as db:
        await lease.check_in(db)  # still ours: no later opening took it meanwhile
        exam_session = await ExamSessionRepository(db).get(exam_session_id)
        if exam_session is None:
            raise NotFound(f"exam session {exam_session_id} no longer exists")
        return await _reopen(deps, db, exam_session, user, lease)


def _ensure_resumable(exam_session: ExamSession) -> None:
    if not is_resumable(exam_session.status):
        raise InvalidState(
            f"exam session {exam_session.session_code} is {exam_session.status.value}; "
            "only a pending or in-progress sitting can be resumed"
        )


async def _reopen(
    deps: ExamDependencies,
    db: AsyncSession,
    exam_session: ExamSession,
    user: User,
    lease: Lease,
) -> OpenedSitting:
    """Resume with the sitting's own form: questions already answered or passed are not
    asked again; stored answers never graded are graded before the examiner speaks."""
    code = exam_session.session_code
    _ensure_resumable(exam_session)
    form = await form_of(db, exam_session, deps.rng)
    setting = Setting.of(form, await config_of(db, exam_session))
    answers = await AnswerRepository(db).for_session(exam_session.id)
    unevaluated = await AnswerRepository(db).unevaluated(exam_session.id)
    recorder = ExamRecorder(
        deps.sessionmaker,
        exam_session.id,
        user_id=user.id,
        audit_enabled=deps.audit_enabled,
        lease=lease,
    )
    confirmed = exam_session.status is SessionStatus.IN_PROGRESS
    start = exam_session.start_time
    elapsed = (deps.wall_clock() - start).total_seconds() if start and confirmed else 0.0
    await recorder.audit_in(
        db, "exam.resumed", {"answers": len(answers), "elapsed_seconds": round(elapsed)}
    )
    engine = ExamEngine(
        setting.plan,
        setting.rules,
        _candidate_name(user),
        deps.clock,
        confirmed=confirmed,
        done={a.question_number for a in answers},
        elapsed_seconds=max(elapsed, 0.0),
    )
    return OpenedSitting(
        session_code=code,
        college_type=exam_session.college_type,
        setting=setting,
        engine=engine,
        recorder=recorder,
        ungraded=[a for a in unevaluated if a.is_complete and a.transcribed_text is not None],
        resumed=True,
    )
