"""Caches (``ENABLE_RESULT_CACHING``, ``CACHE_TTL_SECONDS``): a small in-process TTL cache, and
a cache every node shares (in Redis when ``NEWSPEECH_REDIS_URL`` is set, else in-process)."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, Protocol, TypeVar

from redis.asyncio import Redis
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TTLCache(Generic[K, V]):
    """Entries expire ``ttl_seconds`` after they are stored; the oldest go first past
    ``max_entries``. Disabled (or a TTL of 0), it stores nothing. One event loop only: no locks."""

    def __init__(
        self,
        ttl_seconds: float,
        *,
        enabled: bool = True,
        max_entries: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl_seconds
        self.enabled = enabled and ttl_seconds > 0
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, value = entry
        if self._clock() >= expires:
            del self._entries[key]
            return None
        return value

    def set(self, key: K, value: V) -> None:
        if not self.enabled:
            return
        self._entries[key] = (self._clock() + self.ttl, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def invalidate(self, key: K) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()


class Codec(Protocol[V]):
    """How a value is written to a shared cache and read back."""

    def encode(self, value: V) -> str: ...

    def decode(self, text: str) -> V: ...


class SharedCache(Protocol[V]):
    """A cache that every node of the deployment sees alike, keyed by string."""

    async def get(self, key: str) -> V | None: ...

    async def set(self, key: str, value: V) -> None: ...

    async def invalidate(self, key: str) -> None: ...

    async def clear(self) -> None: ...

    async def aclose(self) -> None: ...


class LocalCache(Generic[V]):
    """:class:`SharedCache` for one process (no Redis configured): a :class:`TTLCache`."""

    def __init__(self, entries: TTLCache[str, V]) -> None:
        self.entries = entries

    async def get(self, key: str) -> V | None:
        return self.entries.get(key)

    async def set(self, key: str, value: V) -> None:
        self.entries.set(key, value)

    async def invalidate(self, key: str) -> None:
        self.entries.invalidate(key)

    async def clear(self) -> None:
        self.entries.clear()

    async def aclose(self) -> None:
        self.entries.clear()


class RedisCache(Generic[V]):
    """:class:`SharedCache` in Redis: entries expire ``ttl_seconds`` after they are stored
    (Redis's own TTL), and an invalidation on any node is seen by every node at once.

    The cache only saves work, so Redis being away is a miss, never an error: reads go to the
    database and the failure is logged (once per outage, not once per request).
    """

    def __init__(
        self,
        client: Redis,
        ttl_seconds: int,
        codec: Codec[V],
        *,
        prefix: str,
        enabled: bool = True,
    ) -> None:
        self._client = client
        self.ttl = ttl_seconds
        self.enabled = enabled and ttl_seconds > 0
        self._codec = codec
        self._prefix = prefix
        self._failing = False

    async def get(self, key: str) -> V | None:
        if not self.enabled:
            return None
        raw = await self._call(self._client.get(self._prefix + key))
        if raw is None:
            return None
        try:
            return self._codec.decode(raw.decode() if isinstance(raw, bytes) else str(raw))
        except (ValueError, TypeError, KeyError):
            # Written by another version of the product: a miss, and it is replaced.
            logger.warning("cache entry %s could not be read; it is computed again", key)
            return None

    async def set(self, key: str, value: V) -> None:
        if self.enabled:
            await self._call(
                self._client.set(self._prefix + key, self._codec.encode(value), ex=self.ttl)
            )

    async def invalidate(self, key: str) -> None:
        await self._call(self._client.delete(self._prefix + key))

    async def clear(self) -> None:
        keys = [key async for key in self._client.scan_iter(match=self._prefix + "*")]
        if keys:
            await self._client.delete(*keys)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _call(self, command: Awaitable[Any]) -> Any:
        try:
            result = await command
        except RedisError as exc:
            if not self._failing:
                logger.warning("shared cache unavailable (%s): reading from the database", exc)
            self._failing = True
            return None
        if self._failing:
            logger.info("shared cache available again")
        self._failing = False
        return result
