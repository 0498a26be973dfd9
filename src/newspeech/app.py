"""The FastAPI application: ``create_app(settings)`` and the lifespan that builds shared
resources once."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from types import FrameType
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.exceptions import HTTPException as StarletteHTTPException

from newspeech import __version__
from newspeech.analysis import endpoints as analysis_prompts
from newspeech.analysis.jobs import endpoints as analysis_jobs
from newspeech.analysis.jobs.broker import JobKicker, make_broker
from newspeech.analysis.jobs.runner import JobRunner
from newspeech.analysis.jobs.stages import StageWork
from newspeech.analysis.jobs.worker import prompt_chain, stage_policy
from newspeech.analysis.recordings import endpoints as analysis_recordings
from newspeech.analysis.reports import endpoints as analysis_reports
from newspeech.analysis.routing import endpoints as analysis_routing
from newspeech.analysis.search import endpoints as analysis_search
from newspeech.answers.audio import endpoints as answer_audio
from newspeech.answers.audio.jobs import purge_daily
from newspeech.answers.audio.service import AnswerAudioRecorder, check_encoder
from newspeech.answers.audio.spool import AudioSpool
from newspeech.ask import endpoints as ask
from newspeech.ask.repository import ReadOnlyRunner
from newspeech.attempts import endpoints as attempts
from newspeech.audits import endpoints as audits
from newspeech.audits.repository import AuditLogRepository
from newspeech.auth import endpoints as auth
from newspeech.auth.limits import RateLimitMiddleware
from newspeech.auth.service import Authenticated, authenticate, sign_in_ended
from newspeech.certificates import endpoints as certificates
from newspeech.colleges import endpoints as colleges
from newspeech.config import Settings
from newspeech.configuration import endpoints as configuration
from newspeech.configuration.current import current_config
from newspeech.configuration.keys import ExamConfig
from newspeech.db.engine import create_engine, create_sessionmaker, unit_of_work
from newspeech.db.outage import RETRY_AFTER_SECONDS, database_unavailable
from newspeech.errors import NewSpeechError, RateLimited
from newspeech.exams import endpoints as exams
from newspeech.exams.dependencies import ExamDependencies, OutagePolicy
from newspeech.exams.lease import LeasePolicy
from newspeech.exams.live import LiveSittings
from newspeech.exams.opener import ServiceOpener
from newspeech.exams.ws import ConversationOpener, OpenerFactory
from newspeech.exams.ws import router as exam_socket_router
from newspeech.grading import AsyncGrader
from newspeech.grading.embeddings import MiniLMEmbedder
from newspeech.grading.factory import (
    GraderCache,
    grader_builder,
    keyword_graders,
    llm_client_from_settings,
)
from newspeech.invitations import endpoints as invitations
from newspeech.kit import heap
from newspeech.kit.clock import WallClock, system_clock
from newspeech.kit.process_pool import ProcessPool
from newspeech.kit.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from newspeech.kit.responses import error_responses
from newspeech.kit.text import printable
from newspeech.observability import workers
from newspeech.observability.database import instrument_engine
from newspeech.observability.endpoints import router as metrics_router
from newspeech.observability.logs import RequestIdMiddleware, current_request_id
from newspeech.observability.metrics import Metrics
from newspeech.observability.middleware import MetricsMiddleware
from newspeech.observability.timed import TimedGrader, TimedSpeechToText, TimedTextToSpeech
from newspeech.questions import endpoints as questions
from newspeech.questions.interchange import endpoints as question_banks
from newspeech.results import endpoints as results
from newspeech.results.mailer import ResultMailer
from newspeech.results.service import statistics_cache
from newspeech.review import endpoints as review
from newspeech.statistics import endpoints as statistics
from newspeech.storage.factory import audio_store_from_settings, check_audio_store
from newspeech.system.endpoints import router as system_router
from newspeech.system.input_contract import BodyLimitMiddleware, refuse_control_characters
from newspeech.users import endpoints as users
from newspeech.voice.engines import SpeechEngines, load_speech_engines, phrase_store
from newspeech.voice.phrase_cache import PhraseCache
from newspeech.voice.protocols import SpeechToText, TextToSpeech
from newspeech.voice.session import LoopSettings, SessionEngines
from newspeech.voice.speaker import Speaker
from newspeech.voice.terms import EspeakPhonetics, TermCorrector
from newspeech.web import STATIC_DIR
from newspeech.web.docs import install_docs
from newspeech.web.endpoints import router as web_router

logger = logging.getLogger("newspeech")

WARM_UP_TEXT = "The left ventricle pumps oxygenated blood into the aorta."

API_PREFIX = "/api/v1"
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "rate_limited",
}


# Every router of the versioned API, in the order OpenAPI lists them.
API_ROUTERS: tuple[APIRouter, ...] = tuple(
    module.router
    for module in (
        auth,
        users,
        invitations,
        colleges,
        questions,
        exams,
        attempts,
        results,
        answer_audio,
        configuration,
        audits,
        # The examiner's workspace (issue 7).
        question_banks,
        review,
        statistics,
        certificates,
        # Recording analysis (issue 17): the prompt registry (read-only), intake, jobs, search.
        analysis_prompts,
        analysis_recordings,
        analysis_jobs,
        analysis_reports,
        analysis_routing,
        analysis_search,
        # Asking the data in plain language (issue 18).
        ask,
    )
)


def api_router() -> APIRouter:
    # Any API route may refuse an unreadable body (400), an oversized one (413), bad input (422)
    # or a flood (429); text with control characters never reaches a route.
    router = APIRouter(
        prefix=API_PREFIX,
        responses=error_responses(400, 413, 422, 429),
        dependencies=[Depends(refuse_control_characters)],
    )
    for child in API_ROUTERS:
        router.include_router(child)
    return router


def create_app(
    settings: Settings,
    *,
    clock: WallClock = system_clock,
    rate_limiter: RateLimiter | None = None,
    exam_opener: OpenerFactory | None = None,
    metrics: Metrics | None = None,
) -> FastAPI:
    """The app. ``clock`` and ``rate_limiter`` are injectable (tests move time, share Redis);
    ``exam_opener`` builds, in the lifespan, what opens exams for ``/ws/exam`` (default: the
    API's access tokens and the exam service); ``metrics`` is the registry ``/metrics`` shows
    (default: a new one, none with ``NEWSPEECH_METRICS_ENABLED=false``)."""
    if metrics is None and settings.metrics_enabled:
        metrics = Metrics(workers.from_environment())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings)
        app.state.settings = settings
        app.state.engine = engine
        app.state.sessionmaker = create_sessionmaker(engine)
        app.state.clock = clock
        app.state.statistics_cache = statistics_cache(
            settings.cache_ttl_seconds,
            enabled=settings.enable_result_caching,
            redis=Redis.from_url(settings.redis_url) if settings.redis_url else None,
            namespace=settings.redis_prefix,
        )
        app.state.rate_limiter = rate_limiter or _rate_limiter(settings)
        app.state.result_mailer = _result_mailer(settings, app.state.sessionmaker, metrics)
        app.state.speech = None
        app.state.voice = None
        app.state.graders = None
        app.state.llm_client = None
        app.state.ask_llm = llm_client_from_settings(settings)
        app.state.ask_engine = (
            create_engine(settings.model_copy(update={"database_url": settings.ask_database_url}))
            if settings.ask_database_url
            else None
        )
        # One runner for the process: it learns once whether the read-only role may be assumed.
        app.state.ask_runner = ReadOnlyRunner(
            app.state.ask_engine or engine, timeout_seconds=settings.ask_timeout_seconds
        )
        app.state.loop_settings = LoopSettings.from_settings(settings)
        app.state.live_sittings = LiveSittings()
        app.state.draining = False
        app.state.audio_store = audio_store_from_settings(settings)
        app.state.answer_audio = None
        # Why answer recordings cannot be encoded here (/healthz shows it), or None.
        app.state.audio_encoder_problem = None
        app.state.term_corrector = None
        if metrics is not None:
            _watch(metrics, app.state)
        purge = _start_audio_purge(app.state)
        sampling = _start_metric_sampling(metrics)
        trimming: asyncio.Task[None] | None = None
        sweep: asyncio.Task[None] | None = None
        try:
            await check_audio_store(app.state.audio_store)
            if settings.speech_enabled:
                app.state.speech = await load_speech_engines(settings)
                if settings.warm_up:
                    seconds = await app.state.speech.warm_up()
                    logger.info("speech engines warm: %s", seconds)
                if metrics is not None:
                    _watch_pools(metrics, app.state.speech)
                app.state.voice = _session_engines(app.state.speech, settings, metrics)
                app.state.term_corrector = TermCorrector(EspeakPhonetics())
                app.state.audio_encoder_problem = await check_encoder()
                if app.state.audio_encoder_problem is None:
                    app.state.answer_audio = AnswerAudioRecorder(
                        app.state.audio_store,
                        app.state.sessionmaker,
                        offload=app.state.speech.pool.runner("audio_encoding", background=True),
                        audit_enabled=settings.enable_audit_logs,
                        spool=AudioSpool(settings.data_dir / "spool" / "answer-audio"),
                    )
                    if not settings.serve_worker:  # with workers, the parent did it
                        await _reconcile_spool(app.state.answer_audio)
                if exam_opener is None:  # the exam service grades; tests may bring their own
                    app.state.llm_client = llm_client_from_settings(settings)
                    app.state.graders = await _exam_graders(app.state)
            app.state.exam_opener = (exam_opener or service_opener)(app.state)
            sweep = await _start_analysis_jobs(app.state)
            _freeze_start_up_heap()
            if app.state.speech is not None:
                # Exams free tens of MB per decode and clause; glibc would keep it (kit.heap).
                trimming = asyncio.create_task(heap.trim_periodically(), name="heap-trim")
            with _drain_on_sigterm(app.state, settings.drain_seconds):
                yield
        finally:
            gc.unfreeze()
            await _stop_analysis_jobs(app.state, sweep)
            app.state.draining = True  # /readyz answers 503 from here on
            await _hang_up_sittings(app.state.live_sittings)
            for task in (purge, sampling, trimming):
                if task is not None:
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)
            if metrics is not None and metrics.multiprocess_dir is not None:
                workers.leave(metrics.multiprocess_dir)
            if app.state.answer_audio is not None:
                await app.state.answer_audio.drain(wait_seconds=10.0)
            if app.state.result_mailer is not None:
                await app.state.result_mailer.aclose(grace_seconds=10.0)
            await asyncio.to_thread(app.state.import_pool.close)
            await app.state.audio_store.aclose()
            if app.state.llm_client is not None:
                await app.state.llm_client.aclose()
            if app.state.ask_llm is not None:
                await app.state.ask_llm.aclose()
            if app.state.ask_engine is not None:
                await app.state.ask_engine.dispose()
            if app.state.speech is not None:
                await app.state.speech.aclose()
            await app.state.rate_limiter.aclose()
            await app.state.statistics_cache.aclose()
            await engine.dispose()

    app = FastAPI(
        title="NewSpeech",
        version=__version__,
        summary="Spoken oral examinations with an AI examiner",
        lifespan=lifespan,
        docs_url=None,  # served by install_docs from local assets, not a CDN
        redoc_url=None,
    )
    _announce_token_secret(settings)
    # Question imports parse and plan in a worker process, started on the first import.
    app.state.import_pool = ProcessPool()
    app.state.metrics = metrics
    _install_error_handlers(app)
    app.add_middleware(RateLimitMiddleware)
    # Outermost: a flood of bytes is never buffered. Recording uploads stream through.
    upload = settings.analysis_max_upload_bytes + 1024 * 1024  # the form around the file
    app.add_middleware(BodyLimitMiddleware, streamed={analysis_recordings.RECORDINGS_PATH: upload})
    if metrics is not None:  # outside even that: a refused request is counted too
        app.add_middleware(MetricsMiddleware, metrics=metrics, error_status=_error_status)
    app.add_middleware(RequestIdMiddleware)  # outermost: everything logged knows the request

    app.include_router(system_router)
    app.include_router(metrics_router)
    app.include_router(api_router())
    app.include_router(web_router)
    app.mount("/web/static", StaticFiles(directory=STATIC_DIR), name="web-static")
    install_docs(app)
    app.include_router(exam_socket_router)
    return app


def analysis_runner(state: Any) -> JobRunner | None:
    """The runner of analysis jobs inside this server: only with the in-process broker (with a
    broker URL, ``newspeech worker`` runs them) and the speech engines loaded."""
    settings: Settings = state.settings
    speech: SpeechEngines | None = state.speech
    if settings.broker_url is not None or speech is None:
        return None
    work = StageWork(speech.vad, speech.stt, speech.pool.run, settings.analysis_chunk_seconds)
    return JobRunner(
        state.sessionmaker,
        state.audio_store,
        work,
        work_dir=settings.data_dir / "spool" / "analysis-work",
        policy=stage_policy(settings),
        chain=prompt_chain(settings),
    )


async def _start_analysis_jobs(state: Any) -> asyncio.Task[None] | None:
    """The task queue's sending side (and, with the in-process broker, its running side: the
    sweep re-kicks jobs a restart interrupted)."""
    settings: Settings = state.settings
    state.analysis_runner = analysis_runner(state)
    broker = make_broker(
        settings.broker_url,
        queue=settings.broker_queue,
        stage_timeout_seconds=settings.analysis_stage_timeout_seconds,
    )
    state.analysis_jobs = JobKicker(broker, lambda: state.analysis_runner)
    await broker.startup()
    if settings.broker_url is not None:
        return None
    return asyncio.create_task(state.analysis_jobs.sweep_forever(), name="analysis-sweep")


async def _stop_analysis_jobs(state: Any, sweep: asyncio.Task[None] | None) -> None:
    kicker: JobKicker | None = getattr(state, "analysis_jobs", None)
    if sweep is not None:
        sweep.cancel()
        await asyncio.gather(sweep, return_exceptions=True)
    if kicker is not None:
        kicker.cancel_pending()
        await kicker.broker.shutdown()
    runner: JobRunner | None = getattr(state, "analysis_runner", None)
    if runner is not None and runner.chain is not None:
        await runner.chain.client.aclose()


def _announce_token_secret(settings: Settings) -> None:
    """Load (or create) the token secret now, not on the first request, and say where it lives."""
    settings.token_secret()
    origin = settings.token_secret_origin
    if settings.secret_key is not None:
        logger.info(
            "access tokens are signed with %s; rotate by changing it and restarting", origin
        )
        return
    logger.info(
        "access tokens are signed with the %s secret in %s (mode 0600); rotate it by deleting "
        "that file and restarting (signed-in users refresh their tokens), or set "
        "NEWSPEECH_SECRET_KEY",
        "newly generated" if settings.token_secret_created else "stored",
        origin,
    )


def _session_engines(
    speech: SpeechEngines, settings: Settings, metrics: Metrics | None = None
) -> SessionEngines:
    """The shared models as every exam connection uses them, with one phrase cache (timed for
    the metrics when there are any)."""
    stt: SpeechToText = speech.stt
    tts: TextToSpeech = speech.tts
    if metrics is not None:
        stt, tts = TimedSpeechToText(stt, metrics), TimedTextToSpeech(tts, metrics)
    speaker = Speaker(
        tts,
        PhraseCache(settings.tts_cache_entries),
        speech.fallback_tts,
        phrase_store(settings, tts.sample_rate),
    )
    return SessionEngines(speech.frame_pool, speech.vad, speech.turn, stt, speaker)


def _watch(metrics: Metrics, state: Any) -> None:
    """What the metrics read from the app's state: the database's statements, the running
    sittings, the disk under the local answer-audio store."""
    settings: Settings = state.settings
    instrument_engine(state.engine, metrics)
    live: LiveSittings = state.live_sittings
    metrics.watch_active_sittings(lambda: len(live))
    if settings.audio_store == "local":
        metrics.watch_audio_disk(settings.audio_folder)


SAMPLE_SECONDS = 1.0
"""With workers, how often each copies its callback-read gauges into its metric files."""


def _start_metric_sampling(metrics: Metrics | None) -> asyncio.Task[None] | None:
    """With workers, keep this worker's sittings, queues and disk figures current in its
    metric files, so a scrape answered by another worker sees them."""
    if metrics is None or metrics.multiprocess_dir is None:
        return None

    async def sample() -> None:
        while True:
            metrics.sample()
            await asyncio.sleep(SAMPLE_SECONDS)

    return asyncio.create_task(sample(), name="metric-sampling")


def _watch_pools(metrics: Metrics, speech: SpeechEngines) -> None:
    metrics.watch_pool("inference", speech.pool)
    metrics.watch_pool("frames", speech.frame_pool)
    metrics.watch_engine_threads(speech.threads)


def _result_mailer(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], metrics: Metrics | None
) -> ResultMailer | None:
    """Result e-mails, when NEWSPEECH_SMTP_HOST is set (docs/operations.md)."""
    if not settings.result_emails:
        return None
    return ResultMailer(
        settings,
        sessionmaker,
        audit_enabled=settings.enable_audit_logs,
        on_outcome=None if metrics is None else metrics.count_result_email,
    )


def exam_dependencies(
    state: Any, *, loop_clock: Callable[[], float] = time.monotonic
) -> ExamDependencies:
    """What every sitting of this app shares. ``loop_clock`` is the session loop's clock (the
    socket's loop runs on the monotonic clock; a virtual-clock harness passes its own)."""
    settings: Settings = state.settings
    graders: GraderCache = state.graders or keyword_graders()
    metrics: Metrics | None = getattr(state, "metrics", None)

    def grader_for(config: ExamConfig) -> AsyncGrader:
        grader = graders.get(config.thresholds, config.llm_temperature)
        return grader if metrics is None else TimedGrader(grader, metrics)

    return ExamDependencies(
        sessionmaker=state.sessionmaker,
        grader=grader_for(ExamConfig()),
        grader_for=grader_for,
        audit_enabled=settings.enable_audit_logs,
        result_cache=state.statistics_cache,
        result_mailer=getattr(state, "result_mailer", None),
        audio=state.answer_audio,
        clock=loop_clock,
        terms=getattr(state, "term_corrector", None),
        on_turn_measured=None if metrics is None else metrics.observe_turn,
        outage=OutagePolicy(
            wait_seconds=settings.exam_outage_wait_seconds,
            retry_seconds=settings.exam_outage_retry_seconds,
            held_answers=settings.exam_outage_held_answers,
        ),
        lease=LeasePolicy(seconds=settings.sitting_lease_seconds),
    )


