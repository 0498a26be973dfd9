from __future__ import annotations

from newspeech.kit.cache import TTLCache


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_entries_expire_after_the_ttl() -> None:
    clock = Clock()
    cache: TTLCache[str, int] = TTLCache(300, clock=clock)
    cache.set("a", 1)
    clock.now = 299.9
    assert cache.get("a") == 1
    clock.now = 300.0
    assert cache.get("a") is None


def test_disabled_or_zero_ttl_cache_stores_nothing() -> None:
    for cache in (TTLCache[str, int](300, enabled=False), TTLCache[str, int](0)):
        cache.set("a", 1)
        assert cache.get("a") is None


def test_oldest_entries_are_evicted_and_invalidate_removes_one() -> None:
    cache: TTLCache[str, int] = TTLCache(300, max_entries=2)
    cache.set("a", 1)
    cache.set("b", 2)
    cache.set("c", 3)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (None, 2, 3)
    cache.invalidate("b")
    assert cache.get("b") is None
    cache.clear()
    assert cache.get("c") is None
