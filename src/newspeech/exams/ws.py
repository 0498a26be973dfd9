"""The exam WebSocket at ``/ws/exam`` (docs/protocol.md): a thin edge around the session loop.

It reads the first message (start or resume), asks the injected :class:`ConversationOpener`
for the exam (authentication and the exam's rules live behind it), then hands the socket to
:class:`~newspeech.voice.session.VoiceLoop`. Malformed messages get an ``error`` event and are
dropped; they never end the connection. Domain errors while opening close it with a 44xx code.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Protocol

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, Field, TypeAdapter, ValidationError
from starlette.websockets import WebSocketState

from newspeech.errors import (
    Conflict,
    InvalidState,
    NewSpeechError,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from newspeech.exams.lease import SittingTakenOver
from newspeech.exams.live import LiveSittings, Seat
from newspeech.observability.logs import bind_sitting
from newspeech.voice.clock import MonotonicClock
from newspeech.voice.conversation import Control, Conversation
from newspeech.voice.protocols import SAMPLE_RATE
from newspeech.voice.session import Inbound, LoopSettings, SessionEngines, VoiceLoop

logger = logging.getLogger(__name__)
router = APIRouter()

MAX_AUDIO_BYTES = 2 * SAMPLE_RATE
"""One second of 16 kHz PCM16: the largest audio message accepted."""
MAX_CONTROL_CHARS = 4096
"""The longest text message accepted once the exam runs (a control is a few dozen characters)."""
FIRST_MESSAGE_SECONDS = 30.0
SIGN_IN_CHECK_SECONDS = 5.0
"""How often a running exam checks that its candidate is still signed in and active."""

CLOSE_NORMAL = 1000
CLOSE_SERVER_ERROR = 1011
CLOSE_BAD_FIRST_MESSAGE = 4400
CLOSE_TAKEN_OVER = 4000
CLOSE_RESTARTING = 1012
"""WebSocket's "service restart": the server is shutting down; resume the sitting."""
RESTARTING = (
    "the exam server is restarting; your answers so far are saved: resume the exam to go on "
    "where you left off"
)
_CLOSE_CODES: tuple[tuple[type[NewSpeechError], int], ...] = (
    (Unauthenticated, 4401),
    (PermissionDenied, 4403),
    (NotFound, 4404),
    (InvalidState, 4409),
    (Conflict, 4409),
)


class StartExam(BaseModel):
    type: Literal["start"]
    token: str = Field(min_length=1)
    college_type: str = Field(min_length=1, max_length=64)


class ResumeExam(BaseModel):
    type: Literal["resume"]
    token: str = Field(min_length=1)
    session_code: str = Field(min_length=1, max_length=64)


OpenRequest = Annotated[StartExam | ResumeExam, Field(discriminator="type")]
_OPEN_REQUEST: TypeAdapter[StartExam | ResumeExam] = TypeAdapter(OpenRequest)


class HeldLease(Protocol):
    """The loop's hold on its sitting (``newspeech.exams.lease``), renewed while it runs."""

    @property
    def lost(self) -> bool:
        """Another opening of the sitting (on any node) took it over."""

    @property
    def renew_seconds(self) -> float: ...

    async def renew(self) -> None:
        """Renew it, or raise ``SittingTakenOver``."""


@dataclass(frozen=True)
class OpenedExam:
    conversation: Conversation
    session_code: str
    college_type: str
    total_questions: int
    resumed: bool = False
    """The sitting existed already: a ``resume``, or a ``start`` while it was unfinished."""
    candidate: int | None = None
    """The candidate's user id, when the opener read the sitting inside
    :meth:`LiveSittings.opening` (their older connection, if any, has ended): the edge takes
    their seat before its next ``await``."""
    sign_in_ended: Callable[[], Awaitable[str | None]] | None = None
    """Why the candidate's sign-in no longer stands (signed out, deactivated), or ``None``:
    asked every few seconds while the exam runs; a reason closes the socket with 4401."""
    vad_threshold: float | None = None
    """The sitting's voice detector threshold (its configuration); ``None``: the app's."""
    language: str | None = None
    """The language its answers are transcribed in (its configuration); ``None``: the app's."""
    lease: HeldLease | None = None
    """Renewed while the exam runs; once lost the loop ends and the candidate is told the
    exam goes on elsewhere (``taken_over``)."""


class ConversationOpener(Protocol):
    """Authenticates the first message's token and starts or resumes the sitting (a start
    while the candidate's sitting of that college is unfinished resumes it).

    Raises ``Unauthenticated`` (bad token), ``PermissionDenied`` (not the owner), ``NotFound``
    (unknown session code or college type), ``InvalidState`` (cannot resume now) or
    ``AttemptLimitReached`` (a ``Conflict``: no attempts left for a new sitting).
    """

    async def open(self, request: StartExam | ResumeExam) -> OpenedExam: ...


