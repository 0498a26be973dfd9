"""A simulated candidate: takes a whole exam over the real WebSocket from audio files.

Used by ``newspeech exam`` and by ``bench/latency.py``. It streams 20 ms of 16 kHz PCM16 at a
time, at real-time pace (or ``speed`` times faster), silence between answers, exactly as the
browser does; when the examiner is listening for question *k* it speaks answer *k* once (if
there is one; otherwise it stays silent and the exam's silence rules apply). Answer
:data:`IDENTITY` (0) is spoken when the examiner listens before any question: the sitting opens
by asking the candidate to confirm who they are.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import numpy as np
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from newspeech.errors import Unauthenticated, UpstreamError, ValidationFailed
from newspeech.voice.audio import decode_audio
from newspeech.voice.protocols import PCM16, SAMPLE_RATE

STEP_SAMPLES = SAMPLE_RATE // 50
"""20 ms per message, as the protocol recommends."""
IDENTITY = 0
"""The answers key of the reply to the examiner's opening "Am I speaking with ...?"."""
AUDIO_SUFFIXES = frozenset({".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".webm", ".m4a"})


def login_url(exam_url: str) -> str:
    """The sign-in endpoint of the server whose exam socket is ``exam_url``
    (``ws://host:8000/ws/exam`` -> ``http://host:8000/api/v1/auth/login``)."""
    parts = urlsplit(exam_url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    return urlunsplit((scheme, parts.netloc, "/api/v1/auth/login", "", ""))


async def sign_in(
    exam_url: str, username: str, password: str, *, client: httpx.AsyncClient | None = None
) -> str:
    """Sign in as ``username`` on the server of ``exam_url``; the access token for the exam.

    A refused sign-in raises :class:`Unauthenticated` with the server's reason; a server that
    cannot be reached or answers otherwise raises :class:`UpstreamError`.
    """
    url = login_url(exam_url)
    owned = client is None
    http = client or httpx.AsyncClient(timeout=30.0)
    try:
        response = await http.post(url, json={"username": username, "password": password})
    except httpx.HTTPError as exc:
        raise UpstreamError(f"cannot sign in at {url}: {exc}") from exc
    finally:
        if owned:
            await http.aclose()
    if response.status_code == 200:
        token: str = response.json()["access_token"]
        return token
    try:
        detail = str(response.json().get("detail", response.text))
    except ValueError:
        detail = response.text
    if response.status_code == 401:
        raise Unauthenticated(f"sign-in as {username} refused: {detail}")
    raise UpstreamError(f"sign-in at {url} failed with HTTP {response.status_code}: {detail}")


def load_answers(folder: Path, *, max_seconds: float = 600.0) -> dict[int, PCM16]:
    """Answer audio by question number: ``3.wav``, ``q03.flac``, ``answer-3.mp3`` answer
    question 3; ``identity.wav`` (or ``0.wav``) confirms who the candidate is; files without a
    number answer questions in name order."""
    if not folder.is_dir():
        raise ValidationFailed(f"answers folder {folder} does not exist")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES)
    answers: dict[int, PCM16] = {}
    unnumbered = []
    for path in files:
        match = re.search(r"\d+", path.stem)
        if path.stem.lower() == "identity":
            answers[IDENTITY] = decode_audio(path.read_bytes(), max_seconds=max_seconds)
        elif match:
            answers[int(match.group())] = decode_audio(path.read_bytes(), max_seconds=max_seconds)
        else:
            unnumbered.append(path)
    number = 1
    for path in unnumbered:
        while number in answers:
            number += 1
        answers[number] = decode_audio(path.read_bytes(), max_seconds=max_seconds)
    return answers


@dataclass
class TurnReport:
    question: int | None
    transcript: str = ""
    score: float | None = None
    max_score: float | None = None
    feedback: str = ""
    latency: dict[str, Any] = field(default_factory=dict)
    client_voice_to_voice_ms: float | None = None
    """Last answer byte sent → first examiner audio byte received, seen by the client."""


@dataclass
class ExamReport:
    session_code: str | None = None
    turns: list[TurnReport] = field(default_factory=list)
    flushes: list[dict[str, Any]] = field(default_factory=list)
    """Barge-ins: flushes while the candidate spoke (not the one its own ``end`` causes)."""
    errors: list[dict[str, Any]] = field(default_factory=list)
    result: dict[str, Any] | None = None
    continued: int = 0
    """Answers the examiner reopened because they went on after their turn was taken."""
    ended: str | None = None
    close_code: int | None = None
    audio_seconds: float = 0.0


@dataclass
class Candidate:
    """One student. ``barge_in_after`` (seconds): answer that long into each question instead
    of waiting for the examiner to finish (to exercise barge-in). ``end_after``: send ``end``
    once question ``end_after`` is graded (a shorter sitting)."""

    url: str
    token: str
    college_type: str
    answers: Mapping[int, PCM16]
    speed: float = 1.0
    barge_in_after: float | None = None
    end_after: int | None = None
    on_event: Callable[[dict[str, Any]], None] | None = None
    open_timeout: float = 10.0
    """Seconds to wait for the WebSocket's opening handshake (a heavily loaded server's
    event loop can take longer)."""
    report: ExamReport = field(default_factory=ExamReport)
    _queue: list[PCM16] = field(default_factory=list)
    _controls: list[str] = field(default_factory=list)
    _ending: bool = False
    _answered: set[int] = field(default_factory=set)
    _question: int | None = None
    _reopened: bool = False
    _answer_ended: float | None = None
    _sample_rate: int = 22_050

    async def run(self, *, resume: str | None = None) -> ExamReport:
        opening: dict[str, Any] = {"type": "start", "token": self.token}
        if resume:
            opening |= {"type": "resume", "session_code": resume}
        else:
            opening["college_type"] = self.college_type
        async with connect(self.url, max_size=2**22, open_timeout=self.open_timeout) as ws:
            await ws.send(json.dumps(opening))
            microphone = asyncio.create_task(self._stream(ws))
            try:
                async for message in ws:
                    self._hear(message)
            except ConnectionClosed:
                pass
            finally:
                microphone.cancel()
                await asyncio.gather(microphone, return_exceptions=True)
            self.report.close_code = ws.close_code
        return self.report

    def _hear(self, message: str | bytes) -> None:
        if isinstance(message, bytes):
            self.report.audio_seconds += len(message) / 2 / self._sample_rate
            if self._answer_ended is not None and self.report.turns:
                waited = 1000.0 * (time.perf_counter() - self._answer_ended)
                self.report.turns[-1].client_voice_to_voice_ms = round(waited, 1)
                self._answer_ended = None
            return
        event: dict[str, Any] = json.loads(message)
        if self.on_event is not None:
            self.on_event(event)
        self._handle(event)

    def _handle(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        report = self.report
        if kind == "session_started":
            report.session_code = event["session_code"]
            self._sample_rate = int(event["output_audio"]["sample_rate"])
        elif kind == "question":
            self._question = int(event["number"])
        elif kind == "speaking" and event.get("kind") == "question" and self.barge_in_after:
            self._answer_current(delay=self.barge_in_after)
        elif kind == "listening":
            if event.get("resumed"):
                self._reopened = True
                report.continued += 1
            self._answer_current()
        elif kind == "transcript" and event.get("final"):
            turn = TurnReport(self._question, transcript=event["text"])
            if self._reopened and report.turns and report.turns[-1].question == self._question:
                report.turns[-1] = turn  # the whole answer, in place of its first part
            else:
                report.turns.append(turn)
            self._reopened = False
        elif kind == "evaluation" and report.turns:
            turn = report.turns[-1]
            turn.score, turn.max_score = event.get("score"), event.get("max_score")
            turn.feedback = event.get("feedback") or ""
            if self.end_after is not None and event.get("question_number") == self.end_after:
                self._controls.append(json.dumps({"type": "end"}))
                self._ending = True
        elif kind == "latency" and report.turns:
            report.turns[-1].latency = event
        elif kind == "flush" and not self._ending:
            report.flushes.append(event)
        elif kind == "error":
            report.errors.append(event)
        elif kind == "result":
            report.result = event
        elif kind == "ended":
            report.ended = event.get("reason")

    def _answer_current(self, delay: float = 0.0) -> None:
        number = IDENTITY if self._question is None else self._question
        if number in self._answered or number not in self.answers:
            return
        self._answered.add(number)
        lead = np.zeros(round(delay * SAMPLE_RATE), dtype=np.int16)
        self._queue.append(np.concatenate([lead, self.answers[number]]))

    async def _stream(self, ws: ClientConnection) -> None:
        """Send 20 ms messages on a fixed schedule: answers when queued, silence otherwise."""
        quiet = np.zeros(STEP_SAMPLES, dtype=np.int16)
        pending: PCM16 = np.zeros(0, dtype=np.int16)
        interval = STEP_SAMPLES / SAMPLE_RATE / self.speed
        next_at = time.perf_counter()
        while True:
            while self._controls:
                await ws.send(self._controls.pop(0))
            if pending.size == 0 and self._queue:
                pending = self._queue.pop(0)
            if pending.size:
                frame, pending = pending[:STEP_SAMPLES], pending[STEP_SAMPLES:]
                if pending.size == 0:
                    self._answer_ended = time.perf_counter()
            else:
                frame = quiet
            if frame.size % 2 or frame.size < STEP_SAMPLES:
                frame = np.pad(frame, (0, STEP_SAMPLES - frame.size))
            await ws.send(frame.astype("<i2").tobytes())
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))


def summary_lines(report: ExamReport, questions: Sequence[int] | None = None) -> list[str]:
    """Per turn: question, score, latency and transcript; then the result."""
    lines = [f"session {report.session_code}"]
    for turn in report.turns:
        if questions is not None and turn.question not in questions:
            continue
        latency = turn.latency
        score = "-" if turn.score is None else f"{turn.score:g}/{turn.max_score:g}"
        lines.append(
            f"Q{turn.question or '?':<3} score {score:<8} "
            f"response {latency.get('response_ms', '-')} ms  "
            f"voice-to-voice {latency.get('voice_to_voice_ms', '-')} ms  "
            f"| {turn.transcript.strip()}"
        )
    if report.result is not None:
        result = report.result
        lines.append(
            f"result: {result.get('total_score')}/{result.get('max_score')} "
            f"({result.get('percentage')} %), grade {result.get('grade')}, "
            f"{'passed' if result.get('passed') else 'not passed'}"
        )
    if report.continued:
        lines.append(f"answers that went on after a pause and were heard whole: {report.continued}")
    for error in report.errors:
        lines.append(f"error: {error.get('error')}: {error.get('detail')}")
    lines.append(f"ended: {report.ended or 'connection closed'} (close code {report.close_code})")
    return lines
