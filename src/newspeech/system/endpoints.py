from __future__ import annotations

import asyncio
from typing import Literal

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from newspeech import __version__
from newspeech.db.deps import EngineDep, SettingsDep
from newspeech.db.migrations import current_revision, head_revision
from newspeech.storage.protocols import AudioStore, StorageFailed
from newspeech.voice.engines import SpeechEngines

router = APIRouter(tags=["system"])


class DatabaseHealth(BaseModel):
    backend: str
    reachable: bool
    revision: str | None
    head: str | None
    up_to_date: bool
    error: str | None = None


class SpeechHealth(BaseModel):
    loaded: bool
    engines: dict[str, str]
    warm_up_seconds: dict[str, float]


class AudioStoreHealth(BaseModel):
    """Where answer recordings go. Unreachable degrades the status but is not a 503: exams go
    on and keep their answers, only without the recordings, until the store is back."""

    store: str | None
    reachable: bool
    error: str | None = None


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    version: str
    database: DatabaseHealth
    speech: SpeechHealth
    audio_store: AudioStoreHealth


@router.get("/healthz", response_model=Health)
async def healthz(
    engine: EngineDep, settings: SettingsDep, request: Request, response: Response
) -> Health:
    """Is the database reachable and at the code's migration head; which speech engines run?"""
    head = head_revision()
    try:
        async with asyncio.timeout(settings.db_connect_timeout):
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
            revision = await current_revision(engine)
        database = DatabaseHealth(
            backend=settings.backend,
            reachable=True,
            revision=revision,
            head=head,
            up_to_date=revision == head,
        )
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        database = DatabaseHealth(
            backend=settings.backend,
            reachable=False,
            revision=None,
            head=head,
            up_to_date=False,
            error=type(exc).__name__,
        )
    speech: SpeechEngines | None = request.app.state.speech
    speech_health = SpeechHealth(
        loaded=speech is not None,
        engines=speech.describe if speech else {},
        warm_up_seconds=speech.warm_up_seconds if speech else {},
    )
    audio = await _audio_store_health(request, settings.db_connect_timeout)
    healthy = database.reachable and database.up_to_date
    if not healthy:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return Health(
        status="ok" if healthy and audio.reachable else "degraded",
        version=__version__,
        database=database,
        speech=speech_health,
        audio_store=audio,
    )


async def _audio_store_health(request: Request, seconds: float) -> AudioStoreHealth:
    store: AudioStore | None = getattr(request.app.state, "audio_store", None)
    if store is None:
        return AudioStoreHealth(store=None, reachable=False, error="not configured")
    try:
        async with asyncio.timeout(seconds):
            await store.check()
    except StorageFailed as exc:
        return AudioStoreHealth(store=store.name, reachable=False, error=exc.detail)
    except TimeoutError:
        return AudioStoreHealth(store=store.name, reachable=False, error="timed out")
    return AudioStoreHealth(store=store.name, reachable=True)
