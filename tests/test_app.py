from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from newspeech.answers.audio.service import check_encoder
from newspeech.app import create_app
from newspeech.config import Settings
from newspeech.db.engine import create_engine
from newspeech.db.migrations import downgrade, head_revision, upgrade


@asynccontextmanager
async def client_for(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app: FastAPI = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def test_healthz_reports_reachable_database_at_head(
    settings: Settings, engine: AsyncEngine, backend: str
) -> None:
    async with client_for(settings) as client:
        response = await client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == {
        "backend": "mysql" if backend == "mariadb" else backend,
        "reachable": True,
        "revision": head_revision(),
        "head": head_revision(),
        "up_to_date": True,
        "error": None,
    }
    assert body["speech"] == {"loaded": False, "engines": {}, "warm_up_seconds": {}}
    assert body["audio_store"] == {
        "store": "local",
        "reachable": True,
        "error": None,
        "encoder_error": None,
    }


async def test_healthz_is_503_when_the_schema_is_behind(
    settings: Settings, engine: AsyncEngine
) -> None:
    await downgrade(engine, "base")
    try:
        async with client_for(settings) as client:
            response = await client.get("/healthz")
    finally:
        await upgrade(engine)
    assert response.status_code == 503
    assert response.json()["database"]["revision"] is None
    assert response.json()["database"]["up_to_date"] is False


async def test_healthz_is_degraded_but_200_when_the_audio_store_breaks(
    settings: Settings, engine: AsyncEngine, tmp_path: Path
) -> None:
    """Exams go on without recordings, so a broken store is reported, not a 503."""
    del engine
    folder = tmp_path / "answer-audio"
    async with client_for(settings.model_copy(update={"audio_dir": folder})) as client:
        folder.rmdir()  # made empty at start-up; a file in its place breaks the store
        folder.write_bytes(b"not a folder")
        try:
            response = await client.get("/healthz")
        finally:
            folder.unlink()
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["audio_store"]["store"] == "local"
    assert body["audio_store"]["reachable"] is False
    assert str(folder) in body["audio_store"]["error"]


async def test_an_ffmpeg_that_cannot_encode_recordings_is_one_start_up_error_and_degraded(
    settings: Settings, engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    """What the lifespan does with speech on, here with an encoder this FFmpeg lacks."""
    del engine
    app: FastAPI = create_app(settings)
    async with app.router.lifespan_context(app):
        with caplog.at_level(logging.ERROR, logger="newspeech.answers.audio.service"):
            app.state.audio_encoder_problem = await check_encoder("no-such-codec")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.get("/healthz")
    [record] = caplog.records
    assert record.getMessage().startswith(
        "answer recordings will not be stored: FFmpeg has no no-such-codec encoder"
    )
    assert record.exc_info is None
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["audio_store"]["reachable"] is True
    assert "no-such-codec" in body["audio_store"]["encoder_error"]
    assert await check_encoder() is None  # the real one, libopus, encodes


async def test_healthz_is_503_when_the_database_is_unreachable() -> None:
    settings = Settings(
        environment="test",
        database_url="postgresql://nobody@127.0.0.1:1/none",
        db_connect_timeout=2,
        speech_enabled=False,
    )
    async with client_for(settings) as client:
        response = await client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"]["reachable"] is False


async def test_start_up_loads_and_warms_the_offline_speech_engines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    settings = Settings(environment="test", data_dir=tmp_path, inference_workers=2)
    engine = create_engine(settings)
    await upgrade(engine)
    await engine.dispose()

    async with client_for(settings) as client:
        speech = (await client.get("/healthz")).json()["speech"]

    assert speech["loaded"] is True
    assert speech["engines"]["stt"] == "whisper tiny.en int8"
    assert speech["engines"]["tts"] == "piper"
    assert speech["engines"]["fallback_tts"] == "espeak-ng"
    assert speech["engines"]["inference_workers"] == "2"
    assert speech["engines"]["turn"] == "smart-turn v3.2 (onnxruntime)"
    assert set(speech["warm_up_seconds"]) == {"vad", "turn", "stt", "tts", "fallback_tts"}


async def test_the_start_up_heap_is_frozen_while_the_app_runs_and_thawed_after(
    settings: Settings, engine: AsyncEngine
) -> None:
    """Out of the collector's way: a full collection during a large import walks only what was
    made since start-up, not the whole app (the event loop waits while it runs)."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        assert gc.get_freeze_count() > 10_000
    assert gc.get_freeze_count() == 0
