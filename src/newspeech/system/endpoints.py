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

READY_TIMEOUT_SECONDS = 2.0
"""A readiness probe's database check gives up after this long (probes time out in 1-5 s)."""


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
    on and keep their answers, only without the recordings, until the store is back. So does
    an FFmpeg that cannot encode them (``encoder_error``, found at start-up): then none is kept
    until the server is restarted with one that can."""

    store: str | None
    reachable: bool
    error: str | None = None
    encoder_error: str | None = None


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
    head = _head(request)
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
    audio.encoder_error = getattr(request.app.state, "audio_encoder_problem", None)
    healthy = database.reachable and database.up_to_date
    if not healthy:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return Health(
        status="ok" if healthy and audio.reachable and not audio.encoder_error else "degraded",
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


class Liveness(BaseModel):
    status: Literal["alive"] = "alive"


class Readiness(BaseModel):
    status: Literal["ready", "not_ready"]
    reasons: list[str]


@router.get("/livez", response_model=Liveness, include_in_schema=False)
async def livez() -> Liveness:
    """Liveness: 200 while the process serves requests at all; it reads nothing (a database
    outage must not get every node restarted)."""
    return Liveness()


@router.get("/readyz", response_model=Readiness, include_in_schema=False)
async def readyz(engine: EngineDep, request: Request, response: Response) -> Readiness:
    """Readiness: 503 while the node should get no new work: it is draining (shutting down),
    or its database is unreachable or behind the code's migrations."""
    reasons = []
    if getattr(request.app.state, "draining", False):
        reasons.append("draining")
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS):
            revision = await current_revision(engine)
        if revision != _head(request):
            reasons.append(f"database at revision {revision}, code at {_head(request)}")
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        reasons.append(f"database unreachable ({type(exc).__name__})")
    if reasons:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return Readiness(status="not_ready" if reasons else "ready", reasons=reasons)


def _head(request: Request) -> str | None:
    """The code's migration head, read from the scripts once per app."""
    state = request.app.state
    if not hasattr(state, "migration_head"):
        state.migration_head = head_revision()
    head: str | None = state.migration_head
    return head
