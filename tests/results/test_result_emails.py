"""Result e-mails, sent to a real SMTP server (aiosmtpd on localhost) when real sittings end
through the exam service, on every database backend."""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from newspeech.app import create_app, exam_dependencies
from newspeech.config import Settings
from newspeech.exams.dependencies import ExamDependencies
from newspeech.exams.service import ExamConversation
from newspeech.grading import KeywordGrader
from newspeech.grading.factory import PooledGrader
from newspeech.models import AuditLog, ExamSession, Result, User
from newspeech.questions.banks import BANKS_DIR, load_bank
from newspeech.results.mail import ResultMail, compose, has_address
from newspeech.results.mailer import Outcome, ResultMailer
from newspeech.seed import seed_reference_data
from newspeech.voice.conversation import ExaminerTurn, HeardAnswer, TurnTimings
from newspeech.voice.pool import InferencePool
from newspeech.voice.protocols import Transcript
from tests.exams.plans import FakeClock
from tests.fixtures.api import Api
from tests.fixtures.factories import make_user

MEDICAL = load_bank(BANKS_DIR / "medical.yaml")
MODEL_ANSWERS = [q.model_answer for s in MEDICAL.scenarios for q in s.questions]
BASE_URL = "https://exams.college.example"


@dataclass
class Inbox:
    """What the local SMTP server accepted; ``refuse`` answers the next DATA commands with
    these replies instead (a server that is busy, then well again)."""

    port: int
    received: list[tuple[Envelope, EmailMessage]] = field(default_factory=list)
    refuse: list[str] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.refuse:
            return self.refuse.pop(0)
        assert isinstance(envelope.content, bytes)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append((envelope, message))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    inbox = Inbox(free_port())
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def pool() -> Iterator[InferencePool]:
    pool = InferencePool(workers=1)
    yield pool
    pool.close()


def mail_settings(settings: Settings, port: int, **more: Any) -> Settings:
    return settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_security": "none",
            "smtp_sender": "NewSpeech Exams <exams@college.example>",
            "public_base_url": BASE_URL,
            "smtp_timeout_seconds": 10.0,
            "smtp_attempts": 3,
            "smtp_retry_seconds": 0.5,
            **more,
        }
    )


@dataclass
class Mailer:
    """A real mailer whose back-off is recorded, not slept, and whose outcomes are kept."""

    mailer: ResultMailer
    outcomes: list[Outcome]
    waits: list[float]


def make_mailer(settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]) -> Mailer:
    outcomes: list[Outcome] = []
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    mailer = ResultMailer(settings, sessionmaker, on_outcome=outcomes.append, sleep=sleep)
    return Mailer(mailer, outcomes, waits)


async def medical_student(db: AsyncSession, email_address: str | None = None) -> User:
    await seed_reference_data(db, banks=[MEDICAL])
    user = await make_user(db, college_type="medical")
    user.full_name = "Jane Doe"
    if email_address is not None:
        user.email = email_address
    await db.commit()
    return user


@dataclass
class Candidate:
    conversation: ExamConversation
    clock: FakeClock

    def heard(self, text: str, seconds: float) -> HeardAnswer:
        self.clock.advance(seconds)
        end = self.clock.now
        self.clock.advance(0.5)
        timings = TurnTimings(end - seconds, end, end + 0.3, end + 0.45)
        return HeardAnswer(Transcript(text, 0.9, seconds + 0.5, 0.2), b"", timings)

    async def say(self, text: str, seconds: float = 10.0) -> ExaminerTurn:
        return await self.conversation.answer(self.heard(text, seconds))


async def start(
    sessionmaker: async_sessionmaker[AsyncSession],
    pool: InferencePool,
    student: User,
    mailer: ResultMailer | None,
) -> Candidate:
    clock = FakeClock()
    deps = ExamDependencies(
        sessionmaker=sessionmaker,
        grader=PooledGrader(KeywordGrader(), pool.run),
        clock=clock,
        result_mailer=mailer,
    )
    candidate = Candidate(await ExamConversation.start(deps, student, "medical"), clock)
    await candidate.conversation.begin()
    await candidate.say("Yes, that's me.", seconds=1.0)
    return candidate


