"""What the end-to-end tests of the REAL exam share: a seeded database with a student who
signs in through the real login endpoint, Piper-voiced answers, and a real-time microphone."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from newspeech.kit.passwords import hash_password
from newspeech.models import UserRole
from newspeech.seed import seed_reference_data
from newspeech.users.repository import UserRepository
from newspeech.voice.audio import resample_pcm16
from newspeech.voice.engines import SpeechEngines
from newspeech.voice.protocols import PCM16, SAMPLE_RATE
from tests.exams.ws_client import parse

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
    sessionmaker: async_sessionmaker[AsyncSession], http_url: str, username: str, full_name: str
) -> Student:
    """A medical student in the database, signed in through ``POST /api/v1/auth/login``."""
    async with sessionmaker() as db:
        await UserRepository(db).create(
            username=username,
            email=f"{username}@example.org",
            password_hash=hash_password(PASSWORD),
            full_name=full_name,
            role=UserRole.STUDENT,
            college_type="medical",
        )
        await db.commit()
    async with httpx.AsyncClient(base_url=http_url, timeout=60) as client:  # a loaded CI box
        response = await client.post(
            "/api/v1/auth/login", json={"username": username, "password": PASSWORD}
        )
    response.raise_for_status()
    return Student(username, full_name, response.json()["access_token"])


async def piper_pcm16(speech: SpeechEngines, text: str) -> PCM16:
    """``text`` in the server's own Piper voice, resampled to the socket's 16 kHz."""
    tts = speech.tts
    pcm = b"".join([chunk.pcm async for chunk in tts.stream(text)])
    return resample_pcm16(np.frombuffer(pcm, dtype=np.int16), tts.sample_rate)


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
