"""What the end-to-end tests of the REAL exam share: a seeded database with a student who
signs in through the real login endpoint, answers in a deterministic Piper voice
(:mod:`tests.fixtures.voices`), and a real-time microphone."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from newspeech.kit.passwords import hash_password
from newspeech.models import (
    Answer,
    AuditLog,
    Evaluation,
    ExaminerCollege,
    ExamSession,
    Question,
    UserRole,
)
from newspeech.seed import seed_reference_data
from newspeech.users.repository import UserRepository
from newspeech.voice.protocols import PCM16, SAMPLE_RATE
from tests.exams.ws_client import parse
from tests.fixtures.voices import CandidateVoices

PASSWORD = "a long enough passphrase for tests"
IDENTITY_ANSWER = "Yes, that is me."


@dataclass(frozen=True)
class Student:
    username: str
    full_name: str
    token: str


async def seed(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with sessionmaker() as db:
        await seed_reference_data(db)
        await db.commit()


async def make_student(
    sessionmaker: async_sessionmaker[AsyncSession],
    http_url: str,
    username: str,
    full_name: str,
    role: UserRole = UserRole.STUDENT,
) -> Student:
    """A medical student (or an examiner assigned to the medical college) in the database,
    signed in through ``POST /api/v1/auth/login``."""
    async with sessionmaker() as db:
        user = await UserRepository(db).create(
            username=username,
            email=f"{username}@example.org",
            password_hash=hash_password(PASSWORD),
            full_name=full_name,
            role=role,
            college_type="medical",
        )
        if role is UserRole.EXAMINER:
            db.add(ExaminerCollege(user_id=user.id, college_type="medical"))
        await db.commit()
    async with httpx.AsyncClient(base_url=http_url, timeout=60) as client:  # a loaded CI box
        response = await client.post(
            "/api/v1/auth/login", json={"username": username, "password": PASSWORD}
        )
    response.raise_for_status()
    return Student(username, full_name, response.json()["access_token"])


def first_sentences(text: str, words: int = 8) -> str:
    """The model answer's opening, cut at a sentence end once it has ``words`` words: long
    enough to be a real answer, short enough to keep the test's audio brief. One sentence by
    default: Piper pauses between sentences, and a pause may end the turn (Smart Turn judges a
    finished sentence complete), which would split the answer."""
    out: list[str] = []
    for word in text.split():
        out.append(word)
        if len(out) >= words and word.endswith("."):
            break
    return " ".join(out)


async def next_event(ws: ClientConnection, kind: str | None = None) -> dict[str, Any]:
    """The next JSON event (of ``kind``), skipping audio; two minutes at most."""
    while True:
        message = parse(await asyncio.wait_for(ws.recv(), 120))
        if isinstance(message, dict) and kind in (None, message["type"]):
            return message


def started(event: dict[str, Any]) -> dict[str, Any]:
    """``event``, which must be ``session_started`` (else the failure shows what came)."""
    assert event["type"] == "session_started", event
    return event


async def send_json(ws: ClientConnection, **message: Any) -> None:
    await ws.send(json.dumps(message))


class Microphone:
    """Streams 20 ms messages at real-time pace: silence, or the queued speech."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.queue: asyncio.Queue[PCM16] = asyncio.Queue()

    async def run(self) -> None:
        step = SAMPLE_RATE // 50
        quiet = np.zeros(step, dtype=np.int16)
        pending = np.zeros(0, dtype=np.int16)
        try:
            while True:
                if pending.size == 0 and not self.queue.empty():
                    pending = self.queue.get_nowait()
                frame, pending = (
                    (pending[:step], pending[step:]) if pending.size else (quiet, pending)
                )
                await self.ws.send(frame.astype("<i2").tobytes())
                await asyncio.sleep(0.02)
        except ConnectionClosed:
            return


@dataclass(frozen=True)
class RealServer:
    url: str
    app: FastAPI


def http_url(ws_url: str) -> str:
    return ws_url.replace("ws://", "http://").removesuffix("/ws/exam")


