"""``GET /metrics``: the Prometheus text format, open or behind a bearer token by setting."""

from __future__ import annotations

import asyncio
import hmac

from fastapi import APIRouter, Request, Response
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from newspeech.config import Settings
from newspeech.db.deps import EngineDep, SettingsDep
from newspeech.errors import NotFound, Unauthenticated
from newspeech.observability.metrics import CONTENT_TYPE, Metrics

router = APIRouter(tags=["system"])

PING_SECONDS = 2.0
"""The database ping of a scrape gives up after this long (Prometheus' timeout is 10 s)."""


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request, engine: EngineDep, settings: SettingsDep) -> Response:
    registry: Metrics | None = getattr(request.app.state, "metrics", None)
    if registry is None or not settings.metrics_enabled:
        raise NotFound("metrics are disabled on this node (NEWSPEECH_METRICS_ENABLED=false)")
    _check_token(request, settings)
    registry.database_up.set(1.0 if await _database_answers(engine) else 0.0)
    return Response(registry.exposition(), media_type=CONTENT_TYPE)


def _check_token(request: Request, settings: Settings) -> None:
    if settings.metrics_token is None:
        return
    expected = f"Bearer {settings.metrics_token.get_secret_value()}".encode()
    given = request.headers.get("authorization", "").encode()
    if not hmac.compare_digest(given, expected):
        raise Unauthenticated("metrics need 'Authorization: Bearer <NEWSPEECH_METRICS_TOKEN>'")


async def _database_answers(engine: AsyncEngine) -> bool:
    try:
        async with asyncio.timeout(PING_SECONDS), engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError, TimeoutError):
        return False
    return True
