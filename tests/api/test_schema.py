"""Schemathesis against the OpenAPI schema, on a real server over HTTP: no 5xx, every status
documented, every body matching its schema. Calls are signed in as an admin, so they reach the
handlers rather than stopping at the authentication check."""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from newspeech.app import create_app
from newspeech.config import Settings
from newspeech.db.engine import create_engine, create_sessionmaker
from tests.fixtures.world import build_world, issue_token

# The schema only: a fixed secret, so building it writes nothing to a data directory.
OPENAPI = create_app(
    Settings(environment="test", speech_enabled=False, secret_key="schema-only-" + "x" * 32)
).openapi()
SCHEMA = schemathesis.openapi.from_dict(OPENAPI)
# Negative data (wrong types, out-of-range numbers, missing fields, strings with NUL ...) from
# the coverage phase's boundary cases and fuzzing; a bounded number per operation keeps a
# backend's run near a minute.
NEGATIVE = schemathesis.openapi.from_dict(
    OPENAPI,
    config=SchemathesisConfig.from_dict(
        {
            "generation": {"mode": "negative", "max-examples": 8},
            "phases": {"coverage": {"enabled": True}, "fuzzing": {"enabled": True}},
        }
    ),
)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


class Server:
    """The app under uvicorn in a thread, on a free local port."""

    def __init__(self, settings: Settings) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        config = uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=self.port, log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the API server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


async def _admin_token(settings: Settings) -> str:
    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine)() as db:
            world = await build_world(db)
            token = await issue_token(db, settings, world.admin.id, dt.datetime.now(dt.UTC))
            await db.commit()
        return token
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def server(settings: Settings, engine: AsyncEngine) -> Iterator[tuple[str, dict[str, str]]]:
    quiet = settings.model_copy(update={"rate_limit_enabled": False})
    token = asyncio.run(_admin_token(quiet))
    with Server(quiet) as running:
        yield running.url, {"Authorization": f"Bearer {token}"}


@SCHEMA.parametrize()
@hypothesis_settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_api_conforms_to_its_schema(
    case: schemathesis.Case[Any], server: tuple[str, dict[str, str]]
) -> None:
    url, headers = server
    case.call_and_validate(base_url=url, headers=headers, checks=CHECKS)


@NEGATIVE.parametrize()
@hypothesis_settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_bad_input_never_gets_a_server_error(
    case: schemathesis.Case[Any], server: tuple[str, dict[str, str]]
) -> None:
    """Every malformed request is refused with a 4xx (never a 5xx) and the usual error body."""
    url, headers = server
    response = case.call(base_url=url, headers=headers)
    case.validate_response(response, checks=[not_a_server_error])
    media = (response.headers.get("content-type") or [""])[0]
    if response.status_code >= 400 and media.startswith("application/json"):
        assert set(response.json()) == {"error", "detail"}
