"""Fault suite, end to end: the real server with its real speech engines on real PostgreSQL,
a candidate speaking over the real socket, and the database going away while answer 2 is
spoken. The other fault tests drive the exam's conversation directly; this one proves the
whole stack — the socket, the voice loop, the sitting lease, the recorder and the answer-audio
spool — keeps the sitting open, says the pause, and stores every answer, grade and recording
once when the database is back.

Timing-dependent by nature, like ``test_real_exam_socket.py``: it asserts what must hold on
any take (events, what is stored under which question, counts), never the words heard or a
mark.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from websockets.asyncio.client import connect

from newspeech.app import create_app
from newspeech.config import Settings
from newspeech.db.engine import create_engine, create_sessionmaker
from newspeech.db.migrations import upgrade
from newspeech.models import SessionStatus
from tests.conftest import TEST_DATABASE
from tests.exams.real_exam import (
    RealServer,
    Sitting,
    next_event,
    seed,
    send_json,
    stored,
    stored_audio_key,
    student,
)
from tests.exams.ws_client import serve
from tests.fixtures.databases import fresh_database_url
from tests.fixtures.tcp_proxy import TcpProxy, proxy_to
from tests.fixtures.voices import CandidateVoices

pytestmark = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)

OUTAGE_SECONDS = 4.0


@dataclass
class ProxiedServer:
    server: RealServer
    proxy: TcpProxy
    direct: async_sessionmaker[AsyncSession]
    """Checks go straight to the database, not through the proxy the server uses."""


@pytest.fixture
async def proxied_server(backend: str, tmp_path: Path) -> AsyncIterator[ProxiedServer]:
    url = await fresh_database_url(backend, tmp_path, f"{TEST_DATABASE}_socket_outage")
    direct = create_engine(Settings(environment="test", data_dir=tmp_path, database_url=url))
    try:
        await upgrade(direct)
        await seed(create_sessionmaker(direct))
        async with proxy_to(url) as proxy:
            settings = Settings(
                environment="test",
                data_dir=tmp_path,
                database_url=proxy.url_for(url),
                inference_workers=2,
                db_connect_timeout=2.0,
                exam_outage_retry_seconds=0.5,
            )
            app = create_app(settings)
            async with serve(app) as ws_url:
                yield ProxiedServer(RealServer(ws_url, app), proxy, create_sessionmaker(direct))
    finally:
        await direct.dispose()


async def seen(sitting: Sitting, event_type: str, **fields: Any) -> None:
    """Return once an event of ``event_type`` with ``fields`` has arrived (already or next)."""
    if not any(
        e["type"] == event_type and all(e.get(k) == v for k, v in fields.items())
        for e in sitting.events
    ):
        await sitting.until(event_type, **fields)


async def test_the_database_going_away_during_a_spoken_answer_loses_and_doubles_nothing(
    backend: str, proxied_server: ProxiedServer, voices: CandidateVoices
) -> None:
    server, proxy, db = proxied_server.server, proxied_server.proxy, proxied_server.direct
    alice = await student(server, db, "Alice")
    async with connect(server.url, max_size=None) as ws:
        await send_json(ws, type="start", token=alice.token, college_type="medical")
        started = await next_event(ws)
        assert started["type"] == "session_started"
        sitting = Sitting(ws, db, voices, questions=(1, 2, 3))
        streaming = asyncio.create_task(sitting.microphone.run())
        try:
            await sitting.until("evaluation", question_number=1)
            await sitting.until("question", number=2)
            await proxy.cut()  # as answer 2 is about to be spoken
            await sitting.until("technical_pause")
            await seen(sitting, "evaluation", question_number=2)
            await asyncio.sleep(OUTAGE_SECONDS)
            await proxy.restore()
            # Question 4 is asked once answer 3 has been heard and graded; when the held writes
            # are stored (technical_pause_over) depends on when the next write comes.
            await seen(sitting, "question", number=4)
            await send_json(ws, type="end")
            result = await sitting.until("result")
            ended = await sitting.until("ended")
        finally:
            streaming.cancel()
    assert ws.close_code == 1000
    assert ended["reason"] == "ended_by_student"
    assert not sitting.of("error")
    assert sitting.of("technical_pause_over")
    graded = [e["question_number"] for e in sitting.of("evaluation")]
    # An answer the candidate went on with after a pause is graded again (docs/protocol.md).
    assert graded == sorted(graded)
    assert set(graded) == {1, 2, 3}
    assert [a["number"] for a in result["answers"]] == [1, 2, 3]

    rows = await stored(db, started["session_code"])
    assert rows["session"].status is SessionStatus.TERMINATED
    answers = rows["answers"]
    assert [a.question_number for a in answers] == [1, 2, 3]  # each once, under its question
    assert all(a.transcribed_text.strip() for a in answers)
    assert sorted(e.answer_id for e in rows["evaluations"]) == sorted(a.id for a in answers)
    for answer in answers:  # every recording stored, answer 2's included
        await stored_audio_key(db, answer.id)
    audits = rows["audits"]
    # Answer 2 was stored by a replay of what the sitting held: once, as the others.
    assert audits.count("exam.answer_stored") == 3
    assert "answer.audio_failed" not in audits
