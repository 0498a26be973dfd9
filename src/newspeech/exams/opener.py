"""Opens exams for the WebSocket edge: token -> user, then start or resume the sitting."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from newspeech.exams.live import LiveSittings
from newspeech.exams.service import ExamConversation, ExamDependencies
from newspeech.exams.ws import OpenedExam, ResumeExam, StartExam
from newspeech.models import User

Authenticate = Callable[[str], Awaitable[User]]
"""Turns the first message's access token into the signed-in user or raises
``Unauthenticated``."""


class ServiceOpener:
    """The production :class:`~newspeech.exams.ws.ConversationOpener`."""

    def __init__(
        self, deps: ExamDependencies, authenticate: Authenticate, live: LiveSittings
    ) -> None:
        self._deps = deps
        self._authenticate = authenticate
        self._live = live

    async def open(self, request: StartExam | ResumeExam) -> OpenedExam:
        user = await self._authenticate(request.token)
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
        )
