"""The multi-node topology as processes: nginx (Debian package) in front of two ``newspeech serve``
nodes on their own ports and data folders, sharing PostgreSQL and Redis.

A candidate signs in and starts through nginx, answers questions 1 and 2; the node serving the
sitting (the one its lease names) is killed with ``kill -9``; the candidate resumes through
nginx, which passes the connection to the surviving node, answers question 3 there and ends the
sitting. Each answer is stored exactly once and the lease names the surviving node.

Prometheus (Debian package) scrapes both nodes every second with the shipped alert rules
loaded: it sees both up and the sitting active on the serving node before the kill, then the
killed node down and the surviving node's grading of answer 3 after it.

Real time and real speech engines by nature: it asserts what is stored and where, never the
words heard or a mark.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from newspeech.models import ExamSession, SittingLease
from tests.exams.real_exam import (
    Sitting,
    make_student,
    next_event,
    send_json,
    started,
    stored,
)
from tests.exams.serve_process import (
    HAVE_NGINX,
    World,
    free_port,
    newspeech_serve,
    nginx,
    write_file,
)
from tests.fixtures.voices import CandidateVoices

pytestmark = pytest.mark.backends  # PostgreSQL, whatever NEWSPEECH_TEST_BACKENDS selects

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
HAVE_PROMETHEUS = Path(PROMETHEUS).exists()
ALERTS = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "alerts.yml"
SCRAPE = """
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: ["{alerts}"]
scrape_configs:
  - job_name: newspeech
    static_configs:
      - targets: ["127.0.0.1:{a}", "127.0.0.1:{b}"]
"""
REDIS_URL = os.environ.get("NEWSPEECH_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@asynccontextmanager
async def prometheus(folder: Path, port: int, targets: tuple[int, int]) -> AsyncIterator[str]:
    """Prometheus scraping both nodes every second, once it is ready; yields its URL."""
    config = folder / "prometheus.yml"
    text = SCRAPE.format(alerts=ALERTS, a=targets[0], b=targets[1])
    await asyncio.to_thread(write_file, config, text)
    log = (folder / "prometheus.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        PROMETHEUS,
        f"--config.file={config}",
        f"--storage.tsdb.path={folder / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        stdout=log,
        stderr=asyncio.subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=url) as client:
            for _ in range(600):
                if process.returncode is not None:
                    raise AssertionError(f"prometheus exited with {process.returncode}")
                try:
                    if (await client.get("/-/ready")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass  # not listening yet
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("prometheus was not ready after 60 s")
        yield url
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
                await process.wait()
        log.close()


async def scraped(
    url: str, query: str, wanted: Callable[[dict[str, float]], bool]
) -> dict[str, float]:
    """Ask Prometheus ``query`` until ``wanted`` holds for its answer, as value by scraped port
    (the scrape interval is a second: it comes within a few)."""
    seen: dict[str, float] = {}
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        for _ in range(120):
            response = await client.get("/api/v1/query", params={"query": query})
            response.raise_for_status()
            result: list[dict[str, Any]] = response.json()["data"]["result"]
            seen = {r["metric"]["instance"].rsplit(":", 1)[1]: float(r["value"][1]) for r in result}
            if wanted(seen):
                return seen
            await asyncio.sleep(0.5)
    raise AssertionError(f"Prometheus never answered {query!r} as wanted; last: {seen}")


async def lease_pid(db: async_sessionmaker[AsyncSession], session_code: str) -> int:
    """The process id in the sitting lease's holder (``host:pid:nonce``): the serving node."""
    async with db() as session:
        holder = await session.scalar(
            select(SittingLease.holder)
            .join(ExamSession, ExamSession.id == SittingLease.session_id)
            .where(ExamSession.session_code == session_code)
        )
    assert holder is not None
    return int(holder.split(":")[1])