def service_opener(state: Any) -> ConversationOpener:
    """The production exam opener: the API's access token, the exam service, the grader."""
    settings: Settings = state.settings
    clock: WallClock = state.clock
    deps = exam_dependencies(state)

    async def signed_in(token: str) -> Authenticated:
        async with unit_of_work(state.sessionmaker) as db:
            return await authenticate(db, settings, token, now=clock())

    async def ended(user_id: int, auth_session_id: int) -> str | None:
        async with state.sessionmaker() as db:
            return await sign_in_ended(db, user_id, auth_session_id)

    return ServiceOpener(deps, signed_in, state.live_sittings, ended)


@contextmanager
def _drain_on_sigterm(state: Any, drain_seconds: float) -> Iterator[None]:
    """Under ``newspeech serve`` (uvicorn's handler owns SIGTERM): the first SIGTERM drains
    the node before uvicorn shuts it down. ``/readyz`` turns 503 and no sitting opens here any
    more; every running exam ends at its next moment between two answers, telling the
    candidate to resume (on another node, or here after the restart); after ``drain_seconds``
    the exams still in an answer are hung up (what was heard is stored). Then uvicorn's own
    shutdown runs. A second SIGTERM shuts down at once."""
    previous = signal.getsignal(signal.SIGTERM)
    if (
        drain_seconds <= 0
        or threading.current_thread() is not threading.main_thread()
        or not callable(previous)  # not under a server that handles SIGTERM
    ):
        yield
        return
    loop = asyncio.get_running_loop()
    started: list[asyncio.Task[None]] = []

    async def drain() -> None:
        state.draining = True
        running = len(state.live_sittings)
        logger.info("SIGTERM: draining %d exam(s) (at most %.0f s)", running, drain_seconds)
        still = await state.live_sittings.drain_all(drain_seconds)
        if still:
            logger.warning("draining: %d exam loop(s) did not end", still)
        previous(signal.SIGTERM, None)

    def begin() -> None:
        started.append(loop.create_task(drain()))

    def on_sigterm(sig: int, frame: FrameType | None) -> None:
        if started or not loop.is_running():
            previous(sig, frame)  # a second SIGTERM: shut down now
        else:
            loop.call_soon_threadsafe(begin)

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield
    finally:
        if signal.getsignal(signal.SIGTERM) is on_sigterm:
            signal.signal(signal.SIGTERM, previous)


