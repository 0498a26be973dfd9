"""The exam connections this process runs: at most one per candidate.

A candidate who opens the exam again (a second tab, a reload, a dropped network that came
back before the server noticed) takes the sitting over: the older connection is hung up and
its session loop is allowed to finish (its stores settle, the disconnect is recorded) before
the newer one reads the sitting from the database. Without that, two loops would speak and
write for the same sitting at once, and the newer one would resume from a state the older was
still changing.

Shutdown (and a test between two cases) waits until no loop runs, so nothing writes to a
database that is closing or being emptied. This register is one process's; across workers
and nodes the sitting lease in the database (``newspeech.exams.lease``) keeps one loop per
sitting (docs/operations.md, "Several nodes").
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Protocol

logger = logging.getLogger(__name__)


class HangUp(Protocol):
    def hang_up(self) -> None:
        """End the loop as if the candidate had gone (what was heard is still stored)."""

    def drain(self) -> None:
        """End the loop at its next moment between two answers (a server shutting down)."""


@dataclass
class Seat:
    """One candidate's running connection."""

    session: HangUp | None = None
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    taken_over: bool = False
    """A newer connection of the same candidate ended this one."""


class LiveSittings:
    def __init__(self) -> None:
        self._seats: dict[object, Seat] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        self._idle = asyncio.Event()
        self._idle.set()

    def __len__(self) -> int:
        return len(self._seats)

    @asynccontextmanager
    async def opening(self, candidate: int) -> AsyncIterator[None]:
        """Hold while a candidate's sitting is read from the database: their running
        connection (if any) is hung up and has finished first, and no second opening of the
        same candidate runs at the same time. Take the :meth:`seat` before the next ``await``
        after this block, or another opening may slip in."""
        lock = self._locks.setdefault(candidate, asyncio.Lock())
        async with lock:  # one lock per candidate ever seen: a few bytes each
            if (seat := self._seats.get(candidate)) is not None:
                logger.info(
                    "candidate %s opened the exam again: the older connection ends", candidate
                )
                seat.taken_over = True
                if seat.session is not None:
                    seat.session.hang_up()
                await seat.ended.wait()
            yield

    @contextmanager
    def seat(self, candidate: int | None) -> Iterator[Seat]:
        """A connection while its loop runs (set ``session`` once it exists); ``candidate``
        when the opener read the sitting inside :meth:`opening` (else the connection is only
        counted, for shutdown)."""
        key = object() if candidate is None else candidate
        seat = Seat()
        self._seats[key] = seat
        self._idle.clear()
        try:
            yield seat
        finally:
            seat.ended.set()
            if self._seats.get(key) is seat:
                del self._seats[key]
            if not self._seats:
                self._idle.set()

    async def drain_all(self, wait_seconds: float) -> int:
        """Shutdown: every running loop ends at its next moment between two answers (the
        candidate is told to resume); those still in an answer after ``wait_seconds`` are hung
        up. Returns how many still run after that."""
        for seat in list(self._seats.values()):
            if seat.session is not None:
                seat.session.drain()
        try:
            async with asyncio.timeout(wait_seconds):
                await self._idle.wait()
        except TimeoutError:
            logger.info("draining: %d exam(s) still in an answer are hung up", len(self))
        return await self.end_all(wait_seconds=10.0)

    async def end_all(self, wait_seconds: float) -> int:
        """Hang up every running connection and wait (at most ``wait_seconds``) until their
        loops have finished storing what they heard; return how many still run."""
        for seat in list(self._seats.values()):
            if seat.session is not None:
                seat.session.hang_up()
        try:
            async with asyncio.timeout(wait_seconds):
                await self._idle.wait()
        except TimeoutError:
            pass
        return len(self._seats)
