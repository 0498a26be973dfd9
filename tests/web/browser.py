"""Helpers shared by the browser tests and ``bench/web.py``: Chromium's launch arguments, a
fake-microphone WAV, and uvicorn serving an app on a free local port."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import numpy as np
import uvicorn
from fastapi import FastAPI
from playwright.async_api import Browser, Playwright

from newspeech.voice.audio import decode_audio, encode_wav
from newspeech.voice.protocols import SAMPLE_RATE
from tests.fixtures.served_apps import served

CHROMIUM = Path(os.environ.get("NEWSPEECH_CHROMIUM", "/usr/bin/chromium"))
BASE_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
)
ONE_TWO_THREE = "speech_recognition_english.wav"
"""A man saying "one two three" (2.74 s; transcript known, see ../shared/audio/SOURCE.txt)."""


def chromium_args(wav: Path | None, *, allow_microphone: bool) -> list[str]:
    """``wav`` plays once as the microphone (None: no capture device at all); without
    ``allow_microphone`` the page's permission request is denied."""
    args = list(BASE_ARGS)
    if wav is not None:
        args += [
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={wav.resolve()}%noloop",
        ]
    if allow_microphone:
        args.append("--use-fake-ui-for-media-stream")
    return args


async def launch_chromium(
    playwright: Playwright, wav: Path | None, *, allow_microphone: bool = True
) -> Browser:
    """Debian's Chromium (never a browser Playwright downloads), headless."""
    return await playwright.chromium.launch(
        executable_path=str(CHROMIUM),
        headless=True,
        args=chromium_args(wav, allow_microphone=allow_microphone),
    )


def answer_wav(audio_dir: Path, path: Path, *, lead_seconds: float = 2.5) -> Path:
    """Silence while the examiner asks, "one two three", 1.5 s of silence, as 16 kHz WAV.
    (Chromium may miss the file's first ~150 ms, and the examiner speaks first.)"""
    speech = decode_audio((audio_dir / ONE_TWO_THREE).read_bytes(), max_seconds=30)
    lead = np.zeros(int(lead_seconds * SAMPLE_RATE), dtype=np.int16)
    tail = np.zeros(int(1.5 * SAMPLE_RATE), dtype=np.int16)
    path.write_bytes(encode_wav(np.concatenate([lead, speech, tail])))
    return path


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[str]:
    """Serve ``app`` (lifespan included) with uvicorn on a free port of 127.0.0.1; yields its
    base URL. The socket listens before the server starts, so early requests wait."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, lifespan="on", ws="websockets-sansio", log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        with served(app):
            yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()