async def _hang_up_sittings(live: LiveSittings) -> None:
    """Shutdown: end every running exam loop (each stores what it heard and records the
    disconnect; the candidate resumes on another node or after the restart) before the
    database closes."""
    if len(live):
        logger.info("shutting down: ending %d running exam(s)", len(live))
        if still := await live.end_all(wait_seconds=30.0):
            logger.warning("shutting down: %d exam loop(s) did not end in 30 s", still)


def warm_import_worker(app: FastAPI) -> None:
    """Start the question-import worker now, in the background, with what it parses and
    plans with imported (~2 s of CPU in a new interpreter), so the first import does not wait
    for it. For the server that will serve (``newspeech serve``); apps built in tests and
    tools start it on first use."""
    pool: ProcessPool = app.state.import_pool
    pool.warm("newspeech.questions.import_plan")


async def reconcile_spool_alone(settings: Settings) -> None:
    """Store what the answer-audio spool holds, outside an app: ``serve --workers N`` does
    it once in the parent before the workers start, so that no worker's start-up stores a
    recording another worker is storing (or replacing with a newer take) at that moment."""
    if not settings.speech_enabled or await check_encoder() is not None:
        return
    engine = create_engine(settings)
    store = audio_store_from_settings(settings)
    try:
        recorder = AnswerAudioRecorder(
            store,
            create_sessionmaker(engine),
            audit_enabled=settings.enable_audit_logs,
            spool=AudioSpool(settings.data_dir / "spool" / "answer-audio"),
        )
        await _reconcile_spool(recorder)
        await recorder.drain(wait_seconds=10.0)
    finally:
        await store.aclose()
        await engine.dispose()