TAKEN_OVER = (
    "this exam was opened again in another window or device; it goes on there, "
    "and what you said here is kept"
)


OpenerFactory = Callable[[Any], ConversationOpener]
"""Builds the opener in the app's lifespan from the app's state (engine, settings …)."""


def close_code(error: NewSpeechError) -> int:
    for kind, code in _CLOSE_CODES:
        if isinstance(error, kind):
            return code
    return CLOSE_SERVER_ERROR


class SocketEdge:
    """The socket as the loop's inbox and outbox: validates what comes in."""

    def __init__(self, websocket: WebSocket) -> None:
        self._ws = websocket
        self.closed = False

    async def receive(self) -> Inbound | None:
        while not self.closed:
            message = await self._ws.receive()
            if message["type"] == "websocket.disconnect":
                self.closed = True
                return None
            data: bytes | None = message.get("bytes")
            if data is not None:
                if (audio := await self._audio(data)) is not None:
                    return audio
                continue
            if (control := await self._control(message.get("text") or "")) is not None:
                return control
        return None

    async def _audio(self, data: bytes) -> bytes | None:
        if len(data) % 2:
            await self.error("bad_audio", f"{len(data)} bytes is not a whole number of samples")
        elif len(data) > MAX_AUDIO_BYTES:
            await self.error(
                "audio_too_large", f"{len(data)} bytes; at most {MAX_AUDIO_BYTES} (1 s) a message"
            )
        elif data:
            return data
        return None

    async def _control(self, text: str) -> Control | None:
        if len(text) > MAX_CONTROL_CHARS:
            await self.error(
                "message_too_large", f"{len(text)} characters; at most {MAX_CONTROL_CHARS}"
            )
            return None
        try:
            message = json.loads(text)
        except (ValueError, RecursionError):  # RecursionError: nested too deep to parse
            await self.error("bad_json", "a text message must be one JSON object")
            return None
        kind = message.get("type") if isinstance(message, dict) else None
        if not isinstance(kind, str):
            await self.error("bad_message", 'a JSON message needs a string "type"')
            return None
        if kind == "ping":
            await self.send_event({"type": "pong", "id": message.get("id")})
            return None
        if kind in ("start", "resume"):
            await self.error("already_started", "this connection already has an exam")
            return None
        try:
            return Control(kind)
        except ValueError:
            await self.error("unknown_type", f"unknown message type {kind[:40]!r}")
            return None

    async def error(self, code: str, detail: str) -> None:
        await self.send_event({"type": "error", "error": code, "detail": detail})

    async def send_event(self, event: Mapping[str, Any]) -> None:
        if not self.closed:
            try:
                await self._ws.send_json(dict(event))
            except (WebSocketDisconnect, RuntimeError, OSError):
                self.closed = True

    async def send_audio(self, pcm: bytes) -> None:
        if not self.closed:
            try:
                await self._ws.send_bytes(pcm)
            except (WebSocketDisconnect, RuntimeError, OSError):
                self.closed = True


async def _first_message(websocket: WebSocket) -> StartExam | ResumeExam | str:
    """The opening request, or why it is not one."""
    try:
        async with asyncio.timeout(FIRST_MESSAGE_SECONDS):
            message = await websocket.receive()
    except TimeoutError:
        return "no start or resume message"
    text = message.get("text")
    if message["type"] == "websocket.disconnect" or text is None:
        return "the first message must be a JSON start or resume message"
    try:
        return _OPEN_REQUEST.validate_json(text)
    except ValidationError as exc:
        return "bad start or resume message: " + "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'message'}: {e['msg']}" for e in exc.errors()
        )


