"""The FastAPI application: ``create_app(settings)`` and the lifespan that builds shared
resources once."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from newspeech import __version__
from newspeech.config import Settings
from newspeech.db.engine import create_engine, create_sessionmaker
from newspeech.errors import NewSpeechError
from newspeech.exams.ws import OpenerFactory
from newspeech.exams.ws import router as exam_socket_router
from newspeech.system.endpoints import router as system_router
from newspeech.voice.engines import SpeechEngines, load_speech_engines
from newspeech.voice.session import LoopSettings, SessionEngines
from newspeech.voice.speaker import PhraseCache, Speaker
from newspeech.web import STATIC_DIR
from newspeech.web.endpoints import router as web_router

logger = logging.getLogger("newspeech")


def create_app(settings: Settings, *, exam_opener: OpenerFactory | None = None) -> FastAPI:
    """The app. ``exam_opener`` builds, in the lifespan, what opens exams for ``/ws/exam``
    (token check + the exam service); without it the socket answers ``exams_unavailable``."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings)
        app.state.settings = settings
        app.state.engine = engine
        app.state.sessionmaker = create_sessionmaker(engine)
        app.state.speech = None
        app.state.voice = None
        app.state.loop_settings = LoopSettings.from_settings(settings)
        try:
            if settings.speech_enabled:
                app.state.speech = await load_speech_engines(settings)
                if settings.warm_up:
                    seconds = await app.state.speech.warm_up()
                    logger.info("speech engines warm: %s", seconds)
                app.state.voice = _session_engines(app.state.speech, settings)
            app.state.exam_opener = exam_opener(app.state) if exam_opener is not None else None
            yield
        finally:
            if app.state.speech is not None:
                await app.state.speech.aclose()
            await engine.dispose()

    app = FastAPI(
        title="NewSpeech",
        version=__version__,
        summary="Spoken oral examinations with an AI examiner",
        lifespan=lifespan,
    )

    @app.exception_handler(NewSpeechError)
    async def _domain_error(_request: Request, exc: NewSpeechError) -> JSONResponse:
        return JSONResponse(
            status_code=exc.http_status, content={"error": exc.code, "detail": exc.detail}
        )

    app.include_router(system_router)
    app.include_router(web_router)
    app.mount("/web/static", StaticFiles(directory=STATIC_DIR), name="web-static")
    app.include_router(exam_socket_router)
    return app


def _session_engines(speech: SpeechEngines, settings: Settings) -> SessionEngines:
    """The shared models as every exam connection uses them, with one phrase cache."""
    speaker = Speaker(speech.tts, PhraseCache(settings.tts_cache_entries), speech.fallback_tts)
    return SessionEngines(speech.frame_pool, speech.vad, speech.turn, speech.stt, speaker)
