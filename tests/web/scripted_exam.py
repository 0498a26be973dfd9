"""A scripted exam server that follows docs/protocol.md, for testing the browser page before the
real exam engine exists.

:func:`create_scripted_exam_app` is the real app (``create_app``: the page, its static files and
``/web/config.json`` from the database) plus a ``/ws/exam`` route that plays one question from an
:class:`ExamScript`: it checks the first message (token, college type from the database), announces
the sitting, speaks the question as paced PCM16 at ``output_sample_rate``, listens to the page's
16 kHz PCM16 frames, detects speech by energy, stops speaking and sends ``flush`` when the student
talks over the examiner for ``barge_in_ms``, transcribes the answer with a real
:class:`SpeechToText` (whisper tiny.en in the tests; one partial after a second of speech, then
the final), grades it against ``keywords``, speaks
feedback, and on ``end`` sends the ``result`` and closes with 1000. Everything it receives is
recorded on the script for the tests to inspect.

When the real exam WebSocket lands, the tests swap this app for the real one; their assertions
are about the page and the protocol, not about this script.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import re
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from fastapi import FastAPI, WebSocket, WebSocketDisconnect

from newspeech.app import create_app
from newspeech.colleges.repository import CollegeTypeRepository
from newspeech.config import Settings
from newspeech.kit.ids import new_session_code
from newspeech.voice.protocols import PCM16, SpeechToText

INPUT_SAMPLE_RATE = 16_000
FRAME_MS = 20
MAX_FRAME_BYTES = 32_000
CHUNK_MS = 40
SPEECH_RMS = 0.02
"""Frame RMS (full scale 1.0; about -34 dBFS) above which the script counts a frame as speech."""
END_OF_TURN_MS = 800
PREROLL_FRAMES = 15
PARTIAL_AFTER_BYTES = INPUT_SAMPLE_RATE * 2
"""One partial transcript once a second of the answer has arrived."""


@dataclass
class ExamScript:
    """What the scripted examiner says and expects, and what it received."""

    token: str
    output_sample_rate: int = 22_050
    question_seconds: float = 1.0
    """Length of the spoken question (a tone); long enough and the student barges in."""
    lead_seconds: float = 1.0
    """How far ahead of real time examiner audio is sent (the client's jitter buffer)."""
    barge_in_ms: int = 300
    keywords: tuple[str, ...] = ("one", "two", "three")
    scenario: str = "A patient counts aloud while you listen."
    question: str = "Please count from one to three."
    recoverable_error: tuple[str, str] | None = None
    """An ``error`` event (code, detail) sent right after ``session_started``."""
    extra_events: list[dict[str, Any]] = field(default_factory=list)
    """Sent as they are right after ``session_started`` (unknown or malformed events)."""
    drop_with: int | None = None
    """Close with this code as soon as the examiner starts listening (a server failure)."""
    drop_error: tuple[str, str] | None = None
    """An ``error`` event (code, detail) sent just before that close (a server restarting)."""
    identity: bool = False
    """Begin as the real examiner does: welcome, ask "are you ...?" and listen, sending no
    question; the sitting stays there until the page ends it (no result is sent)."""
    refuse: tuple[int, str, str] | None = None
    """Refuse the start with (close code, error code, detail), as a server does when the
    candidate has no attempts left."""
    resumed: bool = False
    """``session_started`` says the sitting existed already (a start that resumed it)."""
    next_question: str | None = None
    """Asked (as question 2) after the first answer's feedback; the script then listens until
    the page ends the exam."""

    first_messages: list[Any] = field(default_factory=list)
    controls: list[dict[str, Any]] = field(default_factory=list)
    frame_sizes: list[int] = field(default_factory=list)
    audio: bytearray = field(default_factory=bytearray)
    answer: bytearray = field(default_factory=bytearray)
    events_sent: list[dict[str, Any]] = field(default_factory=list)
    session_code: str | None = None
    examiner_bytes_sent: int = 0
    flushed: bool = False
    close_code: int | None = None
    finished: asyncio.Event = field(default_factory=asyncio.Event)


def tone(seconds: float, sample_rate: int, hz: float = 440.0) -> bytes:
    """The examiner's 'voice': a quiet sine (the page cannot tell it from speech)."""
    t = np.arange(round(seconds * sample_rate)) / sample_rate
    return (np.sin(2 * math.pi * hz * t) * 0.25 * 32767).astype("<i2").tobytes()


def frame_rms(frame: bytes) -> float:
    samples = np.frombuffer(frame, dtype="<i2").astype(np.float32) / 32768.0
    return float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0


def grade(transcript: str, keywords: tuple[str, ...]) -> tuple[list[str], list[str]]:
    words = set(re.findall(r"[a-z0-9]+", transcript.lower()))
    digits = {"one": "1", "two": "2", "three": "3"}
    matched = [k for k in keywords if k in words or digits.get(k) in words]
    return matched, [k for k in keywords if k not in matched]


class ScriptedExam:
    """One connection's run of the script."""

    def __init__(
        self, ws: WebSocket, script: ExamScript, stt: SpeechToText, sittings: dict[str, str]
    ) -> None:
        self.ws = ws
        self.sittings = sittings
        """Session code -> college type of every sitting started on this server (for resume)."""
        self.script = script
        self.stt = stt
        self.inbox: asyncio.Queue[bytes | dict[str, Any] | None] = asyncio.Queue()
        self.send_lock = asyncio.Lock()
        self.utterances = 0
        self.partial: asyncio.Task[None] | None = None

    async def send_event(self, event: dict[str, Any]) -> None:
        async with self.send_lock:
            self.script.events_sent.append(event)
            await self.ws.send_text(json.dumps(event))

    async def send_audio(self, chunk: bytes) -> None:
        async with self.send_lock:
            self.script.examiner_bytes_sent += len(chunk)
            await self.ws.send_bytes(chunk)

    async def close(self, code: int) -> None:
        self.script.close_code = code
        await self.ws.close(code)

    async def reject(self, code: int, error: str, detail: str) -> None:
        await self.send_event({"type": "error", "error": error, "detail": detail})
        await self.close(code)

    async def read(self) -> None:
        """Put frames and controls in the inbox; answer pings and bad frames at once."""
        try:
            while True:
                message = await self.ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                if (data := message.get("bytes")) is not None:
                    self.script.frame_sizes.append(len(data))
                    if len(data) % 2 or len(data) > MAX_FRAME_BYTES:
                        await self.send_event(
                            {"type": "error", "error": "bad_audio_frame", "detail": "bad size"}
                        )
                        continue
                    self.script.audio += data
                    await self.inbox.put(data)
                    continue
                control = json.loads(message.get("text") or "null")
                self.script.controls.append(control)
                if control.get("type") == "ping":
                    await self.send_event({"type": "pong", "id": control.get("id")})
                else:
                    await self.inbox.put(control)
        finally:
            await self.inbox.put(None)

    async def speak(self, kind: str, text: str, seconds: float) -> None:
        """One utterance: ``speaking``, 40 ms chunks paced ``lead_seconds`` ahead of real time,
        ``speaking_done``."""
        self.utterances += 1
        utterance_id = f"u{self.utterances}"
        await self.send_event(
            {"type": "speaking", "utterance_id": utterance_id, "kind": kind, "text": text}
        )
        rate = self.script.output_sample_rate
        pcm = tone(seconds, rate)
        chunk_bytes = rate * CHUNK_MS // 1000 * 2
        started = time.monotonic()
        for offset in range(0, len(pcm), chunk_bytes):
            ahead = offset / 2 / rate - (time.monotonic() - started)
            if ahead > self.script.lead_seconds:
                await asyncio.sleep(ahead - self.script.lead_seconds)
            await self.send_audio(pcm[offset : offset + chunk_bytes])
        await self.send_event({"type": "speaking_done", "utterance_id": utterance_id})

    async def take_turn(self, speaking: asyncio.Task[None] | None) -> bytes | None:
        """The student's answer (None if the page ended the exam or hung up); barges in on
        ``speaking`` when the student talks over it long enough."""
        preroll: list[bytes] = []
        answer = bytearray()
        loud_ms = quiet_ms = 0
        in_speech = False
        while (item := await self.inbox.get()) is not None:
            if isinstance(item, dict):
                if item.get("type") == "end":
                    if speaking is not None:
                        speaking.cancel()
                    return None
                continue
            loud = frame_rms(item) > SPEECH_RMS
            ms = len(item) // 2 * 1000 // INPUT_SAMPLE_RATE
            if in_speech:
                answer += item
                if self.partial is None and len(answer) >= PARTIAL_AFTER_BYTES:
                    self.partial = asyncio.create_task(self.send_partial(bytes(answer)))
                quiet_ms = 0 if loud else quiet_ms + ms
                if quiet_ms >= END_OF_TURN_MS:
                    await self.send_event({"type": "vad", "speech": False})
                    return bytes(answer)
                continue
            preroll = [*preroll, item][-PREROLL_FRAMES:]
            loud_ms = loud_ms + ms if loud else 0
            if loud_ms >= self.script.barge_in_ms:
                in_speech = True
                answer += b"".join(preroll)
                await self.send_event({"type": "vad", "speech": True})
                if speaking is not None and not speaking.done():
                    await self.barge_in(speaking)
        return None

    async def send_partial(self, audio: bytes) -> None:
        transcript = await self.stt.transcribe(np.frombuffer(audio, dtype="<i2"))
        await self.send_event(
            {
                "type": "transcript",
                "final": False,
                "text": transcript.text,
                "confidence": transcript.confidence,
            }
        )

    async def barge_in(self, speaking: asyncio.Task[None]) -> None:
        speaking.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await speaking
        self.script.flushed = True
        played_ms = self.script.examiner_bytes_sent * 1000 // (2 * self.script.output_sample_rate)
        await self.send_event(
            {"type": "flush", "utterance_id": f"u{self.utterances}", "played_ms": played_ms}
        )

    async def run(self, colleges: set[str]) -> None:
        reader = asyncio.create_task(self.read())
        try:
            await self.sit(colleges)
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
                await reader
            self.script.finished.set()

    async def sit(self, colleges: set[str]) -> None:
        script = self.script
        first = await self.inbox.get()
        if first is None:
            return None
        script.first_messages.append(first)
        if not isinstance(first, dict) or first.get("type") not in ("start", "resume"):
            return await self.reject(4400, "bad_first_message", "Send start or resume first.")
        if first.get("token") != script.token:
            return await self.reject(4401, "unauthenticated", "The access token is invalid.")
        if first["type"] == "resume":
            script.session_code = first.get("session_code")
            college = self.sittings.get(script.session_code or "")
        else:
            script.session_code = new_session_code()
            college = first.get("college_type")
        if college not in colleges:
            return await self.reject(4404, "not_found", "Unknown session or college type.")
        if script.refuse is not None:
            return await self.reject(*script.refuse)
        self.sittings[script.session_code or ""] = college
        audio = {"encoding": "pcm_s16le", "channels": 1}
        await self.send_event(
            {
                "type": "session_started",
                "session_code": script.session_code,
                "college_type": college,
                "total_questions": 12,
                "resumed": script.resumed,
                "output_audio": {"sample_rate": script.output_sample_rate, **audio},
                "input_audio": {"sample_rate": INPUT_SAMPLE_RATE, **audio},
            }
        )
        for event in script.extra_events:
            await self.send_event(event)
        if script.identity:
            return await self.confirm_identity()
        if script.recoverable_error is not None:
            code, detail = script.recoverable_error
            await self.send_event({"type": "error", "error": code, "detail": detail})
        await self.send_event(
            {"type": "scenario", "index": 1, "scenario_id": 1, "description": script.scenario}
        )
        await self.send_event(
            {
                "type": "question",
                "number": 1,
                "total": 12,
                "scenario_index": 1,
                "text": script.question,
            }
        )
        await self.answer_question(
            asyncio.create_task(self.speak("question", script.question, script.question_seconds))
        )

    async def answer_question(self, speaking: asyncio.Task[None]) -> None:
        script = self.script
        listening = asyncio.create_task(self.listen_after(speaking))
        answer = await self.take_turn(speaking)
        listening.cancel()
        if answer is None:
            if script.close_code is None:  # ended by the student, not dropped by the script
                await self.finish(None)
            return None
        script.answer += answer
        if self.partial is not None:
            await self.partial  # partial before final, as a real server orders them
        pcm: PCM16 = np.frombuffer(answer, dtype="<i2")
        transcript = await self.stt.transcribe(pcm)
        await self.send_event(
            {
                "type": "transcript",
                "final": True,
                "text": transcript.text,
                "confidence": transcript.confidence,
            }
        )
        matched, missing = grade(transcript.text, script.keywords)
        score = round(10 * len(matched) / len(script.keywords), 1)
        feedback = "Well done." if not missing else f"You missed: {', '.join(missing)}."
        evaluation = {
            "type": "evaluation",
            "question_number": 1,
            "score": score,
            "max_score": 10,
            "feedback_type": "good" if not missing else "partial",
            "feedback": feedback,
            "matched": matched,
            "missing": missing,
            "needs_review": False,
        }
        await self.send_event(evaluation)
        await self.speak("feedback", feedback, 0.5)
        if script.next_question is not None:
            await self.send_event(
                {
                    "type": "question",
                    "number": 2,
                    "total": 12,
                    "scenario_index": 1,
                    "text": script.next_question,
                }
            )
            await self.speak("question", script.next_question, 0.5)
            await self.send_event({"type": "listening", "max_seconds": 60})
        while (item := await self.inbox.get()) is not None:
            if isinstance(item, dict) and item.get("type") == "end":
                return await self.finish((transcript.text, score, feedback))
        return None

    async def confirm_identity(self) -> None:
        """The identity step, left only by ``end``: the sitting ends unscored."""
        await self.speak("welcome", "Welcome. Are you Web Student?", 1.0)
        await self.send_event({"type": "listening", "max_seconds": 15})
        while (item := await self.inbox.get()) is not None:
            if isinstance(item, dict) and item.get("type") == "end":
                await self.send_event({"type": "ended", "reason": "identity_not_confirmed"})
                return await self.close(1000)

    async def listen_after(self, speaking: asyncio.Task[None]) -> None:
        """``listening`` once the question has been spoken in full (not after a barge-in)."""
        await asyncio.wait([speaking])
        if not speaking.cancelled():
            await self.send_event({"type": "listening", "max_seconds": 60})
            if self.script.drop_with is not None:
                if self.script.drop_error is not None:
                    code, detail = self.script.drop_error
                    await self.send_event({"type": "error", "error": code, "detail": detail})
                await self.close(self.script.drop_with)

    async def finish(self, answered: tuple[str, float, str] | None) -> None:
        transcript, score, feedback = answered or ("", 0.0, "Not answered.")
        await self.send_event(
            {
                "type": "result",
                "total_score": score,
                "max_score": 120,
                "percentage": round(score / 120 * 100, 1),
                "grade": "F",
                "passed": False,
                "answers": [
                    {
                        "number": 1,
                        "question": self.script.question,
                        "transcript": transcript,
                        "score": score,
                        "feedback": feedback,
                    }
                ],
            }
        )
        await self.send_event({"type": "ended", "reason": "ended_by_student"})
        await self.close(1000)


def create_scripted_exam_app(
    settings: Settings, scripts: list[ExamScript], stt: SpeechToText
) -> FastAPI:
    """The real app with a scripted ``/ws/exam``; each connection takes the next script."""
    app = create_app(settings)
    sittings: dict[str, str] = {}

    @app.websocket("/ws/exam")
    async def exam(ws: WebSocket) -> None:
        await ws.accept()
        async with app.state.sessionmaker() as db:
            colleges = {college.code for college in await CollegeTypeRepository(db).list()}
        await ScriptedExam(ws, scripts.pop(0), stt, sittings).run(colleges)

    # Matched first, the scripted socket stands in for the real one: this suite tests the page
    # against the protocol, tests/web/test_real_exam.py the page against the real server.
    app.router.routes.insert(0, app.router.routes.pop())
    return app
