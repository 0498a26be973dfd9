"""Fixed-window request counters: in Redis (shared by every process) or in-process."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Protocol

from redis.asyncio import Redis


class RateLimiter(Protocol):
    async def hit(self, key: str, limit: int, window_seconds: int) -> int | None:
        """Count one request under ``key``; seconds to wait if over ``limit``, else ``None``."""
        ...

    async def aclose(self) -> None: ...


class MemoryRateLimiter:
    """One process's counters. Windows are aligned to the clock; old windows are dropped."""

    def __init__(self, clock: Callable[[], float] = time.time, max_keys: int = 100_000) -> None:
        self._clock = clock
        self._max_keys = max_keys
        self._counts: dict[tuple[str, int], int] = {}

    async def hit(self, key: str, limit: int, window_seconds: int) -> int | None:
        now = self._clock()
        window = int(now // window_seconds)
        if len(self._counts) >= self._max_keys:
            self._counts = {k: v for k, v in self._counts.items() if k[1] >= window}
        count = self._counts.get((key, window), 0) + 1
        self._counts[(key, window)] = count
        if count <= limit:
            return None
        return max(1, math.ceil((window + 1) * window_seconds - now))

    async def aclose(self) -> None:
        self._counts.clear()


class RedisRateLimiter:
    """Counters in Redis: INCR then EXPIRE on the window's first hit, one round trip."""

    def __init__(self, client: Redis, prefix: str = "newspeech:rl:") -> None:
        self._client = client
        self._prefix = prefix

    @classmethod
    def from_url(cls, url: str) -> RedisRateLimiter:
        return cls(Redis.from_url(url))

    async def hit(self, key: str, limit: int, window_seconds: int) -> int | None:
        name = self._prefix + key
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.incr(name)
            pipe.expire(name, window_seconds, nx=True)
            pipe.ttl(name)
            count, _, ttl = await pipe.execute()
        if int(count) <= limit:
            return None
        return max(1, int(ttl))

    async def aclose(self) -> None:
        await self._client.aclose()
