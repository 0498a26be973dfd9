"""``GET /metrics``: the named series are there and move when the app does something."""

from __future__ import annotations

import asyncio
import math
import socket
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import Message, Receive, Scope, Send

from newspeech.app import create_app
from newspeech.config import Settings
from newspeech.db.engine import create_engine
from newspeech.grading import KeywordGrader
from newspeech.grading.factory import PooledGrader
from newspeech.grading.protocols import GradingQuestion, Keyword
from newspeech.observability.database import instrument_engine, operation
from newspeech.observability.metrics import Metrics
from newspeech.observability.middleware import MetricsMiddleware
from newspeech.observability.timed import TimedGrader
from newspeech.voice.pool import InferencePool, Ticket, Urgency, component, urgency

NAMED_SERIES = (
    "http_requests",
    "http_request_duration_seconds",
    "newspeech_websocket_connections",
    "newspeech_active_sittings",
    "newspeech_turn_response_seconds",
    "newspeech_turn_voice_to_voice_seconds",
    "newspeech_asr_seconds",
    "newspeech_tts_first_audio_seconds",
    "newspeech_grading_seconds",
    "newspeech_inference_wait_seconds",
    "newspeech_inference_queue_length",
    "newspeech_audio_disk_free_bytes",
    "newspeech_database_up",
    "db_query_duration_seconds",
    "db_errors",
)


def sample(exposition: str, name: str, **labels: str) -> float | None:
    """The value of the sample ``name`` with exactly ``labels`` (None when absent)."""
    for family in text_string_to_metric_families(exposition):
        for s in family.samples:
            if s.name == name and s.labels == labels:
                return float(s.value)
    return None


