"""Translate database integrity errors into domain errors with a readable message."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.exc import IntegrityError

from newspeech.errors import Conflict


@asynccontextmanager
async def integrity_as_conflict(what: str) -> AsyncIterator[None]:
    """Raise ``Conflict`` naming ``what`` when a flush breaks a unique or foreign key."""
    try:
        yield
    except IntegrityError as exc:
        reason = str(exc.orig).splitlines()[0] if exc.orig is not None else str(exc)
        raise Conflict(f"{what}: {reason}") from exc
