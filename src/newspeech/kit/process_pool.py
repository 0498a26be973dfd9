"""A pool of worker processes for pure-Python CPU work (parsing and planning a question import).

Threads do not help there: pure-Python code holds the GIL, and an event loop sharing the GIL with
a busy thread waits up to the switch interval at every hand-over, so every request on the server
slows down for as long as the work lasts. A worker process has its own interpreter. Workers are
started on first use (``spawn``: no copy of the server's threads or open sockets) and kept, or
ahead of it with :meth:`ProcessPool.warm`, which also imports what the calls will need: a worker
starts a new interpreter, so its first call otherwise pays for both.

In a worker the cyclic garbage collector is paused for the length of a call: a call builds tens of
thousands of objects that all live until it returns, and the collector would walk them again and
again as they pile up (half the time of parsing a 25,000-row file). Reference counting still
frees everything; the collector catches up once the call is over.

A worker that dies (killed, out of memory) breaks the pool. The next call starts a new pool; a
call whose worker died under it fails with :class:`WorkerDied` rather than being tried again,
since the work itself may be what killed it.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import importlib
import multiprocessing
import multiprocessing.connection
import os
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, ParamSpec, TypeVar

from newspeech.errors import NewSpeechError

P = ParamSpec("P")
T = TypeVar("T")


class WorkerDied(NewSpeechError):
    """The worker process ended while it worked on the call (killed, or out of memory)."""

    code = "worker_died"
    http_status = 503


class ProcessPool:
    """Runs picklable functions in up to ``workers`` processes."""

    def __init__(self, workers: int = 1) -> None:
        self.workers = workers
        self._executor: ProcessPoolExecutor | None = None

    async def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        call = functools.partial(_without_collector, fn, args, kwargs)
        loop = asyncio.get_running_loop()
        try:
            future = loop.run_in_executor(self._pool(), call)
        except BrokenProcessPool:  # a worker died between calls: a new pool for this one
            self._discard()
            future = loop.run_in_executor(self._pool(), call)
        try:
            return await future
        except BrokenProcessPool as exc:
            self._discard()
            raise WorkerDied(
                "the worker process ended while it worked on this request; try again, and if "
                "it happens again the input is too much for the server"
            ) from exc

    def warm(self, *modules: str) -> None:
        """Start the workers now and import ``modules`` in them, without waiting: the
        processes start and import in the background (no event loop is needed or blocked), so
        the first call finds them ready."""
        pool = self._pool()
        for _ in range(self.workers):
            pool.submit(_import, modules)

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            context = multiprocessing.get_context("spawn")
            self._executor = ProcessPoolExecutor(
                self.workers, mp_context=context, initializer=_follow_parent
            )
        return self._executor

    def _discard(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None


def _without_collector(fn: Callable[..., T], args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> T:
    """``fn(*args, **kwargs)`` with the cyclic collector paused (in the worker process)."""
    gc.disable()
    try:
        return fn(*args, **kwargs)
    finally:
        gc.enable()


def _follow_parent() -> None:
    """In the worker: exit when the server process ends, however it ends. A worker waits for
    calls on a pipe the pool's threads hold, and outlives a parent killed with ``kill -9``."""
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with, args=(parent.sentinel,), daemon=True).start()


def _exit_with(sentinel: int) -> None:
    multiprocessing.connection.wait([sentinel])
    os._exit(1)


def _import(modules: tuple[str, ...]) -> None:
    """Import ``modules`` (in the worker process)."""
    for name in modules:
        importlib.import_module(name)
