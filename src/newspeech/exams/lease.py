"""The sitting lease: at most one exam loop writes a sitting, across processes and nodes.

Opening a sitting (a start, a resume, a reconnect to another worker or node) *takes* it: the
row in ``sitting_leases`` gets the next ``generation`` and the opening loop holds that number
(a fencing token). Every transaction a loop writes in begins with :meth:`Lease.check_in`, an
``UPDATE`` of the lease row for the loop's own generation: it renews the lease and locks the
row until the write commits. A loop that has been taken over finds no row of its generation,
writes nothing (:class:`SittingTakenOver` rolls the transaction back) and ends.

Why that is enough for "every answer stored exactly once": taking the sitting is itself an
``UPDATE`` of the same row, so it waits for a write already under way to commit (then the new
loop reads it) or goes first (then the write finds the new generation and stores nothing).
The new loop reads the sitting only after its take has committed. PostgreSQL (read committed)
and MariaDB (a locking read sees the latest row) re-read the row after the lock wait; SQLite
has one writer at a time.

Between writes, the running loop renews the lease every third of its length (the WebSocket
edge, ``exams/ws.py``), so a loop taken over while it listens notices within seconds and tells
its candidate; ``holder`` and ``expires_at`` record which process runs the sitting and until
when it promised to renew (where each live sitting runs, for an operator).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import CursorResult, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from newspeech.db.base import utcnow
from newspeech.db.engine import unit_of_work
from newspeech.errors import Conflict
from newspeech.models import SittingLease

logger = logging.getLogger(__name__)

HOLDER = f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
"""This process, as the lease names it (host, process id, and a nonce for a reused pid)."""


class SittingTakenOver(Conflict):
    """The sitting was opened again (on this process or another): this loop no longer holds
    it and must not write to it."""

    code = "taken_over"


@dataclass(frozen=True)
class LeasePolicy:
    seconds: float = 15.0
    """How long a lease lasts unless renewed; the loop renews it every third of that."""
    holder: str = HOLDER
    wall_clock: Callable[[], dt.datetime] = utcnow

    @property
    def renew_seconds(self) -> float:
        return self.seconds / 3

    def expiry(self) -> dt.datetime:
        return self.wall_clock() + dt.timedelta(seconds=self.seconds)


@dataclass
class Lease:
    """One loop's hold on one sitting."""

    exam_session_id: int
    generation: int
    policy: LeasePolicy
    lost: bool = field(default=False)
    """A check found a newer generation: the sitting runs elsewhere now."""

    @property
    def renew_seconds(self) -> float:
        return self.policy.renew_seconds

    async def check_in(self, db: AsyncSession) -> None:
        """The first statement of each of the loop's write transactions: renew the lease if
        this loop still holds it (and lock it until commit), else raise
        :class:`SittingTakenOver`."""
        if self.lost:
            raise SittingTakenOver(self._taken_over())
        statement = (
            update(SittingLease)
            .where(
                SittingLease.session_id == self.exam_session_id,
                SittingLease.generation == self.generation,
            )
            .values(holder=self.policy.holder, expires_at=self.policy.expiry())
        )
        result = cast(CursorResult[Any], await db.execute(statement))
        if result.rowcount != 1:
            self.lost = True
            logger.info("%s", self._taken_over())
            raise SittingTakenOver(self._taken_over())

    async def renew(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        async with unit_of_work(sessionmaker) as db:
            await self.check_in(db)

    def _taken_over(self) -> str:
        return (
            f"exam session {self.exam_session_id} was opened again elsewhere; "
            f"this connection (generation {self.generation}) no longer runs it"
        )


async def first_lease(db: AsyncSession, exam_session_id: int, policy: LeasePolicy) -> Lease:
    """The lease of a sitting just created, in the transaction that creates it."""
    await db.execute(
        insert(SittingLease).values(
            session_id=exam_session_id,
            generation=1,
            holder=policy.holder,
            expires_at=policy.expiry(),
        )
    )
    return Lease(exam_session_id, 1, policy)


async def take(
    sessionmaker: async_sessionmaker[AsyncSession], exam_session_id: int, policy: LeasePolicy
) -> Lease:
    """Take an existing sitting over, in a transaction of its own that commits before the
    sitting is read: any loop that held it writes nothing from here on."""
    async with unit_of_work(sessionmaker) as db:
        bumped = cast(
            CursorResult[Any],
            await db.execute(
                update(SittingLease)
                .where(SittingLease.session_id == exam_session_id)
                .values(
                    generation=SittingLease.generation + 1,
                    holder=policy.holder,
                    expires_at=policy.expiry(),
                )
            ),
        )
        if bumped.rowcount != 1:  # created before leases existed: this is its first
            return await first_lease(db, exam_session_id, policy)
        generation = await db.scalar(
            select(SittingLease.generation).where(SittingLease.session_id == exam_session_id)
        )
    assert generation is not None
    return Lease(exam_session_id, generation, policy)
