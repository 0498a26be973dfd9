"""The multi-node topology as processes: nginx (Debian package) in front of two ``newspeech serve``
nodes on their own ports and data folders, sharing PostgreSQL and Redis.

A candidate signs in and starts through nginx, answers questions 1 and 2; the node serving the
sitting (the one its lease names) is killed with ``kill -9``; the candidate resumes through
nginx, which passes the connection to the surviving node, answers question 3 there and ends the
sitting. Each answer is stored exactly once and the lease names the surviving node.

Real time and real speech engines by nature: it asserts what is stored and where, never the
words heard or a mark.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from newspeech.config import Settings
from newspeech.db.engine import create_engine, create_sessionmaker
from newspeech.db.migrations import upgrade
from newspeech.models import ExamSession, SittingLease
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

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
HAVE_NGINX = Path(NGINX).exists()
REDIS_URL = os.environ.get("NEWSPEECH_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
DATABASE = (
    "newspeech_nginx_" + hashlib.sha1(str(Path(__file__).parents[2]).encode()).hexdigest()[:8]
)
"""One per checkout: two checkouts' suites never drop each other's database."""

CONFIG = """
daemon off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log info;
{user}
events {{ worker_connections 256; }}
http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        '' close;
    }}
    upstream newspeech {{
        server 127.0.0.1:{a} max_fails=1 fail_timeout=60s;
        server 127.0.0.1:{b} max_fails=1 fail_timeout=60s;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://newspeech;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
            proxy_set_header X-Request-ID $request_id;
            proxy_read_timeout 600s;
            proxy_next_upstream error timeout;
        }}
        location = /metrics {{
            return 404;
        }}
    }}
}}
"""


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@asynccontextmanager
async def nginx(folder: Path, port: int, upstreams: tuple[int, int]) -> AsyncIterator[None]:
    """nginx in the foreground with a configuration of its own, once it accepts connections."""
    user = "user root;" if os.geteuid() == 0 else ""  # the workers must reach the folder
    config = folder / "nginx.conf"
    text = CONFIG.format(dir=folder, user=user, a=upstreams[0], b=upstreams[1], port=port)
    await asyncio.to_thread(_write, config, text)
    process = await asyncio.create_subprocess_exec(
        NGINX,
        "-p",
        str(folder),
        "-c",
        str(config),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        for _ in range(400):
            if process.returncode is not None:
                raise AssertionError(f"nginx exited with {process.returncode}")
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                break
            except OSError:
                await asyncio.sleep(0.05)
        yield
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGQUIT)  # graceful stop
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
                await process.wait()


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
            "NEWSPEECH_REDIS_URL": REDIS_URL,
            "NEWSPEECH_SECRET_KEY": "nodes-behind-nginx-share-one-token-secret-" + "x" * 32,
            "NEWSPEECH_INFERENCE_WORKERS": "1",
        }
        yield env, sessionmaker
    finally:
        await engine.dispose()


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
    world: tuple[dict[str, str], async_sessionmaker[AsyncSession]],
    voices: CandidateVoices,
    tmp_path: Path,
) -> None:
    if not HAVE_NGINX:
        pytest.skip("nginx is not installed (Debian: apt-get install nginx; scripts/test does)")
    env, db = world
    ports = free_port(), free_port()
    front = free_port()
    node_env = [env | {"NEWSPEECH_DATA_DIR": str(tmp_path / f"node-{i}")} for i in (0, 1)]
    url = f"ws://127.0.0.1:{front}/ws/exam"
    async with (
        newspeech_serve(node_env[0], ports[0], log=tmp_path / "node-0.log") as node_0,
        newspeech_serve(node_env[1], ports[1], log=tmp_path / "node-1.log") as node_1,
        nginx(tmp_path / "nginx", front, ports),
    ):
        nodes = {node_0.pid: node_0, node_1.pid: node_1}
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
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{front}") as client:
            assert (await client.get("/metrics")).status_code == 404  # not through nginx

    assert serving.returncode == -signal.SIGKILL
    assert resumed["resumed"] is True
    assert second.of("question")[0]["number"] == 3
    rows = await stored(db, code)
    assert [a.question_number for a in rows["answers"]] == [1, 2, 3]  # each stored once
    assert sorted(e.answer_id for e in rows["evaluations"]) == sorted(a.id for a in rows["answers"])
