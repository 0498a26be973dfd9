"""An API client on the real app and database, with a clock the tests move."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from newspeech.app import create_app
from newspeech.config import Settings
from tests.api.world import issue_token


class MovableClock:
    """The app's clock; ``advance`` instead of sleeping."""

    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC).replace(microsecond=0)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@dataclass
class Api:
    app: FastAPI
    clock: MovableClock
    sessionmaker: async_sessionmaker[AsyncSession]
    settings: Settings
    clients: list[httpx.AsyncClient] = field(default_factory=list)

    def client(self, address: str = "127.0.0.1") -> httpx.AsyncClient:
        """A client calling from ``address`` (login throttling counts per address)."""
        transport = httpx.ASGITransport(app=self.app, client=(address, 40000))
        client = httpx.AsyncClient(transport=transport, base_url="http://test/api/v1")
        self.clients.append(client)
        return client

    async def headers_for(self, user_id: int) -> dict[str, str]:
        """A bearer header for an existing user, without the cost of a password check."""
        async with self.sessionmaker() as db:
            token = await issue_token(db, self.settings, user_id, self.clock())
            await db.commit()
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="session")
async def api_app(settings: Settings, engine: AsyncEngine) -> AsyncIterator[FastAPI]:
    """One app for the API tests (its lifespan is the expensive part); the clock is reset per
    test. Rate limiting is off here and tested with its own apps."""
    api_settings = settings.model_copy(update={"rate_limit_enabled": False})
    app = create_app(api_settings, clock=MovableClock())
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def api(
    api_app: FastAPI, engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> AsyncIterator[Api]:
    clock = MovableClock()
    api_app.state.clock = clock
    await api_app.state.statistics_cache.clear()
    api = Api(api_app, clock, sessionmaker, api_app.state.settings)
    try:
        yield api
    finally:
        for client in api.clients:
            await client.aclose()