@router.websocket("/ws/exam")
async def exam_socket(websocket: WebSocket) -> None:
    await websocket.accept()
    edge = SocketEdge(websocket)
    request = await _first_message(websocket)
    if isinstance(request, str):
        await edge.error("bad_first_message", request)
        await _close(websocket, CLOSE_BAD_FIRST_MESSAGE)
        return
    state = websocket.app.state
    if getattr(state, "draining", False):
        await edge.error("server_restarting", RESTARTING)
        await _close(websocket, CLOSE_RESTARTING)
        return
    opener: ConversationOpener | None = getattr(state, "exam_opener", None)
    engines: SessionEngines | None = getattr(state, "voice", None)
    if opener is None or engines is None:
        await edge.error("exams_unavailable", "this server does not run spoken exams")
        await _close(websocket, CLOSE_SERVER_ERROR)
        return
    try:
        opened = await opener.open(request)
    except NewSpeechError as exc:
        await edge.error(exc.code, exc.detail)
        await _close(websocket, close_code(exc))
        return
    except Exception:
        logger.exception("the exam could not be opened")
        await edge.error(
            "server_error", "the exam could not be opened on a server error; try again"
        )
        await _close(websocket, CLOSE_SERVER_ERROR)
        return
    bind_sitting(opened.session_code)
    live: LiveSittings = state.live_sittings
    with live.seat(opened.candidate) as seat:
        loop_settings: LoopSettings = state.loop_settings.for_sitting(
            vad_threshold=opened.vad_threshold, language=opened.language
        )
        session = VoiceLoop(opened.conversation, engines, loop_settings, MonotonicClock(), edge)
        seat.session = session
        if getattr(state, "draining", False):  # opened while the server began to shut down
            session.drain()
        await edge.send_event(_session_started(opened, engines))
        watch = (
            asyncio.create_task(_watch_sign_in(opened.sign_in_ended, session))
            if opened.sign_in_ended is not None
            else None
        )
        renewal = (
            asyncio.create_task(_renew_lease(opened.lease, session, seat))
            if opened.lease is not None
            else None
        )
        try:
            reason = await session.run(edge)
        except Exception:
            if opened.lease is not None and opened.lease.lost:
                # A write found the sitting taken over (on another node): nothing was stored.
                logger.info("exam %s: taken over; this loop ended", opened.session_code)
                seat.taken_over, reason = True, "taken_over"
            else:
                logger.exception("exam %s: the session loop failed", opened.session_code)
                await edge.error("server_error", "the exam stopped on a server error; resume it")
                await _close(websocket, CLOSE_SERVER_ERROR)
                return
        finally:
            signed_out = await _stopped(watch)
            await _stopped(renewal)
    if signed_out is not None:
        await edge.error("unauthenticated", signed_out)
        await _close(websocket, 4401)
    elif seat.taken_over:
        await edge.error("taken_over", TAKEN_OVER)
        await _close(websocket, CLOSE_TAKEN_OVER)
    elif session.drained or (reason == "disconnected" and getattr(state, "draining", False)):
        # Drained between two answers, or hung up mid-answer when the drain's time ran out
        # (what was heard is stored): either way the candidate resumes after the restart.
        await edge.error("server_restarting", RESTARTING)
        await _close(websocket, CLOSE_RESTARTING)
    elif reason != "disconnected":
        await _close(websocket, CLOSE_NORMAL)


async def _watch_sign_in(
    sign_in_ended: Callable[[], Awaitable[str | None]], session: VoiceLoop
) -> str | None:
    """Hang up when the candidate's sign-in ends (signed out, deactivated) while the exam runs.
    A failed check (the database away for a moment) changes nothing."""
    while True:
        await asyncio.sleep(SIGN_IN_CHECK_SECONDS)
        try:
            reason = await sign_in_ended()
        except Exception:
            logger.warning(
                "could not check the candidate's sign-in; the exam goes on", exc_info=True
            )
            continue
        if reason is not None:
            session.hang_up()
            return reason


async def _renew_lease(lease: HeldLease, session: VoiceLoop, seat: Seat) -> str | None:
    """Keep the sitting's lease while the loop runs; when another opening took the sitting
    over (on another worker or node), end this loop: it writes nothing more. A failed renewal
    (the database away for a moment) changes nothing; the writes themselves check the lease."""
    while True:
        await asyncio.sleep(lease.renew_seconds)
        try:
            await lease.renew()
        except SittingTakenOver:
            seat.taken_over = True
            session.hang_up()
            return "taken_over"
        except Exception:
            logger.warning("could not renew the sitting's lease; the exam goes on", exc_info=True)


async def _stopped(watch: asyncio.Task[str | None] | None) -> str | None:
    """The watch's verdict if it hung up, else ``None`` (and it stops watching)."""
    if watch is None:
        return None
    if watch.done():
        return watch.result()
    watch.cancel()
    await asyncio.gather(watch, return_exceptions=True)
    return None


def _session_started(opened: OpenedExam, engines: SessionEngines) -> dict[str, Any]:
    def audio(rate: int) -> dict[str, Any]:
        return {"sample_rate": rate, "encoding": "pcm_s16le", "channels": 1}

    return {
        "type": "session_started",
        "session_code": opened.session_code,
        "college_type": opened.college_type,
        "total_questions": opened.total_questions,
        "resumed": opened.resumed,
        "output_audio": audio(engines.speaker.sample_rate),
        "input_audio": audio(SAMPLE_RATE),
    }


async def _close(websocket: WebSocket, code: int) -> None:
    if websocket.application_state is not WebSocketState.DISCONNECTED:
        try:
            await websocket.close(code)
        except (WebSocketDisconnect, RuntimeError, OSError):
            logger.debug("socket already closed")
