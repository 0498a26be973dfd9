"""Browser-test fixtures: a real app server on a local port, Debian's Chromium driven by
Playwright, and WAV files that Chromium plays as the microphone.

The exam server is :mod:`tests.web.scripted_exam` until the real exam WebSocket lands; swap
:func:`exam_server` to build the real app and the tests stay the same.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import uvicorn
from fastapi import FastAPI
from playwright.async_api import Browser, Playwright, async_playwright

from newspeech.config import Settings
from newspeech.db.engine import create_engine, create_sessionmaker
from newspeech.db.migrations import upgrade
from newspeech.seed import seed_reference_data
from newspeech.voice.audio import decode_audio, encode_wav
from newspeech.voice.pool import InferencePool
from newspeech.voice.protocols import PCM16, SAMPLE_RATE
from newspeech.voice.stt import WhisperSpeechToText
from tests.web.scripted_exam import ExamScript, create_scripted_exam_app

CHROMIUM = Path(os.environ.get("NEWSPEECH_CHROMIUM", "/usr/bin/chromium"))
BASE_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
ONE_TWO_THREE = "speech_recognition_english.wav"
"""A man saying "one two three" (2.74 s; transcript known, see SOURCE.txt)."""


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/test installs Debian's chromium package")
    return CHROMIUM


@pytest.fixture(scope="session")
async def playwright() -> AsyncIterator[Playwright]:
    async with async_playwright() as driver:
        yield driver


@dataclass(frozen=True)
class Microphone:
    """How Chromium's fake capture device behaves for one browser."""

    wav: Path | None = None
    """The file played as the microphone (None: no fake device, so no microphone at all)."""
    allow: bool = True
    """Grant the page the microphone (False: the permission prompt is denied)."""


LaunchBrowser = Callable[[Microphone], AbstractAsyncContextManager[Browser]]


@pytest.fixture
def launch_browser(playwright: Playwright, chromium: Path) -> LaunchBrowser:
    @asynccontextmanager
    async def launch(microphone: Microphone) -> AsyncIterator[Browser]:
        args = list(BASE_ARGS)
        if microphone.wav is not None:
            args += [
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-audio-capture={microphone.wav.resolve()}%noloop",
            ]
        if microphone.allow:
            args.append("--use-fake-ui-for-media-stream")
        browser = await playwright.chromium.launch(
            executable_path=str(chromium), headless=True, args=args
        )
        try:
            yield browser
        finally:
            await browser.close()

    return launch


@pytest.fixture(scope="session")
def speech_clip(shared_dir: Path) -> PCM16:
    data = (shared_dir / "audio" / ONE_TWO_THREE).read_bytes()
    return decode_audio(data, max_seconds=30)


@pytest.fixture(scope="session")
def answer_wav(speech_clip: PCM16, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2.5 s of silence (the examiner asks meanwhile), "one two three", 1.5 s of silence."""
    silence = np.zeros(int(2.5 * SAMPLE_RATE), dtype=np.int16)
    tail = np.zeros(int(1.5 * SAMPLE_RATE), dtype=np.int16)
    path = tmp_path_factory.mktemp("microphone") / "answer.wav"
    path.write_bytes(encode_wav(np.concatenate([silence, speech_clip, tail])))
    return path


@pytest.fixture(scope="session")
async def web_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The browser tests' own SQLite database with the reference data (the page reads only the
    college list; the repository-level tests cover the other backends)."""
    data_dir = tmp_path_factory.mktemp("web-data")
    settings = Settings(
        environment="test",
        data_dir=data_dir,
        database_url=f"sqlite+aiosqlite:///{data_dir / 'web.db'}",
        speech_enabled=False,
    )
    engine = create_engine(settings)
    try:
        await upgrade(engine)
        async with create_sessionmaker(engine)() as db:
            await seed_reference_data(db)
            await db.commit()
    finally:
        await engine.dispose()
    return settings


@pytest.fixture(scope="session")
def stt(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WhisperSpeechToText]:
    pool = InferencePool(workers=1)
    settings = Settings(environment="test", data_dir=tmp_path_factory.mktemp("stt"))
    yield WhisperSpeechToText.from_settings(settings, pool=pool)
    pool.close()


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
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@dataclass
class ExamServer:
    url: str
    scripts: list[ExamScript]

    def expect(self, script: ExamScript) -> ExamScript:
        """Queue the script the next exam connection plays."""
        self.scripts.append(script)
        return script


@pytest.fixture
async def exam_server(
    web_settings: Settings, stt: WhisperSpeechToText
) -> AsyncIterator[ExamServer]:
    scripts: list[ExamScript] = []
    async with serving(create_scripted_exam_app(web_settings, scripts, stt)) as url:
        yield ExamServer(url, scripts)