async def answer_everything(candidate: Candidate) -> ExaminerTurn:
    turn = ExaminerTurn()
    for text in MODEL_ANSWERS:
        turn = await candidate.say(text, seconds=12.0)
    assert turn.finished
    return turn


async def stop_after_one_answer(candidate: Candidate) -> ExaminerTurn:
    await candidate.say(MODEL_ANSWERS[0], seconds=12.0)
    await candidate.say("I want to stop the exam.", seconds=1.5)
    ended = await candidate.say("Yes.", seconds=0.5)
    assert ended.finished
    return ended


async def stored_result(db: AsyncSession, code: str) -> tuple[ExamSession, Result]:
    await db.commit()  # a fresh snapshot (MariaDB's REPEATABLE READ)
    exam_session = (
        await db.scalars(select(ExamSession).where(ExamSession.session_code == code))
    ).one()
    result = (
        await db.scalars(
            select(Result)
            .where(Result.session_id == exam_session.id)
            .execution_options(populate_existing=True)
        )
    ).one()
    return exam_session, result


async def mail_audits(db: AsyncSession, exam_session_id: int) -> list[AuditLog]:
    await db.commit()
    query = select(AuditLog).where(
        AuditLog.session_id == exam_session_id, AuditLog.action.like("result.email%")
    )
    return list(await db.scalars(query.order_by(AuditLog.id)))


def text_and_html(message: EmailMessage) -> tuple[str, str]:
    plain = message.get_body(("plain",))
    rich = message.get_body(("html",))
    assert plain is not None
    assert rich is not None
    return str(plain.get_content()), str(rich.get_content())


async def test_a_passed_sitting_mails_the_result_with_a_certificate_link_that_works(
    api: Api, pool: InferencePool, inbox: Inbox
) -> None:
    async with api.sessionmaker() as db:
        student = await medical_student(db)
    mail = make_mailer(mail_settings(api.settings, inbox.port), api.sessionmaker)
    candidate = await start(api.sessionmaker, pool, student, mail.mailer)

    await answer_everything(candidate)
    await mail.mailer.drain()

    async with api.sessionmaker() as db:
        exam_session, result = await stored_result(db, candidate.conversation.session_code)
        audits = await mail_audits(db, exam_session.id)
    assert result.pass_status
    [(envelope, message)] = inbox.received
    assert envelope.mail_from == "exams@college.example"
    assert envelope.rcpt_tos == [student.email]
    assert message["To"] == f"Jane Doe <{student.email}>"
    assert message["From"] == "NewSpeech Exams <exams@college.example>"
    percent = f"{result.percentage_correct:.1f}%"
    assert message["Subject"] == f"Your Medical exam result: passed ({percent})"
    text, rich = text_and_html(message)
    assert "Dear Jane Doe," in text
    assert f"your Medical oral exam (sitting {exam_session.session_code}) has ended" in text
    assert f"Score: {result.total_score} / 120 ({percent})" in text
    assert f"Grade: {result.grade}" in text
    assert "Result: passed" in text
    assert "Jane Doe" in rich
    assert f"{result.total_score} / 120" in rich
    [link] = [line for line in text.splitlines() if line.startswith(BASE_URL)]
    assert f'href="{link.replace("&", "&amp;")}"' in rich
    assert [a.action for a in audits] == ["result.email_sent"]
    assert audits[0].status == "success"
    assert audits[0].resource_id == result.id
    assert audits[0].details == {"to": student.email, "attempts": 1}
    assert mail.outcomes == ["sent"]

    # The link downloads the certificate with no sign-in; changed or expired, it does not.
    path = urlsplit(link)
    assert path.path == f"/api/v1/results/{result.id}/certificate/signed"
    client = api.client()
    certificate = await client.get(f"http://test{path.path}?{path.query}")
    assert certificate.status_code == 200, certificate.text
    assert certificate.headers["content-type"] == "application/pdf"
    query = parse_qs(path.query)
    forged = f"user={int(query['user'][0]) + 1}&expires={query['expires'][0]}"
    forged += f"&signature={query['signature'][0]}"
    refused = await client.get(f"http://test{path.path}?{forged}")
    assert refused.status_code == 403
    api.clock.advance(days=31)
    expired = await client.get(f"http://test{path.path}?{path.query}")
    assert expired.status_code == 403
    assert "expired" in expired.json()["detail"]