async def test_kill_9_of_the_serving_node_behind_nginx_and_the_sitting_finishes_on_the_other(
    world: World,
    voices: CandidateVoices,
    tmp_path: Path,
) -> None:
    if not HAVE_NGINX:
        pytest.skip("nginx is not installed (Debian: apt-get install nginx; scripts/test does)")
    if not HAVE_PROMETHEUS:
        pytest.skip("prometheus is not installed (apt-get install prometheus; scripts/test does)")
    env, db = world
    env = env | {
        "NEWSPEECH_REDIS_URL": REDIS_URL,
        "NEWSPEECH_SECRET_KEY": "nodes-behind-nginx-share-one-token-secret-" + "x" * 32,
    }
    ports = free_port(), free_port()
    front = free_port()
    node_env = [env | {"NEWSPEECH_DATA_DIR": str(tmp_path / f"node-{i}")} for i in (0, 1)]
    url = f"ws://127.0.0.1:{front}/ws/exam"
    async with (
        newspeech_serve(node_env[0], ports[0], log=tmp_path / "node-0.log") as node_0,
        newspeech_serve(node_env[1], ports[1], log=tmp_path / "node-1.log") as node_1,
        nginx(tmp_path / "nginx", front, ports),
        prometheus(tmp_path / "prometheus", free_port(), ports) as scraper,
    ):
        nodes = {node_0.pid: node_0, node_1.pid: node_1}
        port_of = {node_0.pid: str(ports[0]), node_1.pid: str(ports[1])}
        student = await make_student(db, f"http://127.0.0.1:{front}", "kim", "Kim Walker")
        async with connect(url, max_size=None) as ws:
            await send_json(ws, type="start", token=student.token, college_type="medical")
            code = started(await next_event(ws))["session_code"]
            first = Sitting(ws, db, voices, questions=(1, 2))
            microphone = asyncio.create_task(first.microphone.run())
            try:
                await first.until("evaluation", question_number=2)
                await first.until("question", number=3)
                serving = nodes[await lease_pid(db, code)]
                both_up = await scraped(scraper, "up", lambda up: len(up) == 2)
                sitting_on = await scraped(
                    scraper, "newspeech_active_sittings", lambda active: sum(active.values()) == 1
                )
                serving.kill()  # SIGKILL: no drain, no goodbye
                await serving.wait()
                with pytest.raises(ConnectionClosed):
                    await first.until("never sent")
            finally:
                microphone.cancel()
        [survivor] = [node for node in nodes.values() if node is not serving]

        async with connect(url, max_size=None) as ws:  # nginx passes it to the survivor
            await send_json(ws, type="resume", token=student.token, session_code=code)
            resumed = started(await next_event(ws))
            second = Sitting(ws, db, voices, questions=(3,), confirm=False)
            microphone = asyncio.create_task(second.microphone.run())
            try:
                await second.until("evaluation", question_number=3)
                await send_json(ws, type="end")
                assert (await second.until("ended"))["reason"] == "ended_by_student"
            finally:
                microphone.cancel()
        assert await lease_pid(db, code) == survivor.pid
        after_kill = await scraped(scraper, "up", lambda up: up.get(port_of[serving.pid]) == 0)
        answered = await scraped(
            scraper,
            "newspeech_grading_seconds_count",
            lambda count: count.get(port_of[survivor.pid], 0) >= 1,
        )
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{front}") as client:
            assert (await client.get("/metrics")).status_code == 404  # not through nginx

    assert serving.returncode == -signal.SIGKILL
    assert both_up == dict.fromkeys(port_of.values(), 1.0)
    assert sitting_on[port_of[serving.pid]] == 1
    assert after_kill == {port_of[serving.pid]: 0.0, port_of[survivor.pid]: 1.0}
    assert answered[port_of[survivor.pid]] >= 1
    assert resumed["resumed"] is True
    assert second.of("question")[0]["number"] == 3
    rows = await stored(db, code)
    assert [a.question_number for a in rows["answers"]] == [1, 2, 3]  # each stored once
    assert sorted(e.answer_id for e in rows["evaluations"]) == sorted(a.id for a in rows["answers"])
