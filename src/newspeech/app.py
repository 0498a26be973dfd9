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
from newspeech.system.endpoints import router as system_router
from newspeech.voice.engines import load_speech_engines
from newspeech.web import STATIC_DIR
from newspeech.web.endpoints import router as web_router

logger = logging.getLogger("newspeech")


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings)
        app.state.settings = settings
        app.state.engine = engine
        app.state.sessionmaker = create_sessionmaker(engine)
        app.state.speech = None
        try:
            if settings.speech_enabled:
                app.state.speech = await load_speech_engines(settings)
                if settings.warm_up:
                    seconds = await app.state.speech.warm_up()
                    logger.info("speech engines warm: %s", seconds)
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
    return app
