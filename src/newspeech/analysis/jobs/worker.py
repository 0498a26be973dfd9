"""``newspeech worker``: a process that runs analysis jobs from the broker at
``NEWSPEECH_BROKER_URL`` (Redis Streams or RabbitMQ). Run as many as you like, on any machine
that reaches the database, the broker and the audio store.

It loads only what the stages need (Silero VAD, the configured Whisper model, and the LLM client
when ``NEWSPEECH_LLM_API_URL`` is set), re-kicks
every unfinished job when it starts and every ``SWEEP_SECONDS`` (a job whose worker was killed
resumes at its unfinished stage once that stage's lease runs out), and stops on SIGTERM or
Ctrl-C. Stopping it at any moment loses nothing: see ``runner.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from taskiq.api import run_receiver_task

from newspeech import weights
from newspeech.analysis.jobs.broker import JobKicker, make_broker
from newspeech.analysis.jobs.runner import JobRunner, StagePolicy
from newspeech.analysis.jobs.stages import StageWork
from newspeech.analysis.reports.chains import ChainLimits, PromptChain
from newspeech.config import Settings
from newspeech.db.engine import create_engine, create_sessionmaker
from newspeech.errors import ConfigurationError
from newspeech.llm import OpenAIChatClient
from newspeech.storage.factory import audio_store_from_settings, check_audio_store
from newspeech.voice.pool import InferencePool
from newspeech.voice.stt import WhisperSpeechToText, available_cores
from newspeech.voice.vad import SileroVoiceActivityDetector

logger = logging.getLogger("newspeech.worker")


def stage_policy(settings: Settings) -> StagePolicy:
    return StagePolicy(
        attempts=settings.analysis_stage_attempts,
        retry_seconds=settings.analysis_retry_seconds,
        timeout_seconds=settings.analysis_stage_timeout_seconds,
    )


def prompt_chain(settings: Settings) -> PromptChain | None:
    """The LLM that runs report prompts and labels speakers; None without
    ``NEWSPEECH_LLM_API_URL`` (jobs then make transcript reports only). Close its client."""
    if not settings.llm_api_url:
        return None
    client = OpenAIChatClient(
        settings.llm_api_url,
        model=settings.llm_model,
        api_key=settings.llm_api_key,
        timeout_seconds=settings.analysis_llm_timeout_seconds,
        retries=settings.llm_max_retries,
        response_format=settings.llm_response_format,
    )
    limits = ChainLimits(
        context_tokens=settings.analysis_llm_context_tokens,
        answer_tokens=settings.analysis_llm_answer_tokens,
    )
    return PromptChain(client, limits)


def worker_speech_to_text(
    settings: Settings, pool: InferencePool, concurrency: int
) -> WhisperSpeechToText:
    """The worker's Whisper: a CTranslate2 decoder on each core it may use (one thread each;
    ``NEWSPEECH_ANALYSIS_WORKER_CORES`` caps them), and each job decodes its recording's 30 s
    chunks on its share of them at once. A job's pieces are transcribed one after another, so
    one decoder on both cores was the previous choice (9.5x and 6.9x real time under load 7 to
    11 against 6.3x and 3.7x for the exam server's layout, which decodes one chunk at a time);
    independent decoders keep the cores busy without CTranslate2's threads waiting on each
    other (bench/analysis.py, docs/analysis.md)."""
    cores = settings.analysis_worker_cores or available_cores()
    return WhisperSpeechToText.from_settings(
        settings,
        pool=pool,
        num_workers=cores,
        chunk_workers=max(1, cores // max(concurrency, 1)),
    )


def require_broker(settings: Settings) -> str:
    """The broker's URL, or a configuration error saying where to set it."""
    if settings.broker_url is None:
        raise ConfigurationError(
            "set NEWSPEECH_BROKER_URL (redis://... or amqp://...) to run workers; without it "
            "`newspeech serve` runs analysis jobs itself"
        )
    return settings.broker_url


async def run_worker(settings: Settings, *, concurrency: int = 1) -> None:
    broker_url = require_broker(settings)
    engine = create_engine(settings)
    store = audio_store_from_settings(settings)
    pool = InferencePool(settings.inference_workers)
    chain = prompt_chain(settings)
    try:
        await check_audio_store(store)
        vad = await pool.run(SileroVoiceActivityDetector, weights.locate(weights.SILERO_VAD))
        stt = await pool.run(worker_speech_to_text, settings, pool, concurrency)
        work = StageWork(vad, stt, pool.run, settings.analysis_chunk_seconds)
        runner = JobRunner(
            create_sessionmaker(engine),
            store,
            work,
            work_dir=settings.data_dir / "spool" / "analysis-work",
            policy=stage_policy(settings),
            chain=chain,
        )
        broker = make_broker(
            broker_url,
            queue=settings.broker_queue,
            stage_timeout_seconds=settings.analysis_stage_timeout_seconds,
        )
        kicker = JobKicker(broker, lambda: runner)
        broker.is_worker_process = True  # RabbitMQ opens its consuming connection only then
        await broker.startup()
        try:
            await _serve_queue(kicker, concurrency)
        finally:
            await broker.shutdown()
    finally:
        if chain is not None:
            await chain.client.aclose()
        pool.close()
        await store.aclose()
        await engine.dispose()


async def _serve_queue(kicker: JobKicker, concurrency: int) -> None:
    receiver = asyncio.create_task(
        run_receiver_task(kicker.broker, max_async_tasks=concurrency), name="analysis-receiver"
    )
    sweep = asyncio.create_task(kicker.sweep_forever(), name="analysis-sweep")
    loop = asyncio.get_running_loop()
    for stop in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(stop, receiver.cancel)
    logger.info("analysis worker ready (%s at most at once)", concurrency)
    try:
        await receiver
    except asyncio.CancelledError:
        logger.info("analysis worker stopping")
    finally:
        kicker.cancel_pending()
        sweep.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweep
