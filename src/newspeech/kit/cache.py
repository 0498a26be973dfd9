"""A small in-process TTL cache (``ENABLE_RESULT_CACHING``, ``CACHE_TTL_SECONDS``)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

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
