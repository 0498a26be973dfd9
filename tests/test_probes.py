"""Liveness and readiness: /livez answers while the process runs; /readyz says whether the node
should get new work (database reachable and at the code's head, not draining)."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from newspeech.app import create_app
from newspeech.config import Settings
from tests.test_app import client_for


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_a_node_with_its_database_is_alive_and_ready(
    settings: Settings, engine: AsyncEngine
) -> None:
    del engine
    async with client_for(settings) as client:
        live = await client.get("/livez")
        ready = await client.get("/readyz")
        healthz = await client.get("/healthz")
    assert live.status_code == 200
    assert live.json() == {"status": "alive"}
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "reasons": []}
    assert healthz.status_code == 200


async def test_a_draining_node_is_alive_but_not_ready(
    settings: Settings, engine: AsyncEngine
) -> None:
    del engine
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        app.state.draining = True
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            live = await client.get("/livez")
            ready = await client.get("/readyz")
    assert live.status_code == 200
    assert ready.status_code == 503
    assert ready.json() == {"status": "not_ready", "reasons": ["draining"]}


async def test_without_its_database_a_node_is_alive_but_not_ready(tmp_path: Path) -> None:
    settings = Settings(
        environment="test",
        data_dir=tmp_path,
        database_url=f"postgresql+asyncpg://nobody@127.0.0.1:{closed_port()}/gone",
        speech_enabled=False,
    )
    async with client_for(settings) as client:
        live = await client.get("/livez")
        ready = await client.get("/readyz")
    assert live.status_code == 200
    assert ready.status_code == 503
    body = ready.json()
    assert body["status"] == "not_ready"
    assert body["reasons"][0].startswith("database unreachable")
