"""The bounded inference pool: CPU-heavy calls run here, never on the event loop."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


def default_workers() -> int:
    """One worker per core: the pool, not the number of connections, sets CPU use."""
    return max(
        1,
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1),
    )


class InferencePool:
    """A fixed set of threads shared by every exam in the process.

    ONNX Runtime and CTranslate2 release the GIL while they compute, so threads give real
    parallelism; bounding them keeps N exams from oversubscribing the cores.
    """

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or default_workers()
        self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="inference")
        self._queued = 0
        self._lock = threading.Lock()
        self.on_wait: Callable[[float], None] | None = None
        """Told, in the worker thread, how long each call waited for a thread (metrics)."""

    @property
    def queued(self) -> int:
        """Calls submitted that no thread has started yet."""
        return self._queued

    async def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
        submitted = time.perf_counter()

        def started() -> T:
            with self._lock:
                self._queued -= 1
            if self.on_wait is not None:
                self.on_wait(time.perf_counter() - submitted)
            return call()

        with self._lock:
            self._queued += 1
        try:
            future = self._executor.submit(started)
        except RuntimeError:  # the pool is closed
            with self._lock:
                self._queued -= 1
            raise
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            # Cancelled while still queued: the call never runs, so it waits no longer.
            if future.cancel():
                with self._lock:
                    self._queued -= 1
            raise

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
