"""Structured logs: request ids given and echoed, JSON lines naming the request and sitting."""

from __future__ import annotations

import contextvars
import io
import json
import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from newspeech.app import create_app
from newspeech.config import Settings
from newspeech.observability.logs import bind_sitting, log_handler


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
