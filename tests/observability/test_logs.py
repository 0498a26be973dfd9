"""Structured logs: request ids given and echoed, JSON lines naming the request and sitting."""

from __future__ import annotations

import asyncio
import contextvars
import io
import json
import logging
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from newspeech.analysis.recordings.endpoints import RECORDINGS_PATH
from newspeech.app import create_app
from newspeech.config import Settings
from newspeech.kit.signed_links import SIGNATURE_PARAMETER
from newspeech.models import AuditLog
from newspeech.observability.logs import (
    ACCESS_LOGGER,
    REDACTED,
    bind_sitting,
    log_handler,
    redact_access_log,
)


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """What the ``newspeech`` loggers write, as JSON lines."""
    stream = io.StringIO()
    handler = log_handler("json", stream)
    logger = logging.getLogger("newspeech")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        logger.setLevel(level)
        logger.removeHandler(handler)


def records(stream: io.StringIO) -> list[dict[str, str]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


async def test_each_request_gets_an_id_or_keeps_a_sane_one(
    settings: Settings, engine: AsyncEngine
) -> None:
    del engine
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            first = await client.get("/livez")
            second = await client.get("/livez")
            kept = await client.get("/livez", headers={"X-Request-ID": "lb-7f3a.2"})
            refused = await client.get("/livez", headers={"X-Request-ID": "a b\tc" + "x" * 80})
    generated = first.headers["x-request-id"]
    assert len(generated) == 32
    assert second.headers["x-request-id"] != generated
    assert kept.headers["x-request-id"] == "lb-7f3a.2"
    assert refused.headers["x-request-id"] != "a b\tc" + "x" * 80
    assert len(refused.headers["x-request-id"]) == 32


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_an_error_is_logged_as_json_under_the_request_id(
    tmp_path: Path, json_lines: io.StringIO
) -> None:
    settings = Settings(
        environment="test",
        data_dir=tmp_path,
        database_url=f"postgresql+asyncpg://nobody@127.0.0.1:{closed_port()}/gone",
        speech_enabled=False,
        rate_limit_enabled=False,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.post(
                "/api/v1/auth/login",
                json={"username": "someone", "password": "a password"},
                headers={"X-Request-ID": "req-42"},
            )
    assert response.status_code == 503
    assert response.headers["x-request-id"] == "req-42"
    outage = [r for r in records(json_lines) if "database unavailable" in r["message"]]
    assert len(outage) == 1
    assert outage[0]["request_id"] == "req-42"
    assert outage[0]["level"] == "warning"
    assert outage[0]["logger"] == "newspeech"


def test_records_after_bind_sitting_name_the_sitting(json_lines: io.StringIO) -> None:
    def connection() -> None:
        logging.getLogger("newspeech.exams").info("before")
        bind_sitting("MED-2026-0001")
        logging.getLogger("newspeech.exams").info("during")

    contextvars.copy_context().run(connection)
    logging.getLogger("newspeech.exams").info("another connection")
    lines = records(json_lines)
    assert [line["message"] for line in lines] == ["before", "during", "another connection"]
    assert "sitting" not in lines[0]
    assert lines[1]["sitting"] == "MED-2026-0001"
    assert "sitting" not in lines[2]


SECRET = "sIgNaTuRe-0123456789_abcdef"


@asynccontextmanager
async def _served(app: FastAPI, log_config: dict[str, Any] | None) -> AsyncIterator[str]:
    """``app`` behind a real uvicorn with its access log on; yields the base URL."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, lifespan="on", log_level="info", log_config=log_config
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("the server stopped during start-up")
            await asyncio.sleep(0.05)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture
def uvicorn_loggers() -> Iterator[list[logging.Logger]]:
    """uvicorn's loggers (its own and the access logger), put back as they were: a uvicorn
    config with its logging set-up rewrites them."""
    loggers = [logging.getLogger("uvicorn"), logging.getLogger(ACCESS_LOGGER)]
    kept = [(list(x.handlers), list(x.filters), x.propagate, x.level) for x in loggers]
    try:
        yield loggers
    finally:
        for logger, (handlers, filters, propagate, level) in zip(loggers, kept, strict=True):
            logger.handlers[:], logger.filters[:], logger.propagate = handlers, filters, propagate
            logger.setLevel(level)


@pytest.mark.parametrize("fmt", ["text", "json"])
async def test_a_signed_links_signature_reaches_no_log_and_no_audit_row(
    settings: Settings,
    engine: AsyncEngine,
    fmt: str,
    uvicorn_loggers: list[logging.Logger],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Served as ``newspeech serve`` serves: text through uvicorn's own access handler, JSON
    through ours on the root logger. The signature is in the access line of every request
    that carries one, in a line the app logs itself and in no audit row."""
    redact_access_log()
    stream = io.StringIO()
    handler = log_handler(fmt, stream)
    # Where ``newspeech serve`` puts its handler (cli.py ``_log_to_console``).
    owner = logging.getLogger() if fmt == "json" else logging.getLogger("newspeech")
    owner.addHandler(handler)
    if fmt == "json":  # as in a process where uvicorn never set its logging up
        for logger in uvicorn_loggers:
            logger.handlers.clear()
            logger.propagate = True
    link = f"{RECORDINGS_PATH}/7/audio/signed?user=3&expires=4102444800&{SIGNATURE_PARAMETER}"
    app = create_app(settings)
    try:
        async with (
            _served(app, uvicorn.config.LOGGING_CONFIG if fmt == "text" else None) as base,
            httpx.AsyncClient(base_url=base) as client,
        ):
            refused = await client.get(f"{link}={SECRET}")
            # A change refused without a token is audited: its row keeps the path alone.
            unauthenticated = await client.post(f"{RECORDINGS_PATH}?{SIGNATURE_PARAMETER}={SECRET}")
            logging.getLogger("newspeech.analysis").warning(
                "link handed out: %s", f"{link}={SECRET}"
            )
    finally:
        owner.removeHandler(handler)
    assert refused.status_code == 403
    assert unauthenticated.status_code == 401
    written = capsys.readouterr().out + stream.getvalue()
    if fmt == "json":
        written = "\n".join(line["message"] for line in records(stream))
    assert SECRET not in written
    assert f"GET {link}={REDACTED} HTTP/1.1" in written
    assert f"POST {RECORDINGS_PATH}?{SIGNATURE_PARAMETER}={REDACTED} HTTP/1.1" in written
    assert f"link handed out: {link}={REDACTED}" in written
    async with engine.connect() as db:
        audits = (await db.execute(select(AuditLog.action, AuditLog.details))).all()
    assert ("request.refused", {"method": "POST", "path": RECORDINGS_PATH}) in [
        (action, details) for action, details in audits
    ]
    assert SECRET not in repr(audits)