async def test_a_failed_sitting_mails_the_result_without_a_certificate_link(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    db: AsyncSession,
    pool: InferencePool,
    inbox: Inbox,
) -> None:
    student = await medical_student(db)
    mail = make_mailer(mail_settings(settings, inbox.port), sessionmaker)
    candidate = await start(sessionmaker, pool, student, mail.mailer)

    await stop_after_one_answer(candidate)
    await mail.mailer.drain()

    _, result = await stored_result(db, candidate.conversation.session_code)
    assert (result.total_score, result.grade, result.pass_status) == (10, "F", False)
    [(_, message)] = inbox.received
    assert message["Subject"] == "Your Medical exam result: did not pass (8.3%)"
    text, rich = text_and_html(message)
    assert "Score: 10 / 120 (8.3%)" in text
    assert "Grade: F" in text
    assert "Result: did not pass" in text
    assert "certificate" not in text.lower()
    assert "href" not in rich


async def test_the_smtp_server_down_leaves_the_sitting_whole_and_a_failure_audited(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    db: AsyncSession,
    pool: InferencePool,
) -> None:
    student = await medical_student(db)
    nobody = free_port()  # nothing listens here: every connection is refused
    mail = make_mailer(mail_settings(settings, nobody), sessionmaker)
    candidate = await start(sessionmaker, pool, student, mail.mailer)

    ended = await stop_after_one_answer(candidate)
    await mail.mailer.drain()

    assert ended.end_reason == "ended_by_student"
    exam_session, result = await stored_result(db, candidate.conversation.session_code)
    assert result.total_score == 10
    [failure] = await mail_audits(db, exam_session.id)
    assert (failure.action, failure.status) == ("result.email_failed", "failure")
    assert failure.details is not None
    assert "SMTPConnect" in failure.details["error"]
    assert mail.waits == [0.5, 1.0]  # three tries, the back-off doubling
    assert mail.outcomes == ["failed"]


async def test_a_busy_server_is_tried_again_and_the_mail_sent_once(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    db: AsyncSession,
    pool: InferencePool,
    inbox: Inbox,
) -> None:
    student = await medical_student(db)
    inbox.refuse = ["451 4.3.0 try again later"]
    mail = make_mailer(mail_settings(settings, inbox.port), sessionmaker)
    candidate = await start(sessionmaker, pool, student, mail.mailer)

    await stop_after_one_answer(candidate)
    await mail.mailer.drain()

    assert len(inbox.received) == 1
    exam_session, _ = await stored_result(db, candidate.conversation.session_code)
    [sent] = await mail_audits(db, exam_session.id)
    assert sent.action == "result.email_sent"
    assert sent.details == {"to": student.email, "attempts": 2}
    assert mail.waits == [0.5]


async def test_a_refused_recipient_is_not_tried_again(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    db: AsyncSession,
    pool: InferencePool,
    inbox: Inbox,
) -> None:
    student = await medical_student(db)
    inbox.refuse = ["550 5.1.1 no such mailbox"]
    mail = make_mailer(mail_settings(settings, inbox.port), sessionmaker)
    candidate = await start(sessionmaker, pool, student, mail.mailer)

    await stop_after_one_answer(candidate)
    await mail.mailer.drain()

    assert inbox.received == []
    assert mail.waits == []
    exam_session, _ = await stored_result(db, candidate.conversation.session_code)
    [failure] = await mail_audits(db, exam_session.id)
    assert failure.action == "result.email_failed"
    assert failure.details is not None
    assert "550" in failure.details["error"]


async def test_a_student_without_an_address_is_not_mailed(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    db: AsyncSession,
    pool: InferencePool,
    inbox: Inbox,
) -> None:
    student = await medical_student(db, email_address="")
    mail = make_mailer(mail_settings(settings, inbox.port), sessionmaker)
    candidate = await start(sessionmaker, pool, student, mail.mailer)

    ended = await stop_after_one_answer(candidate)
    await mail.mailer.drain()

    assert ended.end_reason == "ended_by_student"
    assert inbox.received == []
    exam_session, _ = await stored_result(db, candidate.conversation.session_code)
    assert await mail_audits(db, exam_session.id) == []
    assert mail.outcomes == ["skipped"]


