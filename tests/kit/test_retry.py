"""Bounded retries of background work: how many tries, which pauses, when it stops early."""

from __future__ import annotations

import pytest

from newspeech.kit.retry import retry_while


class Pauses:
    """The sleeps asked for, without waiting (the clock is the one thing a test may fake)."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)


async def outcomes(*results: str) -> tuple[tuple[str, int], list[int], list[float]]:
    tried: list[int] = []
    pauses = Pauses()

    async def attempt(n: int) -> str:
        tried.append(n)
        return results[n - 1]

    last = await retry_while(
        attempt,
        lambda result: result == "away",
        attempts=len(results),
        delay=lambda n: 10.0 * 2 ** (n - 1),
        sleep=pauses,
    )
    return last, tried, pauses.seconds


async def test_tries_again_after_each_pause_until_it_succeeds() -> None:
    assert await outcomes("away", "away", "done", "away") == (
        ("done", 3),
        [1, 2, 3],
        [10.0, 20.0],
    )


async def test_a_result_not_worth_another_try_ends_it_at_once() -> None:
    assert await outcomes("refused", "done") == (("refused", 1), [1], [])


async def test_gives_up_after_the_last_try_without_a_pause_after_it() -> None:
    assert await outcomes("away", "away", "away") == (("away", 3), [1, 2, 3], [10.0, 20.0])


@pytest.mark.parametrize("attempts", [0, 1])
async def test_tries_once_however_few_tries_are_allowed(attempts: int) -> None:
    pauses = Pauses()

    async def attempt(n: int) -> str:
        return "away"

    assert await retry_while(
        attempt, lambda _: True, attempts=attempts, delay=lambda _: 1.0, sleep=pauses
    ) == ("away", 1)
    assert pauses.seconds == []


async def test_what_a_try_raises_is_not_caught() -> None:
    async def attempt(n: int) -> str:
        raise RuntimeError("a bug, not an outage")

    with pytest.raises(RuntimeError, match="a bug"):
        await retry_while(attempt, lambda _: True, attempts=3, delay=lambda _: 0.0)
