"""When an admin's edit of the exam configuration takes effect, on every database backend: a new
sitting takes the values stored when it starts and keeps them (through resumes, in its grading,
in what its voice loop is given); running sittings keep theirs."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from newspeech.audits.service import Auditor, ClientInfo
from newspeech.auth.service import Authenticated
from newspeech.configuration.keys import ExamConfig
from newspeech.configuration.schemas import ConfigEntryWrite
from newspeech.configuration.service import ConfigurationService
from newspeech.exams.dependencies import ExamDependencies
from newspeech.exams.live import LiveSittings
from newspeech.exams.opener import ServiceOpener
from newspeech.exams.service import ExamConversation
from newspeech.exams.ws import StartExam
from newspeech.grading.factory import keyword_graders
from newspeech.models import Evaluation, ExamSession, User, UserRole
from newspeech.voice.pool import InferencePool
from newspeech.voice.session import LoopSettings
from tests.exams.plans import FakeClock
from tests.exams.test_service import Candidate
from tests.exams.test_sittings import MODEL_ANSWERS
from tests.fixtures.factories import make_user

EDITS: dict[str, Any] = {
    "session_time_limit_minutes": 1,
    "asr_review_confidence_threshold": 0.95,
    "vad_sensitivity": 0.8,
    "asr_language": "de-DE",
    "llm_temperature": 0.5,
}


@pytest.fixture
def exam_deps(
    sessionmaker: async_sessionmaker[AsyncSession], pool: InferencePool
) -> ExamDependencies:
    graders = keyword_graders()
    return ExamDependencies(
        sessionmaker=sessionmaker,
        grader=graders.get(ExamConfig().thresholds, 0.0),
        grader_for=lambda config: graders.get(config.thresholds, config.llm_temperature),
        clock=FakeClock(),
    )


async def edit(db: AsyncSession, values: dict[str, Any]) -> None:
    """An admin's edit, through the service the API uses."""
    admin = await make_user(db, role=UserRole.ADMIN)
    service = ConfigurationService(db, Auditor(db, ClientInfo()))
    for key, value in values.items():
        await service.write(admin, key, ConfigEntryWrite(value=value))
    await db.commit()


async def started(deps: ExamDependencies, user: User) -> Candidate:
    conversation = await ExamConversation.start(deps, user, "medical")
    assert isinstance(deps.clock, FakeClock)
    candidate = Candidate(conversation, deps.clock)
    await conversation.begin()
    await candidate.say("Yes, that's me.", seconds=1.0)
    return candidate


async def snapshot(db: AsyncSession, code: str) -> dict[str, Any] | None:
    await db.commit()
    query = select(ExamSession.config_snapshot).where(ExamSession.session_code == code)
    stored: dict[str, Any] | None = await db.scalar(query)
    return stored


async def needs_review(db: AsyncSession, code: str) -> list[bool]:
    await db.commit()
    query = (
        select(Evaluation.needs_review)
        .join(ExamSession, ExamSession.id == Evaluation.session_id)
        .where(ExamSession.session_code == code)
        .order_by(Evaluation.id)
    )
    return list(await db.scalars(query))


async def test_an_admin_edit_reaches_new_sittings_and_not_running_ones(
    exam_deps: ExamDependencies, student: User, db: AsyncSession
) -> None:
    running = await started(exam_deps, student)
    code = running.conversation.session_code
    assert await snapshot(db, code) == ExamConfig().snapshot()

    await edit(db, EDITS)
    await running.say(MODEL_ANSWERS[0], seconds=10.0)
    await running.conversation.disconnected()
    resumed = await ExamConversation.resume(exam_deps, code, student)
    assert resumed.config == ExamConfig()
    assert resumed.listen_plan().max_answer_seconds == 120.0
    assert await snapshot(db, code) == ExamConfig().snapshot()

    newcomer = await make_user(db, college_type="medical")
    await db.commit()
    new = await started(exam_deps, newcomer)
    assert new.conversation.config == ExamConfig(**EDITS)
    assert await snapshot(db, new.conversation.session_code) == ExamConfig(**EDITS).snapshot()
    assert new.conversation.listen_plan().max_answer_seconds == 60.0  # the 1-minute limit
    await new.say(MODEL_ANSWERS[0], seconds=10.0)

    # Heard with confidence 0.9: below the new sitting's 0.95, above the running one's 0.5.
    assert await needs_review(db, code) == [False]
    assert await needs_review(db, new.conversation.session_code) == [True]


async def test_a_sitting_from_before_snapshots_keeps_the_values_of_its_first_resume(
    exam_deps: ExamDependencies, student: User, db: AsyncSession
) -> None:
    old = await started(exam_deps, student)
    code = old.conversation.session_code
    await old.conversation.disconnected()
    await db.execute(
        update(ExamSession).where(ExamSession.session_code == code).values(config_snapshot=None)
    )
    await edit(db, {"silence_prompt_seconds": 5})

    first = await ExamConversation.resume(exam_deps, code, student)
    assert first.config.silence_prompt_seconds == 5
    await first.disconnected()
    await edit(db, {"silence_prompt_seconds": 6})
    again = await ExamConversation.resume(exam_deps, code, student)
    assert again.config.silence_prompt_seconds == 5
    stored = await snapshot(db, code)
    assert stored is not None
    assert stored["silence_prompt_seconds"] == 5


async def test_the_voice_loop_is_given_the_sittings_vad_threshold_and_language(
    exam_deps: ExamDependencies, student: User, db: AsyncSession
) -> None:
    await edit(db, {"vad_sensitivity": 0.7, "asr_language": "fr-CA"})

    async def authenticate(_token: str) -> Authenticated:
        return Authenticated(student, 1)

    async def still_signed_in(_user: int, _auth: int) -> str | None:
        return None

    opener = ServiceOpener(exam_deps, authenticate, LiveSittings(), still_signed_in)
    opened = await opener.open(StartExam(type="start", token="t", college_type="medical"))
    assert opened.vad_threshold == pytest.approx(0.3)
    assert opened.language == "fr"

    app_loop = LoopSettings()
    loop = app_loop.for_sitting(vad_threshold=opened.vad_threshold, language=opened.language)
    assert loop.ear.threshold == pytest.approx(0.3)
    assert loop.language == "fr"
    assert loop.ear.frame_samples == app_loop.ear.frame_samples
    assert app_loop.for_sitting() == app_loop
