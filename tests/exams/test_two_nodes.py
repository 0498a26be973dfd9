"""Two nodes, one PostgreSQL database: real ``newspeech serve`` processes on their own ports.

A candidate sits on node A and answers questions 1 and 2; their network "comes back" on node B
while node A still holds the old connection open (it has not noticed anything). The resume on
node B takes the sitting over through the sitting lease: node A's loop ends (``taken_over``,
4000) without writing anything more, node B asks question 3, and every answer is stored
exactly once. Both nodes share Redis: the college statistics an examiner reads on either node
change on both when the result is stored (on node B) and when it is overridden (on node A).

Real time and real speech engines by nature: it asserts what is stored, the close codes and
where the sitting resumes, never the words heard or a mark.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from newspeech.config import Settings
from newspeech.models import UserRole
from tests.exams.real_exam import (
    Sitting,
    make_student,
    next_event,
    send_json,
    started,
    stored,
)
from tests.exams.serve_process import World, free_port, newspeech_serve
from tests.fixtures.voices import CandidateVoices

pytestmark = pytest.mark.backends  # PostgreSQL, whatever NEWSPEECH_TEST_BACKENDS selects

REDIS_URL = os.environ.get("NEWSPEECH_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


async def statistics(port: int, token: str) -> dict[str, Any]:
    """The medical college's statistics as node ``port`` serves them (from its cache if fresh)."""
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
        response = await client.get(
            "/api/v1/results/statistics/medical", headers={"Authorization": f"Bearer {token}"}
        )
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


async def override(port: int, token: str, answer_id: int, score: int) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
        response = await client.post(
            f"/api/v1/answers/{answer_id}/override",
            json={"score": score, "comment": "heard again on the recording"},
            headers={"Authorization": f"Bearer {token}"},
        )
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


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
    world: World,
    voices: CandidateVoices,
    tmp_path: Path,
) -> None:
    env, db = world
    env = env | {
        "NEWSPEECH_SECRET_KEY": "two-nodes-share-one-token-secret-" + "x" * 32,
        "NEWSPEECH_SITTING_LEASE_SECONDS": "3",  # renewed every second
        "NEWSPEECH_REDIS_URL": REDIS_URL,  # the statistics cache both nodes share
    }
    port_a, port_b = free_port(), free_port()
    # The cache outlives a run in the shared Redis (a rerun names the same database, so the
    # same keys): start from none, so "no attempts yet" is this database's answer.
    redis = Redis.from_url(REDIS_URL)
    prefix = Settings(database_url=env["NEWSPEECH_DATABASE_URL"]).redis_prefix
    await redis.delete(f"{prefix}statistics:medical")
    await redis.aclose()
    node_a = env | {"NEWSPEECH_DATA_DIR": str(tmp_path / "node-a")}
    node_b = env | {"NEWSPEECH_DATA_DIR": str(tmp_path / "node-b")}
    async with (
        newspeech_serve(node_a, port_a, log=tmp_path / "node-a.log"),
        newspeech_serve(node_b, port_b, log=tmp_path / "node-b.log"),
    ):
        student = await make_student(db, f"http://127.0.0.1:{port_a}", "kim", "Kim Walker")
        examiner = await make_student(
            db, f"http://127.0.0.1:{port_b}", "ada", "Ada Reyes", UserRole.EXAMINER
        )
        # Each node caches "no attempts yet" before the sitting.
        before = [await statistics(port, examiner.token) for port in (port_a, port_b)]
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
        # Node B stored the result; node A's cached summary must not outlive it.
        ended = [await statistics(port, examiner.token) for port in (port_a, port_b)]
        rows = await stored(db, code)
        first = rows["evaluations"][0]
        score = 0 if first.score_obtained > 0 else first.max_score
        changed = await override(port_a, examiner.token, first.answer_id, score)
        overridden = [await statistics(port, examiner.token) for port in (port_a, port_b)]

    assert before[0] == before[1]
    assert before[0]["attempts"] == 0
    assert ended[0] == ended[1]
    assert ended[0]["attempts"] == 1
    total = changed["result"]["total_score"]
    assert total != ended[0]["highest_score"]
    assert overridden[0] == overridden[1]
    assert overridden[0]["highest_score"] == total
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
    assert after[-2:] == ["exam.terminated", "answer.override"]  # then the examiner, on A