@asynccontextmanager
async def client_for(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def test_metrics_expose_the_named_series(settings: Settings, engine: AsyncEngine) -> None:
    del engine
    async with client_for(create_app(settings)) as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    families = {f.name for f in text_string_to_metric_families(response.text)}
    assert set(NAMED_SERIES) - families == set()
    assert sample(response.text, "newspeech_database_up") == 1.0
    assert sample(response.text, "newspeech_active_sittings") == 0.0


async def test_a_request_counts_under_its_route_template_and_status(
    settings: Settings, engine: AsyncEngine
) -> None:
    del engine
    async with client_for(create_app(settings)) as client:
        before = (await client.get("/metrics")).text
        assert (await client.get("/api/v1/users/42")).status_code == 401
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/no/such/page")).status_code == 404
        assert (await client.request("BREW", "/healthz")).status_code == 405
        after = (await client.get("/metrics")).text
    users = {"method": "GET", "route": "/api/v1/users/{user_id}", "status": "401"}
    assert sample(before, "http_requests_total", **users) is None
    assert sample(after, "http_requests_total", **users) == 1.0
    health = {"method": "GET", "route": "/healthz", "status": "200"}
    assert sample(after, "http_requests_total", **health) == 1.0
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    assert sample(after, "http_requests_total", **unmatched) == 1.0
    assert "/no/such/page" not in after
    brew = {"method": "other", "route": "/healthz", "status": "405"}
    assert sample(after, "http_requests_total", **brew) == 1.0
    # /healthz read the database: its statements were timed.
    selects = sample(after, "db_query_duration_seconds_count", operation="select") or 0.0
    assert selects > (sample(before, "db_query_duration_seconds_count", operation="select") or 0)


async def test_a_failed_statement_counts_as_a_query_error(settings: Settings) -> None:
    metrics = Metrics()
    engine = create_engine(settings)
    instrument_engine(engine, metrics)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
            with pytest.raises(SQLAlchemyError):
                await connection.execute(text("SELECT * FROM no_such_table"))
    finally:
        await engine.dispose()
    exposition = metrics.exposition().decode()
    assert sample(exposition, "db_errors_total", kind="query") == 1.0
    assert sample(exposition, "db_errors_total", kind="unavailable") is None
    assert sample(exposition, "db_query_duration_seconds_count", operation="select") == 1.0


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_an_unreachable_database_counts_as_unavailable_and_down(tmp_path: Path) -> None:
    settings = Settings(
        environment="test",
        data_dir=tmp_path,
        database_url=f"postgresql+asyncpg://nobody@127.0.0.1:{closed_port()}/gone",
        speech_enabled=False,
        rate_limit_enabled=False,
    )
    async with client_for(create_app(settings)) as client:
        login = await client.post(
            "/api/v1/auth/login", json={"username": "someone", "password": "a password"}
        )
        response = await client.get("/metrics")
    assert login.status_code == 503
    assert (sample(response.text, "db_errors_total", kind="unavailable") or 0.0) >= 1.0
    assert sample(response.text, "newspeech_database_up") == 0.0
    login_503 = {"method": "POST", "route": "/api/v1/auth/login", "status": "503"}
    assert sample(response.text, "http_requests_total", **login_503) == 1.0


async def test_metrics_need_the_token_when_one_is_set(
    settings: Settings, engine: AsyncEngine
) -> None:
    del engine
    guarded = settings.model_copy(update={"metrics_token": SecretStr("scrape-secret")})
    async with client_for(create_app(guarded)) as client:
        refused = await client.get("/metrics")
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
        allowed = await client.get("/metrics", headers={"Authorization": "Bearer scrape-secret"})
    assert refused.status_code == 401
    assert refused.json()["error"] == "unauthenticated"
    assert wrong.status_code == 401
    assert allowed.status_code == 200


async def test_metrics_can_be_switched_off(settings: Settings, engine: AsyncEngine) -> None:
    del engine
    app = create_app(settings.model_copy(update={"metrics_enabled": False}))
    assert app.state.metrics is None
    async with client_for(app) as client:
        response = await client.get("/metrics")
    assert response.status_code == 404


async def test_open_websockets_are_counted_while_they_last() -> None:
    metrics = Metrics()
    seen: list[float | None] = []

    async def socket_app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(sample(metrics.exposition().decode(), "newspeech_websocket_connections"))

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    async def send(message: Message) -> None:
        del message

    middleware = MetricsMiddleware(socket_app, metrics=metrics)
    await middleware({"type": "websocket", "path": "/ws/exam"}, receive, send)
    assert seen == [1.0]
    assert sample(metrics.exposition().decode(), "newspeech_websocket_connections") == 0.0


def test_turn_latencies_fill_both_histograms() -> None:
    metrics = Metrics()
    metrics.observe_turn({"response_ms": 420.0, "voice_to_voice_ms": 900.0})
    metrics.observe_turn({"turn_to_transcript_ms": 300.0})  # no audio sent: not a full turn
    exposition = metrics.exposition().decode()
    assert sample(exposition, "newspeech_turn_response_seconds_count") == 1.0
    assert sample(exposition, "newspeech_turn_response_seconds_sum") == pytest.approx(0.42)
    assert sample(exposition, "newspeech_turn_voice_to_voice_seconds_bucket", le="0.75") == 0.0
    assert sample(exposition, "newspeech_turn_voice_to_voice_seconds_bucket", le="1.0") == 1.0


async def test_grading_is_timed_and_preparation_passes_through() -> None:
    metrics = Metrics()
    grader = TimedGrader(PooledGrader(KeywordGrader()), metrics)
    question = GradingQuestion(text="What pumps blood?", keywords=(Keyword("heart"),))
    await grader.prepare_async(question)
    grade = await grader.grade_async(question, "the heart pumps blood")
    assert grade.matched == ("heart",)
    assert sample(metrics.exposition().decode(), "newspeech_grading_seconds_count") == 1.0


class Blocker:
    """A call that holds the pool's only thread until released."""

    def __init__(self) -> None:
        self.running = threading.Event()
        self.release = threading.Event()

    def __call__(self) -> bool:
        self.running.set()
        return self.release.wait(10.0)


async def test_the_inference_pool_reports_its_queue_and_waits() -> None:
    metrics = Metrics()
    pool = InferencePool(1)
    metrics.watch_pool("inference", pool)
    blocker = Blocker()
    release = blocker.release
    try:
        first = asyncio.create_task(pool.run(blocker))
        second = asyncio.create_task(pool.run(sum, [1, 2]))
        assert await asyncio.to_thread(blocker.running.wait, 10.0)
        third = asyncio.create_task(pool.run_background(sum, [3]))
        await asyncio.sleep(0.01)
        exposition = metrics.exposition().decode()
        assert sample(exposition, "newspeech_inference_queue_length", pool="inference") == 2.0
        by_urgency = "newspeech_inference_urgency_queue_length"
        assert sample(exposition, by_urgency, pool="inference", urgency="turn") == 1.0
        assert sample(exposition, by_urgency, pool="inference", urgency="background") == 1.0
        assert sample(exposition, by_urgency, pool="inference", urgency="speculative") == 0.0
        release.set()
        assert await first is True
        assert await second == 3
        assert await third == 3
    finally:
        release.set()
        pool.close()
    exposition = metrics.exposition().decode()
    assert sample(exposition, "newspeech_inference_queue_length", pool="inference") == 0.0
    assert sample(exposition, "newspeech_inference_wait_seconds_count", pool="inference") == 3.0
    waits = "newspeech_inference_urgency_wait_seconds_count"
    assert sample(exposition, waits, pool="inference", urgency="turn") == 2.0
    assert sample(exposition, waits, pool="inference", urgency="background") == 1.0


def _busy(seconds: float) -> None:
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


async def test_the_inference_pool_exports_its_cpu_budget_beside_the_processs() -> None:
    metrics = Metrics()
    pool = InferencePool(1)
    metrics.watch_pool("inference", pool)
    try:
        await pool.runner("grading")(_busy, 0.05)
        ticket = Ticket(Urgency.SPECULATIVE)
        with component("decode"), urgency(ticket):
            await pool.run(_busy, 0.03)
        ticket.promote(Urgency.TURN)
    finally:
        pool.close()
    exposition = metrics.exposition().decode()
    cpu = "newspeech_inference_cpu_seconds_total"
    grading = sample(exposition, cpu, pool="inference", component="grading", urgency="turn")
    assert grading is not None
    assert grading >= 0.05
    busy = "newspeech_inference_busy_seconds_total"
    held = sample(exposition, busy, pool="inference", component="grading", urgency="turn")
    assert held is not None
    assert held >= grading * 0.9  # wall time on the thread; never much below its CPU time
    spent = sample(exposition, cpu, pool="inference", component="decode", urgency="speculative")
    kept = sample(
        exposition,
        "newspeech_inference_speculative_kept_cpu_seconds_total",
        pool="inference",
        component="decode",
    )
    assert spent is not None
    assert spent >= 0.03
    assert kept == spent
    process = sample(exposition, "process_cpu_seconds_total")
    assert process is not None
    assert process >= grading + spent


async def test_a_call_cancelled_in_the_queue_leaves_it() -> None:
    pool = InferencePool(1)
    blocker = Blocker()
    release = blocker.release
    try:
        running = asyncio.create_task(pool.run(blocker))
        queued = asyncio.create_task(pool.run(sum, [1]))
        assert await asyncio.to_thread(blocker.running.wait, 10.0)
        assert pool.queued == 1
        queued.cancel()
        with pytest.raises(asyncio.CancelledError):
            await queued
        assert pool.queued == 0
        release.set()
        assert await running is True
    finally:
        release.set()
        pool.close()


def test_statements_are_labelled_by_their_first_keyword() -> None:
    assert operation("SELECT 1") == "select"
    assert operation("\n  insert into answers values (1)") == "insert"
    assert operation("(SELECT 1) UNION (SELECT 2)") == "select"
    assert operation("PRAGMA foreign_keys=ON") == "other"
    assert operation("") == "other"


def test_a_missing_audio_folder_reads_as_nan_not_a_failed_scrape(tmp_path: Path) -> None:
    metrics = Metrics()
    metrics.watch_audio_disk(tmp_path)
    free = sample(metrics.exposition().decode(), "newspeech_audio_disk_free_bytes")
    assert free is not None
    assert free > 0
    metrics.watch_audio_disk(tmp_path / "gone")
    free = sample(metrics.exposition().decode(), "newspeech_audio_disk_free_bytes")
    assert free is not None
    assert math.isnan(free)


async def test_a_call_to_a_closed_pool_is_refused_and_not_counted() -> None:
    pool = InferencePool(1)
    pool.close()
    with pytest.raises(RuntimeError):
        await pool.run(sum, [1])
    assert pool.queued == 0