async def test_without_smtp_settings_the_app_sends_nothing(
    api: Api, pool: InferencePool, inbox: Inbox
) -> None:
    assert api.settings.smtp_host is None
    assert api.app.state.result_mailer is None
    deps = exam_dependencies(api.app.state)
    assert deps.result_mailer is None
    async with api.sessionmaker() as db:
        student = await medical_student(db)
    candidate = await start(api.sessionmaker, pool, student, deps.result_mailer)

    await stop_after_one_answer(candidate)

    async with api.sessionmaker() as db:
        exam_session, _ = await stored_result(db, candidate.conversation.session_code)
        assert await mail_audits(db, exam_session.id) == []
    assert inbox.received == []


async def test_a_result_corrected_after_the_end_is_mailed_again_once(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    db: AsyncSession,
    pool: InferencePool,
    inbox: Inbox,
) -> None:
    """The last answer went on over the closing words (the result is re-summed): the student
    gets the corrected result; the first mail is not sent twice."""
    student = await medical_student(db)
    mail = make_mailer(mail_settings(settings, inbox.port), sessionmaker)
    candidate = await start(sessionmaker, pool, student, mail.mailer)
    for text in MODEL_ANSWERS[:11]:
        await candidate.say(text, seconds=12.0)
    last = await candidate.say("I would give controlled oxygen,", seconds=4.0)
    assert last.finished

    await candidate.conversation.amend(candidate.heard(MODEL_ANSWERS[11], seconds=14.0))
    await mail.mailer.drain()

    _, result = await stored_result(db, candidate.conversation.session_code)
    first, corrected = (message for _, message in inbox.received)
    assert not first["Subject"].startswith("Corrected")
    assert corrected["Subject"].startswith("Corrected: Your Medical exam result")
    text, _ = text_and_html(corrected)
    assert f"Score: {result.total_score} / 120" in text
    assert "replaces the earlier e-mail" in text
    assert f"Score: {result.total_score} / 120" not in text_and_html(first)[0]


@pytest.mark.parametrize(
    ("address", "writable"),
    [
        ("jane@college.example", True),
        ("Jane Doe <jane@college.example>", True),
        ("", False),
        ("   ", False),
        ("jane", False),
        ("jane@localhost", False),
        ("@college.example", False),
    ],
)
def test_which_stored_addresses_are_written_to(address: str, writable: bool) -> None:
    assert has_address(address) is writable


def test_the_html_part_escapes_what_students_typed() -> None:
    mail = ResultMail(
        result_id=1,
        exam_session_id=1,
        session_code="S-1",
        user_id=1,
        to="jane@college.example",
        student_name="Jane <b>Doe</b>",
        college_name="Medical",
        total_score=90,
        max_score=120,
        percentage=75.0,
        grade="C",
        passed=True,
    )
    message = compose(mail, sender="exams@college.example", link=f"{BASE_URL}/x?a=1&b=2")
    named = replace(mail, to="Jane <jane@college.example>")  # a stored display name
    to = compose(named, sender="exams@college.example", link=None)["To"]
    assert to.addresses[0].addr_spec == "jane@college.example"
    _, rich = text_and_html(message)
    assert "Jane &lt;b&gt;Doe&lt;/b&gt;" in rich
    assert f'href="{BASE_URL}/x?a=1&amp;b=2"' in rich
    assert message["To"].addresses[0].display_name == "Jane <b>Doe</b>"


async def test_the_app_mails_results_and_counts_them_when_smtp_is_configured(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    db: AsyncSession,
    pool: InferencePool,
    inbox: Inbox,
) -> None:
    student = await medical_student(db)
    app = create_app(mail_settings(settings, inbox.port, rate_limit_enabled=False))
    async with app.router.lifespan_context(app):
        mailer = exam_dependencies(app.state).result_mailer
        assert isinstance(mailer, ResultMailer)
        candidate = await start(app.state.sessionmaker, pool, student, mailer)
        await stop_after_one_answer(candidate)
        await mailer.drain()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            scrape = (await client.get("/metrics")).text

    assert len(inbox.received) == 1
    assert 'newspeech_result_emails_total{outcome="sent"} 1.0' in scrape
