"""Opens exams for the WebSocket edge: token -> user, then start or resume the sitting."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from newspeech.auth.service import Authenticated
from newspeech.exams.dependencies import ExamDependencies
from newspeech.exams.lease import Lease
from newspeech.exams.live import LiveSittings
from newspeech.exams.service import ExamConversation
from newspeech.exams.ws import OpenedExam, ResumeExam, StartExam

Authenticate = Callable[[str], Awaitable[Authenticated]]
"""Turns the first message's access token into the signed-in user (and their sign-in
session) or raises ``Unauthenticated``."""

SignInEnded = Callable[[int, int], Awaitable[str | None]]
"""``(user id, sign-in session id)`` -> why that sign-in no longer stands, or ``None``."""


@dataclass(frozen=True)
class RenewedLease:
    """A sitting's lease as the edge renews it (:class:`~newspeech.exams.ws.HeldLease`)."""

    lease: Lease
    sessionmaker: async_sessionmaker[AsyncSession]

    @property
    def lost(self) -> bool:
        return self.lease.lost

    @property
    def renew_seconds(self) -> float:
        return self.lease.renew_seconds

    async def renew(self) -> None:
        await self.lease.renew(self.sessionmaker)


class ServiceOpener:
    """The production :class:`~newspeech.exams.ws.ConversationOpener`."""

    def __init__(
        self,
        deps: ExamDependencies,
        authenticate: Authenticate,
        live: LiveSittings,
        sign_in_ended: SignInEnded,
    ) -> None:
        self._deps = deps
        self._authenticate = authenticate
        self._live = live
        self._sign_in_ended = sign_in_ended

    async def open(self, request: StartExam | ResumeExam) -> OpenedExam:
        signed_in = await self._authenticate(request.token)
        user = signed_in.user
        async with self._live.opening(user.id):  # the candidate's older connection has ended
            if isinstance(request, StartExam):
                conversation = await ExamConversation.start(self._deps, user, request.college_type)
            else:
                conversation = await ExamConversation.resume(self._deps, request.session_code, user)
        return OpenedExam(
            conversation=conversation,
            session_code=conversation.session_code,
            college_type=conversation.college_type,
            total_questions=conversation.total_questions,
            resumed=conversation.resumed,
            candidate=user.id,
            sign_in_ended=partial(self._sign_in_ended, user.id, signed_in.auth_session_id),
            vad_threshold=conversation.config.vad_threshold,
            language=conversation.config.asr_language_code,
            lease=None
            if conversation.lease is None
            else RenewedLease(conversation.lease, self._deps.sessionmaker),
        )
