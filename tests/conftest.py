"""Test fixtures: the repository suite runs once per database backend.

Backends: SQLite (a file in a temp dir), PostgreSQL and MariaDB on localhost (``scripts/test``
makes sure they run). Each gets a fresh database built by ``alembic upgrade head``; every test
starts from empty tables. Choose backends with ``NEWSPEECH_TEST_BACKENDS=sqlite,postgresql``;
point at other servers with ``NEWSPEECH_TEST_POSTGRES_URL`` / ``NEWSPEECH_TEST_MYSQL_URL``
and name the test database with ``NEWSPEECH_TEST_DATABASE`` (default ``newspeech_test_`` and a
hash of this checkout's path, so two checkouts never drop each other's database mid-run).

Lanes: every test is marked here by what it needs, so nobody has to remember a marker:
``engines`` (speech models or MiniLM), ``browser`` (Chromium), ``backends`` (PostgreSQL, MariaDB
or Redis). ``scripts/test --fast`` runs the tests with none of them.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from newspeech.config import Settings
from newspeech.db.base import Base
from newspeech.db.engine import create_engine, create_sessionmaker
from newspeech.db.migrations import upgrade
from tests.fixtures.databases import BACKENDS, fresh_database_url
from tests.fixtures.served_apps import end_running_exams
from tests.fixtures.voices import CandidateVoices

pytest_plugins = ["tests.fixtures.api", "tests.fixtures.cli"]
"""Fixtures every test package may use: the ``api`` client on the real app (HTTP tests sit
beside their domain) and the ``newspeech`` command run in-process."""

# Separate names let two checkouts run their suites against the same servers at once.
CHECKOUT = hashlib.sha1(str(Path(__file__).resolve().parent.parent).encode()).hexdigest()[:8]
TEST_DATABASE = os.environ.get("NEWSPEECH_TEST_DATABASE", f"newspeech_test_{CHECKOUT}")

ENGINE_FIXTURES = frozenset(
    {
        "tiny",
        "base",
        "speech",
        "stt",
        "whisper",
        "piper",
        "piper_voice",
        "espeak",
        "voices",
        "minilm",
    }
)
"""Fixtures that load a speech model (or MiniLM): a test that uses one, directly or through
another fixture, needs the engines."""
ENGINE_TESTS = (
    # Tests that load a model themselves rather than through a fixture above (node id prefixes).
    "tests/test_weights.py",
    "tests/test_app.py::test_start_up_loads_and_warms_the_offline_speech_engines",
    "tests/grading/test_marks.py",
    "tests/grading/test_fit.py",
    "tests/grading/test_bench_llm.py",
    "tests/voice/test_vad.py",
    "tests/voice/test_turn.py",
    "tests/voice/test_tts.py",
    "tests/voice/test_engines.py",
    "tests/exams/test_ws.py",
    "tests/exams/test_real_exam.py",
    "tests/exams/test_real_exam_socket.py",
    "tests/test_cli.py::test_voice_prerender_fills_the_disk_store_once",
)
BROWSER_FIXTURES = frozenset({"playwright"})
SERVICE_PARAMS = {
    "backend": {"postgresql", "mariadb"},
    "limiter": {"redis"},
    "broker": {"redis", "rabbitmq"},
}
"""Parametrised fixtures whose values need a server: the test instances that use them."""

SELECTED = [
    name.strip()
    for name in os.environ.get("NEWSPEECH_TEST_BACKENDS", ",".join(BACKENDS)).split(",")
    if name.strip()
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with the lanes it needs (``engines``, ``browser``, ``backends``)."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        params = getattr(getattr(item, "callspec", None), "params", {})
        # A parameter naming an engine fixture is one the test fetches with getfixturevalue.
        fetched = {value for value in params.values() if isinstance(value, str)}
        if (
            fixtures & ENGINE_FIXTURES
            or fetched & ENGINE_FIXTURES
            or item.nodeid.startswith(ENGINE_TESTS)
        ):
            item.add_marker(pytest.mark.engines)
        if fixtures & BROWSER_FIXTURES:
            item.add_marker(pytest.mark.browser)
        if any(params.get(name) in values for name, values in SERVICE_PARAMS.items()):
            item.add_marker(pytest.mark.backends)


@pytest.fixture(scope="session", params=SELECTED)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    if name not in BACKENDS:
        raise pytest.UsageError(f"unknown backend {name!r}; choose from {', '.join(BACKENDS)}")
    return name


@pytest.fixture(scope="session")
async def settings(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data_dir = tmp_path_factory.mktemp(f"data-{backend}")
    url = await fresh_database_url(backend, data_dir, TEST_DATABASE)
    # Speech engines are exercised in tests/voice and by the app test that asks for them.
    return Settings(environment="test", data_dir=data_dir, database_url=url, speech_enabled=False)


@pytest.fixture(scope="session")
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings)
    await upgrade(engine)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine)


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server (tests/fixtures/s3_server.py), one per test process: starting one took
    3-7 s under load, and each test makes buckets of its own."""
    from tests.fixtures.s3_server import s3_server

    with s3_server() as url:
        yield url


@pytest.fixture(autouse=True)
async def _empty_tables(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """After a test that used the database, end the exam loops it left running on a served
    app, then delete every row (children before parents)."""
    yield
    if "engine" not in request.fixturenames:
        return
    await end_running_exams()
    engine: AsyncEngine = request.getfixturevalue("engine")
    async with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            await connection.execute(delete(table))


@pytest.fixture
async def db(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session for the test; the test commits what it wants to persist."""
    async with sessionmaker() as session:
        yield session
        await session.rollback()


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    path = Path(__file__).resolve().parents[2] / "shared"
    assert path.is_dir(), f"expected the shared data folder at {path}"
    return path


@pytest.fixture(scope="session")
def voices() -> CandidateVoices:
    """Deterministic candidate voices (Piper with its noise off, espeak-ng) for spoken answers."""
    return CandidateVoices()
