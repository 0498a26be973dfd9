from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from newspeech.app import create_app
from newspeech.config import Settings
from newspeech.db.migrations import downgrade, head_revision, upgrade


@asynccontextmanager
async def client_for(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app: FastAPI = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def test_healthz_reports_reachable_database_at_head(
    settings: Settings, engine: AsyncEngine, backend: str
) -> None:
    async with client_for(settings) as client:
        response = await client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == {
        "backend": "mysql" if backend == "mariadb" else backend,
        "reachable": True,
        "revision": head_revision(),
        "head": head_revision(),
        "up_to_date": True,
        "error": None,
    }


async def test_healthz_is_503_when_the_schema_is_behind(
    settings: Settings, engine: AsyncEngine
) -> None:
    await downgrade(engine, "base")
    try:
        async with client_for(settings) as client:
            response = await client.get("/healthz")
    finally:
        await upgrade(engine)
    assert response.status_code == 503
    assert response.json()["database"]["revision"] is None
    assert response.json()["database"]["up_to_date"] is False


async def test_healthz_is_503_when_the_database_is_unreachable() -> None:
    settings = Settings(
        environment="test",
        database_url="postgresql://nobody@127.0.0.1:1/none",
        db_connect_timeout=2,
    )
    async with client_for(settings) as client:
        response = await client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"]["reachable"] is False
