"""The FastAPI application: ``create_app(settings)`` and the lifespan that builds shared
resources once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse

from newspeech import __version__
from newspeech.config import Settings
from newspeech.db.engine import create_engine, create_sessionmaker
from newspeech.errors import NewSpeechError
from newspeech.system.endpoints import router as system_router


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings)
        app.state.settings = settings
        app.state.engine = engine
        app.state.sessionmaker = create_sessionmaker(engine)
        try:
            yield
        finally:
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

    @app.get("/", include_in_schema=False)
    async def _root() -> RedirectResponse:
        return RedirectResponse("/docs")

    app.include_router(system_router)
    return app
