"""A process that sits question 1 and dies (SIGKILL, no clean-up) at one named step of keeping
its recording; run by tests/exams/test_spool_crash.py (``crash`` in a process forked from one
that has imported this module), which reconciles what it left. By hand:

    python -m tests.exams.spool_crash_child DATABASE_URL USER_ID DATA_DIR STEP

Steps (in the order they happen): ``spooled`` (the take is in the spool, the answer's
transaction not committed), ``committed`` (the answer committed, its upload not begun),
``uploaded`` (the recording in the store, its key not committed), ``key_committed`` (the key
committed, the spool entry not removed); ``amend_spooled`` and ``amend_committed`` are the same
two points for a second, whole take of an answer whose first take was stored. The process
tells the sitting's id first (prints it, or sends it on the pipe it was given).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select

from newspeech.answers.audio.service import AnswerAudioRecorder
from newspeech.answers.audio.spool import AudioSpool
from newspeech.config import Settings
from newspeech.db.engine import create_engine, create_sessionmaker
from newspeech.exams.dependencies import ExamDependencies
from newspeech.exams.service import ExamConversation
from newspeech.grading import KeywordGrader
from newspeech.grading.factory import PooledGrader
from newspeech.models import User
from newspeech.storage.local import LocalAudioStore
from newspeech.voice.conversation import HeardAnswer, TurnTimings
from newspeech.voice.protocols import SAMPLE_RATE, Transcript
from tests.exams.plans import FakeClock

STEPS = (
    "spooled",
    "committed",
    "uploaded",
    "key_committed",
    "amend_spooled",
    "amend_committed",
)
FIRST_PART = "An inferior myocardial infarction,"
WHOLE = "An inferior myocardial infarction, with ST elevation in leads two, three and aVF."


def die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def speech(seconds: float) -> bytes:
    """A tone standing in for the candidate's voice (what is kept is PCM, whatever it says)."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (8000 * np.sin(2 * np.pi * 220 * t)).astype("<i2").tobytes()


def heard(clock: FakeClock, text: str, seconds: float) -> HeardAnswer:
    clock.advance(seconds)
    end = clock.now
    clock.advance(0.5)
    timings = TurnTimings(end - seconds, end, end + 0.3, end + 0.45)
    return HeardAnswer(Transcript(text, 0.9, seconds, 0.2), speech(seconds), timings)


def arm(step: str, audio: AnswerAudioRecorder) -> None:
    """Make the process die at ``step`` (the amend steps: at the second take's)."""
    spool, store = audio.spool, audio.store
    assert spool is not None
    takes = {"n": 0}
    target = 2 if step.startswith("amend_") else 1
    point = step.removeprefix("amend_")
    write, keep, put, remove = spool.write, audio.keep, store.put, spool.remove

    def spooled(*args: Any) -> None:
        write(*args)
        takes["n"] += 1
        if point == "spooled" and takes["n"] == target:
            die()

    def kept(*args: Any) -> None:
        if point == "committed" and takes["n"] == target:
            die()
        keep(*args)

    async def uploaded(*args: Any) -> None:
        await put(*args)
        if point == "uploaded":
            die()

    def removed(*args: Any) -> None:
        if point == "key_committed":
            die()
        remove(*args)

    spool.write = spooled  # type: ignore[method-assign, assignment]
    audio.keep = kept  # type: ignore[method-assign, assignment]
    store.put = uploaded  # type: ignore[method-assign, assignment]
    spool.remove = removed  # type: ignore[method-assign, assignment]


async def main(
    url: str, user_id: int, data_dir: Path, step: str, tell: Callable[[int], None]
) -> None:
    engine = create_engine(Settings(environment="test", data_dir=data_dir, database_url=url))
    sessionmaker = create_sessionmaker(engine)
    async with sessionmaker() as db:
        user = (await db.scalars(select(User).where(User.id == user_id))).one()
    audio = AnswerAudioRecorder(
        LocalAudioStore(data_dir / "answer-audio"),
        sessionmaker,
        spool=AudioSpool(data_dir / "spool"),
        retries=0,
    )
    clock = FakeClock()
    deps = ExamDependencies(
        sessionmaker=sessionmaker, grader=PooledGrader(KeywordGrader()), clock=clock, audio=audio
    )
    conversation = await ExamConversation.start(deps, user, "medical")
    tell(conversation.exam_session_id)
    await conversation.begin()
    await conversation.answer(heard(clock, "Yes, that's me.", 0.5))
    arm(step, audio)
    if step.startswith("amend_"):
        await conversation.answer(heard(clock, FIRST_PART, 3.0))
        await audio.drain()  # the first take is stored and out of the spool
        await conversation.amend(heard(clock, WHOLE, 9.0))
    else:
        await conversation.answer(heard(clock, WHOLE, 9.0))
    await audio.drain()
    raise SystemExit(f"step {step!r} was never reached")


def crash(pipe: Connection, url: str, user_id: int, data_dir: Path, step: str) -> None:
    """The process's work (a ``multiprocessing`` target): the sitting's id goes on ``pipe``,
    and so does the traceback if it fails instead of dying at ``step``."""
    try:
        asyncio.run(main(url, user_id, data_dir, step, pipe.send))
    except BaseException:
        pipe.send(traceback.format_exc())
        raise


def _print(sitting: int) -> None:
    sys.stdout.write(f"{sitting}\n")
    sys.stdout.flush()


if __name__ == "__main__":
    url, user_id, data_dir, step = sys.argv[1:]
    assert step in STEPS, step
    asyncio.run(main(url, int(user_id), Path(data_dir), step, _print))
