"""Two nodes, one PostgreSQL database: real ``newspeech serve`` processes on their own ports.

A candidate sits on node A and answers questions 1 and 2; their network "comes back" on node B
while node A still holds the old connection open (it has not noticed anything). The resume on
node B takes the sitting over through the sitting lease: node A's loop ends (``taken_over``,
4000) without writing anything more, node B asks question 3, and every answer is stored
exactly once.

Real time and real speech engines by nature: it asserts what is stored, the close codes and
where the sitting resumes, never the words heard or a mark.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from newspeech.config import Settings
from newspeech.db.engine import create_engine, create_sessionmaker
from newspeech.db.migrations import upgrade
from tests.exams.real_exam import (
    Sitting,
    make_student,
    next_event,
    seed,
    send_json,
    started,
    stored,
)
from tests.exams.serve_process import free_port, newspeech_serve
from tests.fixtures.databases import fresh_database_url
from tests.fixtures.voices import CandidateVoices

pytestmark = pytest.mark.backends  # PostgreSQL, whatever NEWSPEECH_TEST_BACKENDS selects

DATABASE = (
    "newspeech_two_nodes_" + hashlib.sha1(str(Path(__file__).parents[2]).encode()).hexdigest()[:8]
)
"""One per checkout: two checkouts' suites never drop each other's database."""


@pytest.fixture
async def world(
    tmp_path: Path,
) -> AsyncIterator[tuple[dict[str, str], async_sessionmaker[AsyncSession]]]:
    """A fresh PostgreSQL database, migrated and seeded, and what both nodes share."""
    url = await fresh_database_url("postgresql", tmp_path, DATABASE)
    settings = Settings(environment="test", data_dir=tmp_path, database_url=url)
    engine = create_engine(settings)
    try:
        await upgrade(engine)
        sessionmaker = create_sessionmaker(engine)
        await seed(sessionmaker)
        env = {
            "NEWSPEECH_ENVIRONMENT": "test",
            "NEWSPEECH_DATABASE_URL": url,
            "NEWSPEECH_SECRET_KEY": "two-nodes-share-one-token-secret-" + "x" * 32,
            "NEWSPEECH_INFERENCE_WORKERS": "1",
            "NEWSPEECH_SITTING_LEASE_SECONDS": "3",  # renewed every second
        }
        yield env, sessionmaker
    finally:
        await engine.dispose()


async def closed_with(ws: object, sitting: Sitting) -> tuple[dict[str, object] | None, int | None]:
    """Read the old connection to its end: its last error event and its close code."""
    last_error = None
    try:
        while True:
            event = await sitting.until("error")
            last_error = event
    except ConnectionClosed as closed:
        return last_error, closed.rcvd.code if closed.rcvd else None


async def test_a_reconnect_to_the_other_node_takes_the_sitting_over_and_stores_each_answer_once(
    world: tuple[dict[str, str], async_sessionmaker[AsyncSession]],
    voices: CandidateVoices,
    tmp_path: Path,
) -> None:
    env, db = world
    port_a, port_b = free_port(), free_port()
    node_a = env | {"NEWSPEECH_DATA_DIR": str(tmp_path / "node-a")}
    node_b = env | {"NEWSPEECH_DATA_DIR": str(tmp_path / "node-b")}
    async with (
        newspeech_serve(node_a, port_a, log=tmp_path / "node-a.log"),
        newspeech_serve(node_b, port_b, log=tmp_path / "node-b.log"),
    ):
        student = await make_student(db, f"http://127.0.0.1:{port_a}", "kim", "Kim Walker")
        async with connect(f"ws://127.0.0.1:{port_a}/ws/exam", max_size=None) as old:
            await send_json(old, type="start", token=student.token, college_type="medical")
            code = started(await next_event(old))["session_code"]
            on_a = Sitting(old, db, voices, questions=(1, 2))
            microphone = asyncio.create_task(on_a.microphone.run())
            try:
                await on_a.until("evaluation", question_number=1)
                await on_a.until("evaluation", question_number=2)
                await on_a.until("question", number=3)
                # Node A still streams (silence) on the old connection; the candidate is
                # back on node B.
                async with connect(f"ws://127.0.0.1:{port_b}/ws/exam", max_size=None) as new:
                    await send_json(new, type="resume", token=student.token, session_code=code)
                    resumed = started(await next_event(new))
                    asked = await next_event(new, "question")
                    error, close_code = await closed_with(old, on_a)
                    await send_json(new, type="end")
                    assert (await next_event(new, "ended"))["reason"] == "ended_by_student"
            finally:
                microphone.cancel()

    assert resumed["resumed"] is True
    assert asked["number"] == 3
    assert error is not None
    assert error["error"] == "taken_over"
    assert close_code == 4000
    rows = await stored(db, code)
    assert [a.question_number for a in rows["answers"]] == [1, 2]  # each stored once
    assert sorted(e.answer_id for e in rows["evaluations"]) == sorted(a.id for a in rows["answers"])
    audits = rows["audits"]
    assert "exam.question_passed" not in audits  # node A recorded no "no answer"
    # After node B's resume node A wrote nothing (not even its disconnect); B ended it.
    after = audits[audits.index("exam.resumed") + 1 :]
    assert "exam.disconnected" not in after
    assert after[-1] == "exam.terminated"
