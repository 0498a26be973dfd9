"""A real uvicorn server around ``create_app`` and a websockets client, for socket tests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI

from tests.fixtures.served_apps import served


@asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[str]:
    """Serve ``app`` on a free local port; yields the ``ws://`` URL of the exam socket."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("the server stopped during start-up")
            await asyncio.sleep(0.05)
        port = server.servers[0].sockets[0].getsockname()[1]
        with served(app):
            yield f"ws://127.0.0.1:{port}/ws/exam"
    finally:
        server.should_exit = True
        await task


def parse(message: str | bytes) -> dict[str, Any] | bytes:
    return message if isinstance(message, bytes) else json.loads(message)
