"""``newspeech serve --workers 2`` as a real process on PostgreSQL: a sitting over the socket,
SIGTERM to the server, the drain, and the sitting resumed after the restart.

A candidate confirms who they are and answers questions 1 and 2 on whichever worker took the
connection; then the server (uvicorn's supervisor) gets SIGTERM. Each worker drains: the
candidate hears out the examiner's reply and gets ``server_restarting`` (close 1012) between
two answers. After the restart the sitting resumes at question 3 with both answers stored once.

Real time and real speech engines by nature: it asserts the close codes, what is stored and
where the sitting resumes, never the words heard or a mark.
"""

from __future__ import annotations

import asyncio
import hashlib
import signal
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
    "newspeech_workers_" + hashlib.sha1(str(Path(__file__).parents[2]).encode()).hexdigest()[:8]
)
"""One per checkout: two checkouts' suites never drop each other's database."""


@pytest.fixture
async def world(
    tmp_path: Path,
) -> AsyncIterator[tuple[dict[str, str], async_sessionmaker[AsyncSession]]]:
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
            "NEWSPEECH_DATA_DIR": str(tmp_path / "data"),
            "NEWSPEECH_INFERENCE_WORKERS": "1",
        }
        yield env, sessionmaker
    finally:
        await engine.dispose()


async def test_two_workers_drain_on_sigterm_and_the_sitting_resumes_after_the_restart(
    world: tuple[dict[str, str], async_sessionmaker[AsyncSession]],
    voices: CandidateVoices,
    tmp_path: Path,
) -> None:
    env, db = world
    port = free_port()
    url = f"ws://127.0.0.1:{port}/ws/exam"
    log = tmp_path / "serve.log"
    async with newspeech_serve(env, port, "--workers", "2", log=log) as server:
        student = await make_student(db, f"http://127.0.0.1:{port}", "kim", "Kim Walker")
        async with connect(url, max_size=None) as ws:
            await send_json(ws, type="start", token=student.token, college_type="medical")
            code = started(await next_event(ws))["session_code"]
            sitting = Sitting(ws, db, voices, questions=(1, 2))
            microphone = asyncio.create_task(sitting.microphone.run())
            try:
                await sitting.until("evaluation", question_number=1)
                await sitting.until("evaluation", question_number=2)
                server.send_signal(signal.SIGTERM)  # the supervisor: it stops both workers
                with pytest.raises(ConnectionClosed) as closed:
                    await sitting.until("never sent")
            finally:
                microphone.cancel()
        assert await asyncio.wait_for(server.wait(), 120) == 0
    restarting = [e for e in sitting.events if e["type"] == "error"]
    assert [e["error"] for e in restarting] == ["server_restarting"], restarting
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1012
    assert log.read_text().count("SIGTERM: draining") == 2  # each worker drained

    async with (
        newspeech_serve(env, port, "--workers", "2", log=log),
        connect(url, max_size=None) as ws,
    ):
        await send_json(ws, type="resume", token=student.token, session_code=code)
        resumed = started(await next_event(ws))
        asked = await next_event(ws, "question")
        await send_json(ws, type="end")
        assert (await next_event(ws, "ended"))["reason"] == "ended_by_student"
    assert resumed["resumed"] is True
    assert asked["number"] == 3  # both answers were kept: it goes on at question 3
    rows = await stored(db, code)
    assert [a.question_number for a in rows["answers"]] == [1, 2]  # each stored once
    assert len(rows["evaluations"]) == 2
