"""Sends result e-mails in the background: after the result has committed, never on the exam's
path, with bounded retries; a failure is logged, audited and counted, and never reaches the
sitting."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from typing import Literal

import aiosmtplib
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from newspeech.audits.service import record_apart
from newspeech.config import Settings
from newspeech.errors import InvalidState
from newspeech.kit.retry import retry_while
from newspeech.kit.signed_links import LinkSigner
from newspeech.models import CollegeType, ExamSession, Result, User
from newspeech.results.mail import (
    CERTIFICATE_LINK_PURPOSE,
    ResultMail,
    address_of,
    certificate_link,
    compose,
    has_address,
)

logger = logging.getLogger(__name__)

Outcome = Literal["sent", "failed", "skipped"]


async def result_mail(
    db: AsyncSession, exam_session: ExamSession, result: Result, *, corrected: bool = False
) -> ResultMail:
    """What the student's e-mail will say, read in the result's own transaction."""
    user = await db.get(User, exam_session.user_id)
    college = await db.get(CollegeType, exam_session.college_type)
    if user is None:
        raise InvalidState(f"exam session {exam_session.session_code} has no student")
    return ResultMail(
        result_id=result.id,
        exam_session_id=exam_session.id,
        session_code=exam_session.session_code,
        user_id=user.id,
        to=user.email or "",
        student_name=user.full_name or user.username,
        college_name=college.name if college is not None else exam_session.college_type,
        total_score=result.total_score,
        max_score=result.max_score,
        percentage=result.percentage_correct,
        grade=result.grade or "F",
        passed=result.pass_status,
        corrected=corrected,
    )


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class ResultMailer:
    """One per process (built by the app when ``NEWSPEECH_SMTP_HOST`` is set). ``schedule``
    returns at once; each e-mail is its own task, tried ``smtp_attempts`` times with a doubling
    back-off. ``on_outcome`` is told "sent", "failed" or "skipped" (the metrics' counter)."""

    def __init__(
        self,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        audit_enabled: bool = True,
        on_outcome: Callable[[Outcome], None] | None = None,
        clock: Callable[[], dt.datetime] = _utcnow,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if settings.smtp_host is None or settings.smtp_sender is None:
            raise ValueError("result e-mails need NEWSPEECH_SMTP_HOST and NEWSPEECH_SMTP_SENDER")
        self._settings = settings
        self._sender = settings.smtp_sender
        self._sessionmaker = sessionmaker
        self._audit_enabled = audit_enabled
        self._on_outcome = on_outcome
        self._clock = clock
        self._sleep = sleep
        self._signer = LinkSigner(settings.token_secret(), CERTIFICATE_LINK_PURPOSE)
        self._tasks: set[asyncio.Task[None]] = set()

    def schedule(self, mail: ResultMail) -> None:
        """Send ``mail`` in the background (nothing, and no error, without an address)."""
        if not has_address(mail.to):
            logger.info("sitting %s: no e-mail address; no result e-mail", mail.session_code)
            self._count("skipped")
            return
        task = asyncio.create_task(self._deliver(mail), name=f"result-mail-{mail.result_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait until every scheduled e-mail has been sent or given up."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    async def aclose(self, grace_seconds: float = 10.0) -> None:
        """At shutdown: let e-mails in flight finish for a moment, then stop the rest (they
        are logged as not sent)."""
        pending = set(self._tasks)
        if not pending:
            return
        _, late = await asyncio.wait(pending, timeout=grace_seconds)
        for task in late:
            task.cancel()
        if late:
            logger.warning("shutting down: %d result e-mails were not sent", len(late))
            await asyncio.gather(*late, return_exceptions=True)

    def message_for(self, mail: ResultMail) -> EmailMessage:
        """The e-mail as it is sent (the certificate link only on a pass)."""
        link = None
        if mail.passed and self._settings.public_base_url is not None:
            days = self._settings.result_email_link_days
            expires_at = self._clock() + dt.timedelta(days=days)
            link = certificate_link(
                self._signer, self._settings.public_base_url, mail, expires_at=expires_at
            )
        return compose(mail, sender=self._sender, link=link)

    async def _deliver(self, mail: ResultMail) -> None:
        try:
            message = self.message_for(mail)
        except (ValueError, TypeError) as exc:  # e.g. an address the e-mail package refuses
            logger.exception(
                "sitting %s: the result e-mail could not be written", mail.session_code
            )
            await self._audit(mail, "result.email_failed", "failure", {"error": repr(exc)[:500]})
            self._count("failed")
            return
        failure, attempt = await self._send_with_retries(mail, message)
        if failure is None:
            await self._audit(mail, "result.email_sent", "success", {"attempts": attempt})
            self._count("sent")
            return
        error = _described(failure)
        logger.error("sitting %s: result e-mail not sent: %s", mail.session_code, error)
        await self._audit(mail, "result.email_failed", "failure", {"error": error[:500]})
        self._count("failed")

    async def _send_with_retries(
        self, mail: ResultMail, message: EmailMessage
    ) -> tuple[Exception | None, int]:
        """Send, trying again with a doubling back-off unless the server refuses the e-mail
        for good; what failed last (``None`` when sent) and how many tries it took."""
        attempts = self._settings.smtp_attempts

        async def send(attempt: int) -> Exception | None:
            try:
                await self._send(message)
            except (aiosmtplib.SMTPException, OSError) as exc:
                logger.warning(
                    "sitting %s: result e-mail, try %d of %d failed: %s",
                    mail.session_code,
                    attempt,
                    attempts,
                    _described(exc),
                )
                return exc
            return None

        return await retry_while(
            send,
            lambda failure: failure is not None and not _permanent(failure),
            attempts=attempts,
            delay=lambda n: self._settings.smtp_retry_seconds * 2 ** (n - 1),
            sleep=self._sleep,
        )

    async def _send(self, message: EmailMessage) -> None:
        s = self._settings
        password = s.smtp_password.get_secret_value() if s.smtp_password is not None else None
        await aiosmtplib.send(
            message,
            hostname=s.smtp_host,
            port=s.smtp_port_or_default,
            username=s.smtp_username,
            password=password,
            use_tls=s.smtp_security == "tls",
            start_tls=s.smtp_security == "starttls",
            timeout=s.smtp_timeout_seconds,
        )

    async def _audit(
        self, mail: ResultMail, action: str, status: str, details: dict[str, object]
    ) -> None:
        """The e-mail's audit row, in a transaction of its own: the result committed long ago."""
        await record_apart(
            self._sessionmaker,
            action,
            enabled=self._audit_enabled,
            user_id=mail.user_id,
            exam_session_id=mail.exam_session_id,
            resource_type="result",
            resource_id=mail.result_id,
            status=status,
            details={"to": address_of(mail.to), **details},
        )

    def _count(self, outcome: Outcome) -> None:
        if self._on_outcome is not None:
            self._on_outcome(outcome)


def _described(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"


def _permanent(exc: Exception) -> bool:
    """An SMTP 5xx reply: the server will not take this e-mail, however often it is sent."""
    return isinstance(exc, aiosmtplib.SMTPResponseException) and exc.code >= 500
