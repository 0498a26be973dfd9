"""A ``newspeech worker`` killed with SIGKILL in the middle of a job (Redis Streams or RabbitMQ
as broker): another worker resumes the job at its unfinished stage, and no stage's output is
stored twice. Real processes, the real engines, a real shared recording; on every database
backend."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from io import BytesIO
from pathlib import Path

import aio_pika
import pytest
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from newspeech.analysis.cli import DEFAULT_PROMPTS
from newspeech.analysis.jobs.broker import JobKicker, make_broker
from newspeech.analysis.jobs.service import JobBoard
from newspeech.analysis.prompt_tree import read_prompt_tree
from newspeech.analysis.recordings.service import IntakeLimits, RecordingIntake, RecordingMetadata
from newspeech.analysis.service import PromptSync
from newspeech.config import Settings
from newspeech.models import (
    AnalysisJob,
    AnalysisJobStage,
    AnalysisJobStatus,
    AnalysisStageKind,
    AnalysisStageStatus,
    Transcription,
)
from newspeech.storage.local import LocalAudioStore
from tests.fixtures.recordings import JFK_TEXT, encode, shared_pcm, with_pauses
from tests.voice.wer import word_error_rate

REDIS_URL = os.environ.get("NEWSPEECH_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
AMQP_URL = os.environ.get("NEWSPEECH_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
STAGE_TIMEOUT = 20.0
PATIENCE = 600
"""Polls (of 0.1 s) before giving up on a state: a bound on a hung test, not a timing check."""
SETTLE = 0.5
"""Seconds after a kill for the database to apply a commit the worker had already sent."""


@pytest.fixture(params=["redis", "rabbitmq"])
def broker(request: pytest.FixtureRequest) -> str:
    return REDIS_URL if request.param == "redis" else AMQP_URL


@pytest.fixture
async def queue(broker: str) -> AsyncIterator[str]:
    """A Redis stream or RabbitMQ queue of this test's own (other checkouts share the
    servers), removed afterwards."""
    name = f"newspeech-test-{uuid.uuid4().hex[:12]}"
    yield name
    if broker == REDIS_URL:
        redis = Redis.from_url(REDIS_URL)
        try:
            await redis.delete(name)
        finally:
            await redis.aclose()
    else:
        connection = await aio_pika.connect(AMQP_URL)
        async with connection:
            channel = await connection.channel()
            for queue_name in (name, f"{name}.dead_letter"):
                await channel.queue_delete(queue_name)
            await channel.exchange_delete(name)


def _worker_env(settings: Settings, broker: str, queue: str) -> dict[str, str]:
    return {
        **os.environ,
        "NEWSPEECH_ENVIRONMENT": "test",
        "NEWSPEECH_DATABASE_URL": settings.database_url,
        "NEWSPEECH_DATA_DIR": str(settings.data_dir),
        "NEWSPEECH_BROKER_URL": broker,
        "NEWSPEECH_BROKER_QUEUE": queue,
        "NEWSPEECH_ANALYSIS_CHUNK_SECONDS": "15",
        "NEWSPEECH_ANALYSIS_STAGE_TIMEOUT_SECONDS": str(STAGE_TIMEOUT),
        "NEWSPEECH_INFERENCE_WORKERS": "1",
    }


@pytest.fixture
def start_worker(
    settings: Settings, broker: str, queue: str, tmp_path: Path
) -> Iterator[Callable[[], subprocess.Popen[bytes]]]:
    """Starts ``newspeech worker`` processes (their output in ``worker-N.log``); stops those
    still running at the end."""
    started: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        with (tmp_path / f"worker-{len(started) + 1}.log").open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "newspeech.cli", "worker"],
                env=_worker_env(settings, broker, queue),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
async def job_id(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], shared_dir: Path
) -> int:
    """A stored recording (the JFK sentence three times, 37 s) and its queued job."""
    recording = encode(with_pauses(shared_pcm(shared_dir), 3, 2.0), "ogg")
    store = LocalAudioStore(settings.audio_folder)
    async with sessionmaker() as db:
        await PromptSync(db).sync(read_prompt_tree(DEFAULT_PROMPTS), origin="test")
        intake = RecordingIntake(
            db, store, None, IntakeLimits(10**9, 3600.0), settings.data_dir / "spool" / "analysis"
        )
        transcription = await intake.upload(
            BytesIO(recording), "kill.ogg", RecordingMetadata("interview"), actor_id=None
        )
        job = await JobBoard(db).create(transcription.id, requested_by=None)
        await db.commit()
    return job.id


async def _kick(url: str, queue: str, job_id: int) -> None:
    broker = make_broker(url, queue=queue, stage_timeout_seconds=STAGE_TIMEOUT)
    kicker = JobKicker(broker, lambda: None)
    await broker.startup()
    try:
        await kicker.kick(job_id)
    finally:
        await broker.shutdown()


async def _stages(sessionmaker: async_sessionmaker[AsyncSession]) -> list[AnalysisJobStage]:
    async with sessionmaker() as db:
        query = select(AnalysisJobStage).order_by(AnalysisJobStage.phase, AnalysisJobStage.chunk)
        return list(await db.scalars(query))


async def _job(sessionmaker: async_sessionmaker[AsyncSession], job_id: int) -> AnalysisJob:
    async with sessionmaker() as db:
        job = await db.get(AnalysisJob, job_id)
        assert job is not None
        return job


async def _kill_mid_transcription(
    sessionmaker: async_sessionmaker[AsyncSession],
    start_worker: Callable[[], subprocess.Popen[bytes]],
    tmp_path: Path,
) -> tuple[int, int]:
    """Starts workers and kills each with SIGKILL as soon as it is seen transcribing a chunk,
    until one dies with its chunk unfinished; that stage's id and the number of workers started.

    A chunk can be finished in the instant between seeing it running and the kill; then the
    stage is done at its first try and proves nothing, so the next worker is killed the same
    way (each such round finishes a chunk, so this ends)."""
    for round_ in range(1, 4):
        worker = start_worker()
        log = tmp_path / f"worker-{round_}.log"
        running: AnalysisJobStage | None = None
        for _ in range(PATIENCE):
            running = next(
                (
                    s
                    for s in await _stages(sessionmaker)
                    if s.kind is AnalysisStageKind.TRANSCRIBE
                    and s.status is AnalysisStageStatus.RUNNING
                ),
                None,
            )
            if running is not None or worker.poll() is not None:
                break
            await asyncio.sleep(0.1)
        assert running is not None, log.read_text()
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        await asyncio.sleep(SETTLE)
        after = next(s for s in await _stages(sessionmaker) if s.id == running.id)
        if after.status is AnalysisStageStatus.RUNNING:
            assert after.attempts == 1
            return running.id, round_
    raise AssertionError("every worker finished its chunk before it could be killed")


async def test_a_worker_killed_mid_job_is_resumed_by_another_without_duplicates(
    sessionmaker: async_sessionmaker[AsyncSession],
    start_worker: Callable[[], subprocess.Popen[bytes]],
    broker: str,
    queue: str,
    job_id: int,
    tmp_path: Path,
) -> None:
    await _kick(broker, queue, job_id)
    killed_id, killed = await _kill_mid_transcription(sessionmaker, start_worker, tmp_path)

    survivor = start_worker()
    log = tmp_path / f"worker-{killed + 1}.log"
    for _ in range(PATIENCE):
        job = await _job(sessionmaker, job_id)
        if job.status is not AnalysisJobStatus.RUNNING or survivor.poll() is not None:
            break
        await asyncio.sleep(0.1)

    job = await _job(sessionmaker, job_id)
    stages = await _stages(sessionmaker)
    assert job.status is AnalysisJobStatus.DONE, log.read_text()
    assert [(s.kind.value, s.chunk, s.status.value) for s in stages] == [
        ("cut", 0, "done"),
        ("transcribe", 0, "done"),
        ("transcribe", 1, "done"),
        ("transcribe", 2, "done"),
        ("assemble", 0, "done"),
        ("report", 0, "done"),  # the transcript report (the worker has no LLM)
    ]
    taken_over = next(s for s in stages if s.id == killed_id)
    assert taken_over.attempts == 2  # taken over once its lease ran out
    assert all(s.attempts == 1 for s in stages if s.id != killed_id)
    async with sessionmaker() as db:
        transcription = await db.scalar(select(Transcription))
        assert transcription is not None
        assert word_error_rate(" ".join([JFK_TEXT] * 3), transcription.text or "") <= 0.15