async def _reconcile_spool(recorder: AnswerAudioRecorder) -> None:
    """Store the recordings a crash or an outage left in the spool, before any sitting runs.
    A failure here must not keep the exam from starting: the spool waits for the next start."""
    try:
        await recorder.reconcile()
    except Exception:
        logger.exception("answer audio spool: not reconciled; it is tried again at next start")


def _start_audio_purge(state: Any) -> asyncio.Task[None] | None:
    """The daily purge of answer audio past its retention (none when kept forever)."""
    settings: Settings = state.settings
    if settings.audio_retention_days == 0:
        return None
    return asyncio.create_task(
        purge_daily(
            state.sessionmaker,
            state.audio_store,
            retention_days=settings.audio_retention_days,
            clock=lambda: state.clock(),
            audit_enabled=settings.enable_audit_logs,
        ),
        name="answer-audio-purge",
    )


async def _exam_graders(state: Any) -> GraderCache:
    """The configured graders, one per set of grading values in use; the one for the stored
    values is built now, its models loaded (and warmed) in the inference pool so the first
    answer pays no load cost. Every grader shares the embedder and the LLM client."""
    settings: Settings = state.settings
    speech: SpeechEngines = state.speech
    async with unit_of_work(state.sessionmaker) as db:
        config = await current_config(db)
    embedder = None
    if settings.grader in ("hybrid", "llm"):
        embedder = await speech.pool.run(MiniLMEmbedder)
    graders = GraderCache(
        grader_builder(
            settings,
            embedder=embedder,
            llm_client=state.llm_client,
            run=speech.pool.runner("grading"),
        )
    )
    graders.get(config.thresholds, config.llm_temperature)
    if settings.warm_up and embedder is not None:
        started = time.perf_counter()
        await speech.pool.run(embedder.embed, [WARM_UP_TEXT])
        logger.info("grader warm in %.2f s", time.perf_counter() - started)
    return graders


def _freeze_start_up_heap() -> None:
    """Everything built at start-up lives as long as the app: out of the cyclic collector's way.
    Otherwise every full collection, set off by whatever allocates a lot (an import of 25,000
    rows), walks the whole app and its libraries again, a second and more under load, and the
    event loop waits throughout; frozen, it walks only what was made since."""
    gc.collect()
    gc.freeze()
    heap.trim()  # what loading the models read and let go of (kit.heap)


def _rate_limiter(settings: Settings) -> RateLimiter:
    if settings.redis_url:
        return RedisRateLimiter(
            Redis.from_url(settings.redis_url), prefix=f"{settings.redis_prefix}rl:"
        )
    return MemoryRateLimiter()


def _install_error_handlers(app: FastAPI) -> None:
    """Every failure answers ``{"error": code, "detail": ...}``; never a stack trace."""

    @app.exception_handler(NewSpeechError)
    async def _domain_error(request: Request, exc: NewSpeechError) -> JSONResponse:
        await _audit_failure(request, exc.code)
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
        return JSONResponse(
            status_code=exc.http_status,
            content={"error": exc.code, "detail": exc.detail},
            headers=headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        await _audit_failure(request, "validation_failed")
        detail = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type")}
            for e in exc.errors()
        ]
        return JSONResponse(
            status_code=422, content={"error": "validation_failed", "detail": detail}
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "error")
        return JSONResponse(
            status_code=exc.status_code,
            content={"error": code, "detail": exc.detail},
            headers=exc.headers,
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        if database_unavailable(exc):
            logger.warning(
                "database unavailable on %s %s: %s", request.method, request.url.path, exc
            )
            return JSONResponse(
                status_code=503,
                content={
                    "error": "database_unavailable",
                    "detail": "the database cannot be reached just now; try again shortly",
                },
                headers={"Retry-After": str(RETRY_AFTER_SECONDS), **_request_id_header()},
            )
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(
            status_code=500,
            content={"error": "internal_error", "detail": "internal server error"},
            headers=_request_id_header(),
        )


def _request_id_header() -> dict[str, str]:
    """The catch-all answers outside every middleware: it names the request id itself."""
    request_id = current_request_id()
    return {"X-Request-ID": request_id} if request_id else {}


def _error_status(exc: BaseException) -> int:
    """What ``_unexpected`` answers for ``exc``."""
    return 503 if database_unavailable(exc) else 500


async def _audit_failure(request: Request, code: str) -> None:
    """A refused change still leaves a record: its own short transaction, since the change's
    transaction was rolled back. Sign-ins record their refusals themselves."""
    if request.method not in MUTATING or not request.url.path.startswith(API_PREFIX):
        return
    if getattr(request.state, "audited", False):
        return
    state = request.app.state
    if not state.settings.enable_audit_logs:
        return
    async with unit_of_work(state.sessionmaker) as db:
        await AuditLogRepository(db).log(
            "request.refused",
            user_id=getattr(request.state, "user_id", None),
            status=code,
            # The path may be the refused input itself (a NUL in it, say): stored printable.
            details={"method": request.method, "path": printable(request.url.path[:500])},
            ip_address=request.client.host if request.client else None,
            user_agent=request.headers.get("user-agent"),
        )
