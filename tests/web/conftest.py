"""Browser-test fixtures: a real app server on a local port, Debian's Chromium driven by
Playwright, and a WAV file that Chromium plays as the microphone.

The exam server is :mod:`tests.web.scripted_exam` until the real exam WebSocket lands; swap
:func:`exam_server` to build the real app and the tests stay the same.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, Playwright, async_playwright

from newspeech.config import Settings
from newspeech.db.engine import create_engine, create_sessionmaker
from newspeech.db.migrations import upgrade
from newspeech.kit.passwords import hash_password
from newspeech.seed import seed_reference_data
from newspeech.users.repository import UserRepository
from newspeech.voice.pool import InferencePool
from newspeech.voice.stt import WhisperSpeechToText
from tests.web import browser as web
from tests.web.scripted_exam import ExamScript, create_scripted_exam_app


@pytest.fixture(scope="session")
async def playwright() -> AsyncIterator[Playwright]:
    if not web.CHROMIUM.exists():
        pytest.fail(f"{web.CHROMIUM} is missing: scripts/test installs Debian's chromium package")
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
def launch_browser(playwright: Playwright) -> LaunchBrowser:
    @asynccontextmanager
    async def launch(microphone: Microphone) -> AsyncIterator[Browser]:
        browser = await web.launch_chromium(
            playwright, microphone.wav, allow_microphone=microphone.allow
        )
        try:
            yield browser
        finally:
            await browser.close()

    return launch


@pytest.fixture(scope="module")
async def workspace_browser(playwright: Playwright) -> AsyncIterator[Browser]:
    """One Chromium with no microphone for a module's workspace tests: each test gets a context
    of its own (cookies, storage, cache), so only the process is shared (a launch per test
    cost ~1-3 s of CPU)."""
    browser = await web.launch_chromium(playwright, None)
    try:
        yield browser
    finally:
        await browser.close()


@pytest.fixture
async def page(workspace_browser: Browser) -> AsyncIterator[Page]:
    """A page of a browser with no microphone, in a context of its own, that fails the test on
    any uncaught error in the page (the workspaces' tests)."""
    context = await workspace_browser.new_context()
    try:
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        yield page
        assert errors == [], f"uncaught errors in the page: {errors}"
    finally:
        await context.close()


@pytest.fixture(scope="session")
def answer_wav(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2.5 s of silence (the examiner asks meanwhile), "one two three", 1.5 s of silence."""
    path = tmp_path_factory.mktemp("microphone") / "answer.wav"
    return web.answer_wav(shared_dir / "audio", path)


STUDENT_NAME = "web.student"
STUDENT_PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session")
async def web_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The browser tests' own SQLite database with the reference data (the page reads only the
    college list; test_endpoints.py covers every backend)."""
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
            await UserRepository(db).create(
                username=STUDENT_NAME,
                email="web.student@example.org",
                password_hash=hash_password(STUDENT_PASSWORD),
                full_name="Web Student",
            )
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
    async with web.serving(create_scripted_exam_app(web_settings, scripts, stt)) as url:
        yield ExamServer(url, scripts)
