"""The daily purge of expired answer audio, run by the app's lifespan."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from newspeech.answers.audio.service import purge_expired_audio
from newspeech.kit.clock import WallClock
from newspeech.storage import AudioStore

logger = logging.getLogger(__name__)

PURGE_INTERVAL_SECONDS = 24 * 3600
FIRST_PURGE_DELAY_SECONDS = 60.0
"""Start-up is busy (models load, the first exams open); the first purge waits a little."""


async def purge_daily(
    sessionmaker: async_sessionmaker[AsyncSession],
    store: AudioStore,
    *,
    retention_days: int,
    clock: WallClock,
    audit_enabled: bool = True,
    first_delay: float = FIRST_PURGE_DELAY_SECONDS,
    interval: float = PURGE_INTERVAL_SECONDS,
) -> None:
    """Purge now (after ``first_delay``) and every ``interval`` seconds until cancelled. A
    failed run is logged and tried again at the next interval."""
    await asyncio.sleep(first_delay)
    while True:
        try:
            report = await purge_expired_audio(
                sessionmaker,
                store,
                retention_days=retention_days,
                now=clock(),
                audit_enabled=audit_enabled,
            )
            if report.purged or report.failed:
                logger.info("answer audio purge: %s", report.summary())
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("answer audio purge failed; trying again in %.0f s", interval)
        await asyncio.sleep(interval)
