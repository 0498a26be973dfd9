"""``newspeech serve`` as a real process for the fault and multi-node tests (and
``scripts/bench api``): the process, a free port, nginx in front of two nodes, and the ``world``
fixture (a fresh PostgreSQL database and the server's environment)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import signal
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import NamedTuple

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from newspeech.config import Settings
from newspeech.db.engine import create_engine, create_sessionmaker
from newspeech.db.migrations import upgrade
from tests.exams.real_exam import seed
from tests.fixtures.databases import fresh_database_url

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
HAVE_NGINX = Path(NGINX).exists()
START_SECONDS = 240.0
"""Real seconds a server may take to load its speech models on a loaded CI box (an outcome
waited for, not a timing assertion)."""


CHECKOUT = hashlib.sha1(str(Path(__file__).parents[2]).encode()).hexdigest()[:8]


class World(NamedTuple):
    """What every ``newspeech serve`` of a test shares."""

    env: dict[str, str]
    """The server's ``NEWSPEECH_*`` environment; a test adds its own with ``env | {...}``."""
    db: async_sessionmaker[AsyncSession]
    """The test's own sessions on the same database, to check what the server stored."""


def database_name(module: str) -> str:
    """One database per test module and checkout (``tests.exams.test_two_nodes`` →
    ``newspeech_two_nodes_<hash>``): two modules or two checkouts never drop each other's."""
    return f"newspeech_{module.rsplit('.', 1)[-1].removeprefix('test_')}_{CHECKOUT}"


@pytest.fixture
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    """A fresh PostgreSQL database named after the test module, migrated and seeded, and the
    environment of a ``newspeech serve`` on it (data in ``tmp_path/data``)."""
    url = await fresh_database_url("postgresql", tmp_path, database_name(request.module.__name__))
    engine = create_engine(Settings(environment="test", data_dir=tmp_path, database_url=url))
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
        yield World(env, sessionmaker)
    finally:
        await engine.dispose()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@asynccontextmanager
async def newspeech_serve(
    env: dict[str, str], port: int, *options: str, log: Path | None = None
) -> AsyncIterator[asyncio.subprocess.Process]:
    """``newspeech serve`` in its own process, once ``/readyz`` says it is ready; its output
    goes to ``log`` when given (read it when a test fails)."""
    output = log.open("ab") if log is not None else None
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import sys; from newspeech.cli import main; sys.exit(main())",
        "serve",
        "--port",
        str(port),
        *options,
        env=os.environ | env,
        stdout=output or asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.STDOUT if output else asyncio.subprocess.DEVNULL,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            for _ in range(int(START_SECONDS / 0.25)):
                if process.returncode is not None:
                    raise AssertionError(f"newspeech serve exited with {process.returncode}")
                try:
                    if (await client.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass  # not listening yet
                await asyncio.sleep(0.25)
            else:
                raise AssertionError(f"newspeech serve was not ready after {START_SECONDS} s")
        yield process
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
                await process.wait()
        if output is not None:
            output.close()


NGINX_CONFIG = """
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


def write_file(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@asynccontextmanager
async def nginx(folder: Path, port: int, upstreams: tuple[int, int]) -> AsyncIterator[None]:
    """nginx in the foreground with a configuration of its own, once it accepts connections."""
    user = "user root;" if os.geteuid() == 0 else ""  # the workers must reach the folder
    config = folder / "nginx.conf"
    text = NGINX_CONFIG.format(dir=folder, user=user, a=upstreams[0], b=upstreams[1], port=port)
    await asyncio.to_thread(write_file, config, text)
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
