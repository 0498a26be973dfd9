"""The process's Prometheus metrics, in one registry built by ``create_app`` (never a global).

Names: the database series carry the names the specification gives them
(``db_query_duration_seconds``, ``db_errors_total``), the HTTP ones the usual
``http_requests_total`` / ``http_request_duration_seconds``; everything else NewSpeech measures
is prefixed ``newspeech_``. Labels are bounded: a route is its template (``/api/v1/users/{id}``),
never the raw path, and a request no route matched is counted under ``unmatched``.

Under ``serve --workers N`` every worker writes its values to files in one folder
(prometheus-client's multiprocess mode, :mod:`newspeech.observability.workers`), and a scrape,
whichever worker answers it, reads all of them: counters and histograms add up, each gauge
says how its workers' values combine (``multiprocess_mode``). Values read by callback (active
sittings, queue lengths, free disk) are copied into those files every second by each worker.
"""

from __future__ import annotations

import functools
import math
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Literal

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector

from newspeech import __version__
from newspeech.observability import workers
from newspeech.voice.pool import InferencePool, Spent, Urgency
from newspeech.voice.threads import EngineThreads, event_loop_cpu_seconds

CONTENT_TYPE = CONTENT_TYPE_LATEST

# Spoken-turn latencies: the architecture's goal is well under a second; a slow box takes seconds.
TURN_BUCKETS = (0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)
# Engine calls: a VAD frame or a cached phrase takes a millisecond, a long decode seconds.
ENGINE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
DB_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)
POOL_BUCKETS = (0.0001, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

Combine = Literal["livesum", "livemax", "livemostrecent", "max"]
"""How a gauge's values from several workers make one (prometheus-client's
``multiprocess_mode``; ignored in one process): ``livesum`` adds the running workers' values
(sittings, connections, queues), ``livemax`` / ``livemostrecent`` keep one of them (the same
disk, the last database ping), ``max`` also remembers exited workers (the build)."""


class Metrics:
    """Every series the app exports. Instruments call the ``observe_*`` / ``count_*`` methods;
    values read at scrape time (active sittings, queue lengths, free disk) are registered as
    callbacks with :meth:`watch_*`.

    ``multiprocess_dir``: the folder every worker of ``serve --workers N`` writes to (the
    process must have been started with ``PROMETHEUS_MULTIPROC_DIR`` naming it, which
    prometheus-client reads when it is first imported); None in one process."""

    def __init__(self, multiprocess_dir: Path | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.multiprocess_dir = multiprocess_dir
        self._sampled: list[tuple[Gauge, Callable[[], float]]] = []
        r = self.registry
        # process_cpu_seconds_total, process_resident_memory_bytes ...: with the pools' CPU
        # counters below, the CPU budget of an exam (bench/latency.py reads both). Read from
        # /proc for this process alone, so not exported with workers.
        ProcessCollector(registry=r)
        self._gauge(
            "newspeech_build_info", "Version of the running app", "max", ["version"]
        ).labels(__version__).set(1)
        self.http_requests = Counter(
            "http_requests",
            "HTTP requests answered, by route template and status",
            ["method", "route", "status"],
            registry=r,
        )
        self.http_duration = Histogram(
            "http_request_duration_seconds",
            "Time to answer an HTTP request (to the end of its body)",
            ["method", "route"],
            buckets=HTTP_BUCKETS,
            registry=r,
        )
        self.websockets = self._gauge(
            "newspeech_websocket_connections", "Open WebSocket connections", "livesum"
        )
        self.turn_response = Histogram(
            "newspeech_turn_response_seconds",
            "A spoken turn's response latency: turn declared to the first examiner audio sent",
            buckets=TURN_BUCKETS,
            registry=r,
        )
        self.turn_voice_to_voice = Histogram(
            "newspeech_turn_voice_to_voice_seconds",
            "A spoken turn's voice-to-voice latency: the student's last voiced frame to the "
            "first examiner audio sent",
            buckets=TURN_BUCKETS,
            registry=r,
        )
        self.asr = Histogram(
            "newspeech_asr_seconds",
            "One transcription, wall time (includes the wait for an inference thread)",
            buckets=ENGINE_BUCKETS,
            registry=r,
        )
        self.tts_first_audio = Histogram(
            "newspeech_tts_first_audio_seconds",
            "One synthesis (cache misses only): request to its first audio chunk",
            buckets=ENGINE_BUCKETS,
            registry=r,
        )
        self.grading = Histogram(
            "newspeech_grading_seconds",
            "Grading one answer, wall time",
            buckets=ENGINE_BUCKETS,
            registry=r,
        )
        self.pool_wait = Histogram(
            "newspeech_inference_wait_seconds",
            "Time a call waited for a thread of an inference pool",
            ["pool"],
            buckets=POOL_BUCKETS,
            registry=r,
        )
        self._pool_queue = self._gauge(
            "newspeech_inference_queue_length",
            "Calls waiting for a thread of an inference pool",
            "livesum",
            ["pool"],
        )
        self.pool_class_wait = Histogram(
            "newspeech_inference_urgency_wait_seconds",
            "Time a call waited for a thread of an inference pool, by the call's urgency "
            "(turn, reply, speculative, background)",
            ["pool", "urgency"],
            buckets=POOL_BUCKETS,
            registry=r,
        )
        self.pool_cpu = Counter(
            "newspeech_inference_cpu_seconds",
            "CPU time an inference pool's own threads spent, by component (vad, turn, decode, "
            "grading, tts, audio_encoding, other) and the urgency the call ran at",
            ["pool", "component", "urgency"],
            registry=r,
        )
        self.pool_busy = Counter(
            "newspeech_inference_busy_seconds",
            "Wall time an inference pool's threads were running calls, by component and urgency",
            ["pool", "component", "urgency"],
            registry=r,
        )
        self.pool_kept_cpu = Counter(
            "newspeech_inference_speculative_kept_cpu_seconds",
            "Of the pool-thread CPU time spent at speculative urgency, the part whose turn was "
            "then declared (kept); the rest was wasted",
            ["pool", "component"],
            registry=r,
        )
        self.pool_kept_busy = Counter(
            "newspeech_inference_speculative_kept_busy_seconds",
            "Of the busy time spent at speculative urgency, the part whose turn was then declared",
            ["pool", "component"],
            registry=r,
        )
        self._pool_class_queue = self._gauge(
            "newspeech_inference_urgency_queue_length",
            "Calls waiting for a thread of an inference pool, by urgency",
            "livesum",
            ["pool", "urgency"],
        )
        self._active_sittings = self._gauge(
            "newspeech_active_sittings", "Exam sittings running on this node", "livesum"
        )
        self._audio_free = self._gauge(
            "newspeech_audio_disk_free_bytes",
            "Free space on the file system holding the local answer-audio store",
            "livemax",
        )
        self._audio_size = self._gauge(
            "newspeech_audio_disk_size_bytes",
            "Size of the file system holding the local answer-audio store",
            "livemax",
        )
        self.database_up = self._gauge(
            "newspeech_database_up",
            "1 when the database answered a ping at the last scrape, else 0",
            "livemostrecent",
        )
        self.db_duration = Histogram(
            "db_query_duration_seconds",
            "One database statement, by its first keyword (select, insert, update ...)",
            ["operation"],
            buckets=DB_BUCKETS,
            registry=r,
        )
        self.db_errors = Counter(
            "db_errors",
            "Failed database statements and connections; kind 'unavailable' when the database "
            "could not be reached, else 'query'",
            ["kind"],
            registry=r,
        )
        self.result_emails = Counter(
            "newspeech_result_emails",
            "Result e-mails by outcome: sent, failed (given up after its retries), skipped (the "
            "student has no address)",
            ["outcome"],
            registry=r,
        )

    def count_result_email(self, outcome: str) -> None:
        """A result e-mail sent, given up after its retries ("failed"), or not sent for want
        of an address ("skipped")."""
        self.result_emails.labels(outcome).inc()

    def observe_turn(self, latency_ms: Mapping[str, float]) -> None:
        """One answered turn's figures, as :meth:`TurnTimings.milliseconds` gives them."""
        if (response := latency_ms.get("response_ms")) is not None:
            self.turn_response.observe(response / 1000.0)
        if (voice := latency_ms.get("voice_to_voice_ms")) is not None:
            self.turn_voice_to_voice.observe(voice / 1000.0)

    def watch_active_sittings(self, count: Callable[[], int]) -> None:
        self._watch(self._active_sittings, lambda: float(count()))

    def watch_pool(self, name: str, pool: InferencePool) -> None:
        """The pool's queue length (read at each scrape) and each call's wait for a thread."""
        self._watch(self._pool_queue.labels(name), lambda: float(pool.queued))
        pool.on_wait = self.pool_wait.labels(name).observe
        waits = {level: self.pool_class_wait.labels(name, level.name.lower()) for level in Urgency}
        for level in Urgency:
            self._watch(
                self._pool_class_queue.labels(name, level.name.lower()),
                functools.partial(lambda level: float(pool.queued_by(level)), level),
            )
        pool.on_class_wait = lambda level, seconds: waits[level].observe(seconds)

        def spent(part: str, level: Urgency, cost: Spent) -> None:
            self.pool_cpu.labels(name, part, level.name.lower()).inc(cost.cpu)
            self.pool_busy.labels(name, part, level.name.lower()).inc(cost.busy)

        def kept(part: str, cost: Spent) -> None:
            self.pool_kept_cpu.labels(name, part).inc(cost.cpu)
            self.pool_kept_busy.labels(name, part).inc(cost.busy)

        pool.on_spent, pool.on_kept = spent, kept

    def watch_engine_threads(self, threads: EngineThreads) -> None:
        """The CPU time of the engines' native threads and of the event loop (read at each
        scrape from this process's /proc, so not exported with workers)."""
        self.registry.register(_ThreadCpuCollector(threads))

    def watch_audio_disk(self, folder: Path) -> None:
        """Free and total bytes where ``folder`` lives (read at each scrape; NaN while it
        cannot be read, rather than a failed scrape)."""

        def usage(field: str) -> float:
            try:
                return float(getattr(shutil.disk_usage(folder), field))
            except OSError:
                return math.nan

        self._watch(self._audio_free, lambda: usage("free"))
        self._watch(self._audio_size, lambda: usage("total"))

    def sample(self) -> None:
        """With workers: copy the values read by callback into this worker's files (every
        second, and before a scrape this worker answers)."""
        for gauge, read in self._sampled:
            gauge.set(read())

    def exposition(self) -> bytes:
        """The registry in the Prometheus text format; with workers, every worker's values."""
        if self.multiprocess_dir is None:
            return generate_latest(self.registry)
        self.sample()
        return workers.exposition(self.multiprocess_dir)

    def _gauge(
        self, name: str, documentation: str, combine: Combine, labels: Sequence[str] = ()
    ) -> Gauge:
        return Gauge(name, documentation, labels, registry=self.registry, multiprocess_mode=combine)

    def _watch(self, gauge: Gauge, read: Callable[[], float]) -> None:
        """``gauge`` reads ``read()`` at each scrape (with workers: at each sample)."""
        if self.multiprocess_dir is None:
            gauge.set_function(read)
        else:
            self._sampled.append((gauge, read))


class _ThreadCpuCollector(Collector):
    """Counters read from /proc at scrape time: engine threads by component, the event loop."""

    def __init__(self, threads: EngineThreads) -> None:
        self._threads = threads

    def collect(self) -> Iterator[Metric]:
        engines = CounterMetricFamily(
            "newspeech_engine_thread_cpu_seconds",
            "CPU time of the native threads the speech engines compute on (CTranslate2's "
            "decoders, ONNX Runtime's intra-op pools), by component",
            labels=["component"],
        )
        for component, seconds in sorted(self._threads.cpu_seconds().items()):
            engines.add_metric([component], seconds)
        yield engines
        loop = CounterMetricFamily(
            "newspeech_event_loop_cpu_seconds",
            "CPU time of the main thread, where the event loop runs the WebSocket edge, the "
            "session loops and the database calls",
        )
        if (main := event_loop_cpu_seconds()) is not None:
            loop.add_metric([], main)
        yield loop

    def describe(self) -> Iterator[Metric]:
        return iter(())
