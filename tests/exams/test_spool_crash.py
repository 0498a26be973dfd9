"""A crash at any point of keeping an answer's recording loses nothing and leaves no orphan, on
every database backend.

A real process (tests/exams/spool_crash_child.py) sits question 1 on the test database and is
killed with SIGKILL at one step of the sequence (take spooled inside the answer's transaction,
answer committed, recording uploaded, key committed, spool entry removed); then the start-up
reconciliation runs on what it left. Either the answer committed and its row names the
recording of the take it committed with, or it did not and neither the spool nor the store keeps
anything of it. Each step is a point the process dies at, not a timing.

Each such process is forked from a ``multiprocessing`` fork server that imported the child's
modules once (NumPy, SQLAlchemy, the exam service: ~3 s of CPU that a fresh interpreter per
step paid again).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import signal
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from newspeech.answers.audio.service import AnswerAudioRecorder, audio_key
from newspeech.answers.audio.spool import AudioSpool
from newspeech.config import Settings
from newspeech.models import Answer, AuditLog, User
from newspeech.questions.banks import BANKS_DIR, load_bank
from newspeech.seed import seed_reference_data
from newspeech.storage.local import LocalAudioStore
from newspeech.voice.audio import decode_audio
from newspeech.voice.protocols import SAMPLE_RATE
from tests.exams.spool_crash_child import FIRST_PART, STEPS, WHOLE, crash
from tests.fixtures.factories import make_user

FORK_SERVER = multiprocessing.get_context("forkserver")
MEDICAL = load_bank(BANKS_DIR / "medical.yaml")


@pytest.fixture
async def student(db: AsyncSession) -> User:
    await seed_reference_data(db, banks=[MEDICAL])
    user = await make_user(db, college_type="medical")
    await db.commit()
    return user


async def crash_at(step: str, url: str, user: User, data_dir: Path) -> int:
    """Run the child until it kills itself at ``step``; the sitting's id."""
    # Ignored if this process's fork server already runs (then the child imports them).
    FORK_SERVER.set_forkserver_preload(["tests.exams.spool_crash_child"])
    mine, theirs = FORK_SERVER.Pipe(duplex=False)
    child = FORK_SERVER.Process(target=crash, args=(theirs, url, user.id, data_dir, step))
    child.start()
    theirs.close()
    await asyncio.to_thread(child.join, 120)
    told = []
    with mine:
        while mine.poll():
            try:
                told.append(mine.recv())
            except EOFError:  # all it sent is read
                break
    assert child.exitcode == -signal.SIGKILL, told
    return int(told[0])


@pytest.mark.parametrize("step", STEPS)
async def test_a_crash_at_any_step_leaves_the_recording_attached_or_nothing_at_all(
    step: str,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    db: AsyncSession,
    student: User,
    tmp_path: Path,
) -> None:
    sitting = await crash_at(step, settings.database_url, student, tmp_path)
    store = LocalAudioStore(tmp_path / "answer-audio")
    spool = AudioSpool(tmp_path / "spool")
    left = spool.entries()

    report = await AnswerAudioRecorder(store, sessionmaker, spool=spool).reconcile()

    assert spool.entries() == []
    assert report.pending == 0
    await db.commit()  # a fresh snapshot (MariaDB's REPEATABLE READ)
    answers = list(
        await db.scalars(
            select(Answer)
            .where(Answer.session_id == sitting)
            .execution_options(populate_existing=True)
        )
    )
    stored = sorted(p.relative_to(store.root).as_posix() for p in store.root.rglob("*.ogg"))
    if step == "spooled":  # the answer never committed: nothing of it is kept
        assert answers == []
        assert left  # the take was spooled before the commit that never came
        assert report.dropped == len(left)
        assert stored == []
        return
    [answer] = answers  # lost 0, duplicated 0
    assert answer.answer_audio_path == audio_key(sitting, answer.id)
    assert stored == [answer.answer_audio_path]  # no orphan
    decoded = decode_audio(await store.get(answer.answer_audio_path), max_seconds=60)
    assert decoded.size / SAMPLE_RATE == pytest.approx(answer.audio_duration_seconds, abs=0.1)
    if step == "amend_spooled":  # the whole never committed: the first take stands
        assert answer.transcribed_text == FIRST_PART
        assert answer.audio_duration_seconds == pytest.approx(3.0)
    else:
        assert answer.transcribed_text == WHOLE
        assert answer.audio_duration_seconds == pytest.approx(9.0)
    kept = list(
        await db.scalars(
            select(AuditLog.resource_id).where(
                AuditLog.session_id == sitting, AuditLog.action == "answer.audio_stored"
            )
        )
    )
    takes = 2 if step == "amend_committed" else 1
    assert kept == [answer.id] * takes  # one audit row per take stored, none twice