async def student(server: RealServer, db: async_sessionmaker[AsyncSession], name: str) -> Student:
    return await make_student(db, http_url(server.url), name.lower(), f"{name} Walker")


class Sitting:
    """Drives one connection: confirms identity when asked, answers question 1 (or each of
    ``questions``), records every event. ``barge_in`` answers over the case presentation
    instead of after it."""

    def __init__(
        self,
        ws: ClientConnection,
        db: async_sessionmaker[AsyncSession],
        voices: CandidateVoices,
        *,
        barge_in: bool = False,
        questions: tuple[int, ...] = (1,),
        confirm: bool = True,
    ) -> None:
        self.ws, self.db, self.voices, self.barge_in = ws, db, voices, barge_in
        self.questions = questions
        self.microphone = Microphone(ws)
        self.events: list[dict[str, Any]] = []
        self.answer_text = ""
        self.answer_pcm: PCM16 = np.zeros(0, dtype=np.int16)
        self._answer: PCM16 | None = None
        self._identity: PCM16 | None = voices.piper(IDENTITY_ANSWER) if confirm else None
        self._answered = False
        self._prepared: set[int] = set()

    async def until(self, event_type: str, **fields: Any) -> dict[str, Any]:
        """Read (and react to) events until one of ``event_type`` with ``fields`` arrives."""
        while True:
            item = parse(await asyncio.wait_for(self.ws.recv(), 180))
            if isinstance(item, bytes):
                continue
            self.events.append(item)
            await self._react(item)
            if item["type"] == event_type and all(item.get(k) == v for k, v in fields.items()):
                return item

    async def _react(self, event: dict[str, Any]) -> None:
        number = event.get("number")
        if event["type"] == "question" and number in self.questions:
            if number in self._prepared:
                return  # asked again (a repeat): answered once
            self._prepared.add(number)
            self.answer_text = await model_answer_opening(self.db, event["text"])
            self._answer = self.voices.piper(self.answer_text)
            self.answer_pcm = self._answer
            self._answered = False
            if self.barge_in:
                self.microphone.queue.put_nowait(self._answer)
        elif event["type"] == "listening":
            if self._identity is not None:
                self.microphone.queue.put_nowait(self._identity)
                self._identity = None
            elif self._answer is not None and not self.barge_in and not self._answered:
                self.microphone.queue.put_nowait(self._answer)
                self._answered = True

    def finals(self) -> list[str]:
        return [e["text"] for e in self.events if e["type"] == "transcript" and e["final"]]

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == kind]


async def stored(db: async_sessionmaker[AsyncSession], code: str) -> dict[str, Any]:
    async with db() as session:
        exam_session = (
            await session.scalars(select(ExamSession).where(ExamSession.session_code == code))
        ).one()
        answers = list(
            await session.scalars(
                select(Answer)
                .where(Answer.session_id == exam_session.id)
                .order_by(Answer.question_number)
            )
        )
        evaluations = list(
            await session.scalars(
                select(Evaluation).where(Evaluation.session_id == exam_session.id)
            )
        )
        audits = list(
            await session.scalars(
                select(AuditLog.action)
                .where(AuditLog.session_id == exam_session.id)
                .order_by(AuditLog.id)
            )
        )
    return {
        "session": exam_session,
        "answers": answers,
        "evaluations": evaluations,
        "audits": audits,
    }


async def stored_audio_key(db: async_sessionmaker[AsyncSession], answer_id: int) -> str:
    """The answer's audio key, once the background upload has recorded it (two minutes at
    most: a wait for an outcome, not a timing assertion)."""
    for _ in range(1200):
        async with db() as session:
            key = await session.scalar(
                select(Answer.answer_audio_path).where(Answer.id == answer_id)
            )
        if key is not None:
            return key
        await asyncio.sleep(0.1)
    raise AssertionError(f"answer {answer_id} has no stored audio")


async def model_answer_opening(db: async_sessionmaker[AsyncSession], question_text: str) -> str:
    async with db() as session:
        question = (
            await session.scalars(
                select(Question).where(
                    Question.college_type == "medical", Question.question_text == question_text
                )
            )
        ).one()
    return first_sentences(question.model_answer or "")
