"""Trying background work again after a pause, a bounded number of times.

Shared by the result mailer (an SMTP server away) and the answer-audio recorder (a store or
the database away): each says what one try is, when its result is worth another try, and how
long to wait before try ``n + 1``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def retry_while(
    attempt: Callable[[int], Awaitable[T]],
    again: Callable[[T], bool],
    *,
    attempts: int,
    delay: Callable[[int], float],
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> tuple[T, int]:
    """Await ``attempt(n)`` for n = 1, 2, ... while ``again`` holds for its result, at most
    ``attempts`` times (at least once), sleeping ``delay(n)`` seconds after try ``n``.

    The last result and its ``n``. ``attempt`` reports a failure in its result (what it
    raises is not caught), so a failure that is not worth another try ends it at once."""
    n = 1
    result = await attempt(n)
    while n < attempts and again(result):
        await sleep(delay(n))
        n += 1
        result = await attempt(n)
    return result, n
