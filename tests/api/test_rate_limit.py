"""The API's rate limit per address and per user, in-process and in Redis."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from redis.asyncio import Redis

from newspeech.app import create_app
from newspeech.config import Settings
from newspeech.kit.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from tests.fixtures.api import MovableClock
from tests.fixtures.world import build_world

REDIS_URL = os.environ.get("NEWSPEECH_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(params=["memory", "redis"])
async def limiter(request: pytest.FixtureRequest) -> AsyncIterator[RateLimiter]:
    if request.param == "memory":
        # A clock that stands still in the middle of a window: windows are aligned to the
        # clock, and four requests that straddled a minute's end were counted in two windows
        # (a CI run once got [200, 200, 200, 200]).
        yield MemoryRateLimiter(clock=lambda: 1_000_030.0)
        return
    # A fresh key prefix per test: other checkouts may share this Redis server.
    prefix = f"newspeech-test:{uuid.uuid4().hex}:"
    client: Redis = Redis.from_url(REDIS_URL)
    limiter = RedisRateLimiter(client, prefix=prefix)
    try:
        yield limiter
    finally:
        keys = [key async for key in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
        await limiter.aclose()


async def test_limiter_counts_per_key_and_tells_how_long_to_wait(limiter: RateLimiter) -> None:
    assert [await limiter.hit("a", 3, 60) for _ in range(3)] == [None, None, None]
    wait = await limiter.hit("a", 3, 60)
    assert wait is not None
    assert 1 <= wait <= 60
    assert await limiter.hit("b", 3, 60) is None


async def test_memory_limiter_opens_a_new_window() -> None:
    now = [1_000_000.0]
    limiter = MemoryRateLimiter(clock=lambda: now[0])
    assert await limiter.hit("k", 1, 60) is None
    assert await limiter.hit("k", 1, 60) == 20  # 1_000_020 is the next window's start
    now[0] += 20
    assert await limiter.hit("k", 1, 60) is None


async def test_api_answers_429_with_retry_after(
    settings: Settings, engine: object, sessionmaker: object, limiter: RateLimiter
) -> None:
    limited = settings.model_copy(
        update={"rate_limit_enabled": True, "rate_limit_per_user": 3, "rate_limit_per_address": 5}
    )
    app = create_app(limited, clock=MovableClock(), rate_limiter=limiter)
    async with app.router.lifespan_context(app):
        async with app.state.sessionmaker() as db:
            world = await build_world(db)
        from tests.fixtures.world import issue_token

        async with app.state.sessionmaker() as db:
            token = await issue_token(db, limited, world.student.id, app.state.clock())
            await db.commit()
        transport = httpx.ASGITransport(app=app, client=("192.0.2.50", 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            headers = {"Authorization": f"Bearer {token}"}
            codes = [
                (await client.get("/api/v1/auth/me", headers=headers)).status_code for _ in range(4)
            ]
            assert codes == [200, 200, 200, 429]
            refused = await client.get("/api/v1/auth/me", headers=headers)
            assert refused.json()["error"] == "rate_limited"
            assert 1 <= int(refused.headers["retry-after"]) <= 60
            # Anonymous requests count against the address only: 5 per minute.
            anonymous = await client.get("/api/v1/college-types")
            assert anonymous.status_code == 429
            # The health check is outside the API and never limited.
            assert (await client.get("/healthz")).status_code == 200
        other = httpx.ASGITransport(app=app, client=("192.0.2.51", 1))
        async with httpx.AsyncClient(transport=other, base_url="http://test") as client:
            assert (await client.get("/api/v1/college-types")).status_code == 401
