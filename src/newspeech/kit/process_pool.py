"""A pool of worker processes for pure-Python CPU work (parsing and planning a question import).

Threads do not help there: pure-Python code holds the GIL, and an event loop sharing the GIL with
a busy thread waits up to the switch interval at every hand-over, so every request on the server
slows down for as long as the work lasts. A worker process has its own interpreter. Workers are
started on first use (``spawn``: no copy of the server's threads or open sockets) and kept.
"""

from __future__ import annotations

import asyncio
import functools
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class ProcessPool:
    """Runs picklable functions in up to ``workers`` processes."""

    def __init__(self, workers: int = 1) -> None:
        self.workers = workers
        self._executor: ProcessPoolExecutor | None = None

    async def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        if self._executor is None:
            context = multiprocessing.get_context("spawn")
            self._executor = ProcessPoolExecutor(self.workers, mp_context=context)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
