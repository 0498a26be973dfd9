"""The bounded inference pool: CPU-heavy calls run here, never on the event loop.

One pool serves every exam in the process, so when the cores are busy a call waits, and what
it waits behind decides the silence a student hears after an answer. The pool therefore runs
calls by urgency, not arrival: each call has an :class:`Urgency` (read from the caller's
context, :func:`urgency`), and the waiting call with the earliest *deadline* goes next, its
deadline being when it was submitted plus the delay its urgency allows (:data:`ALLOWED_DELAY`).

- A student's turn-critical work (the final decode of a declared turn, its grading, the first
  clause of the reply) goes before the rest of the reply, before speculative decodes of answers
  that may still go on, before background work (answer-audio encoding, phrase caching).
- Everything ages: a background call that has waited its 30 s goes before a turn-critical call
  submitted now, so nothing starves; calls of one urgency go first come, first served, so no
  exam is preferred over another.
- A call cancelled while it waits (a discarded speculative decode, a reply taken back) leaves
  the queue at once; a speculative decode whose turn is then declared is promoted
  (:meth:`Ticket.promote`) and keeps its place in time.

The pool also keeps the CPU budget: each call's CPU time on its pool thread and its busy (wall)
time are counted by the *component* it does (:func:`component`: ``vad``, ``turn``, ``decode``,
``grading``, ``tts``, ``audio_encoding`` ...) and the urgency it ran at; what a speculative call
spent for work whose turn was then declared is counted again as *kept*
(:attr:`InferencePool.on_kept`), so speculation wasted is what was spent speculatively and never
kept. Engines that compute on native threads of their own (CTranslate2's decoders, ONNX
Runtime's intra-op pool) are counted by :class:`newspeech.voice.threads.EngineThreads`; a call's
busy time is what apportions that CPU between urgencies.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import heapq
import itertools
import os
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class Urgency(IntEnum):
    TURN = 0
    """A declared turn's final decode, its grading, the reply's first clause: the student is
    waiting in silence for these."""
    REPLY = 1
    """The reply's later clauses: needed only once the clause before them has been said."""
    SPECULATIVE = 2
    """Decodes of an answer at a pause that may go on: useful only if the turn ends there."""
    BACKGROUND = 3
    """Answer-audio encoding, phrase caching: nobody is waiting."""


ALLOWED_DELAY: dict[Urgency, float] = {
    Urgency.TURN: 0.0,
    Urgency.REPLY: 0.5,
    Urgency.SPECULATIVE: 2.0,
    Urgency.BACKGROUND: 30.0,
}
"""Seconds a call of each urgency may wait behind more urgent ones before it ages past them.
The reply's next clause is needed within the ~1 s its predecessor takes to say; a speculative
decode is worth keeping for a couple of seconds of pause; background work only has to happen."""


@dataclass(frozen=True)
class Spent:
    """What calls cost: CPU seconds on the pool's thread, busy (wall) seconds, calls."""

    cpu: float = 0.0
    busy: float = 0.0
    calls: int = 0

    def __add__(self, other: Spent) -> Spent:
        return Spent(self.cpu + other.cpu, self.busy + other.busy, self.calls + other.calls)


class Ticket:
    """The urgency of one piece of work, which may rise while its calls wait."""

    def __init__(self, level: Urgency) -> None:
        self.urgency = level
        self._waiting: list[tuple[InferencePool, _Call]] = []
        self._lock = threading.Lock()
        self._speculated: list[tuple[InferencePool, str, Spent]] = []
        """CPU its calls spent speculatively, not yet known to be kept."""

    def promote(self, level: Urgency) -> None:
        """Raise the urgency (never lower it) of this work, its waiting calls included. Raised
        to :attr:`Urgency.TURN`, what it computed speculatively is kept."""
        if level >= self.urgency:
            return
        self.urgency = level
        for pool, call in self._waiting:
            pool._reprioritise(call, level)
        self._waiting = [(pool, call) for pool, call in self._waiting if call.state == _QUEUED]
        if level == Urgency.TURN:
            with self._lock:
                kept, self._speculated = self._speculated, []
            for pool, name, spent in kept:
                pool._keep(name, spent)

    def _speculated_on(self, pool: InferencePool, name: str, spent: Spent) -> None:
        """A call of this work ran speculatively (in a pool thread)."""
        with self._lock:
            if self.urgency != Urgency.TURN:
                self._speculated.append((pool, name, spent))
                return
        pool._keep(name, spent)  # its turn was declared while it ran


_ticket: contextvars.ContextVar[Ticket | None] = contextvars.ContextVar(
    "inference_ticket", default=None
)


@contextmanager
def urgency(work: Urgency | Ticket) -> Iterator[Ticket]:
    """Calls to any :class:`InferencePool` made inside this block (in this task, and in tasks
    it creates) run with this urgency; pass a :class:`Ticket` to be able to promote them."""
    ticket = work if isinstance(work, Ticket) else Ticket(work)
    token = _ticket.set(ticket)
    try:
        yield ticket
    finally:
        _ticket.reset(token)


_component: contextvars.ContextVar[str] = contextvars.ContextVar(
    "inference_component", default="other"
)


@contextmanager
def component(name: str) -> Iterator[None]:
    """Calls to any :class:`InferencePool` made inside this block count their CPU time as
    ``name``'s (in the pool's budget, :attr:`InferencePool.on_spent`)."""
    token = _component.set(name)
    try:
        yield
    finally:
        _component.reset(token)


def current_urgency() -> Urgency:
    """The urgency calls made here run with (turn-critical when none is set)."""
    ticket = _ticket.get()
    return Urgency.TURN if ticket is None else ticket.urgency


def default_workers() -> int:
    """One worker per core: the pool, not the number of connections, sets CPU use."""
    return max(
        1,
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1),
    )


_QUEUED, _RUNNING, _DONE, _CANCELLED = range(4)


@dataclass(eq=False)
class _Call:
    run: Callable[[], Any]
    urgency: Urgency
    submitted: float
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    component: str = "other"
    ticket: Ticket | None = None
    state: int = _QUEUED
    version: int = 0
    """Bumped on promotion: heap entries of older versions are stale."""
    sequence: int = field(default=0)


class PoolClosed(RuntimeError):
    """The pool was closed (the process is shutting down): the call was never run."""


class InferencePool:
    """A fixed set of threads shared by every exam in the process, run by urgency.

    ONNX Runtime and CTranslate2 release the GIL while they compute, so threads give real
    parallelism; bounding them keeps N exams from oversubscribing the cores.
    """

    def __init__(
        self, workers: int | None = None, *, clock: Callable[[], float] = time.perf_counter
    ) -> None:
        self.workers = workers or default_workers()
        self._clock = clock
        self._heap: list[tuple[float, int, int, _Call]] = []
        self._order = itertools.count()
        self._cv = threading.Condition()
        self._closed = False
        self._queued = dict.fromkeys(Urgency, 0)
        self.on_wait: Callable[[float], None] | None = None
        """Told, in the worker thread, how long each call waited for a thread (metrics)."""
        self.on_class_wait: Callable[[Urgency, float], None] | None = None
        """The same, with the call's urgency."""
        self.on_spent: Callable[[str, Urgency, Spent], None] | None = None
        """Told, in the worker thread, what each call cost, with its component and the
        urgency it ran at."""
        self.on_kept: Callable[[str, Spent], None] | None = None
        """Told what a speculative call cost once its turn is declared (the work was kept,
        not wasted)."""
        self._budget_lock = threading.Lock()
        self._spent: dict[tuple[str, Urgency], Spent] = {}
        self._kept: dict[str, Spent] = {}
        self._threads = [
            threading.Thread(target=self._work, name=f"inference_{n}", daemon=True)
            for n in range(self.workers)
        ]
        for thread in self._threads:
            thread.start()

    @property
    def queued(self) -> int:
        """Calls submitted that no thread has started yet."""
        return sum(self._queued.values())

    def queued_by(self, level: Urgency) -> int:
        """Calls of this urgency that no thread has started yet."""
        return self._queued[level]

    def spent(self) -> dict[tuple[str, Urgency], Spent]:
        """What the pool's calls cost so far, by component and the urgency they ran at."""
        with self._budget_lock:
            return dict(self._spent)

    def kept(self) -> dict[str, Spent]:
        """Of what was spent speculatively, the part whose turn was then declared."""
        with self._budget_lock:
            return dict(self._kept)

    async def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn(*args, **kwargs)`` on a pool thread, with the urgency of the caller's
        context (:func:`urgency`; turn-critical when none is set)."""
        ticket = _ticket.get()
        loop = asyncio.get_running_loop()
        call = _Call(
            run=functools.partial(contextvars.copy_context().run, fn, *args, **kwargs),
            urgency=Urgency.TURN if ticket is None else ticket.urgency,
            submitted=self._clock(),
            loop=loop,
            future=loop.create_future(),
            component=_component.get(),
            ticket=ticket,
        )
        with self._cv:
            if self._closed:
                raise PoolClosed("the inference pool is closed")
            call.sequence = next(self._order)
            self._push(call)
            if ticket is not None:
                ticket._waiting.append((self, call))
            self._cv.notify()
        try:
            result: T = await call.future
        except asyncio.CancelledError:
            # Cancelled while still queued: the call never runs, so it waits no longer.
            with self._cv:
                if call.state == _QUEUED:
                    call.state = _CANCELLED
                    self._queued[call.urgency] -= 1
            raise
        return result

    async def run_background(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """:meth:`run` as background work (nobody is waiting for it)."""
        with urgency(Urgency.BACKGROUND):
            return await self.run(fn, *args, **kwargs)

    def runner(self, name: str, *, background: bool = False) -> Callable[..., Awaitable[Any]]:
        """:meth:`run` (or :meth:`run_background`) with its CPU counted as ``name``'s: for
        code outside the voice package that is handed a way to run blocking calls."""
        run = self.run_background if background else self.run

        async def counted(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
            with component(name):
                return await run(fn, *args, **kwargs)

        return counted

    def close(self) -> None:
        """Stop taking calls, cancel those still waiting, let running ones finish."""
        with self._cv:
            self._closed = True
            for _, _, version, call in self._heap:
                if call.state == _QUEUED and version == call.version:
                    call.state = _CANCELLED
                    self._queued[call.urgency] -= 1
                    _resolve(call, cancel=True)
            self._heap.clear()
            self._cv.notify_all()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join()

    # -- inside the pool ---------------------------------------------------------------------

    def _push(self, call: _Call) -> None:
        deadline = call.submitted + ALLOWED_DELAY[call.urgency]
        heapq.heappush(self._heap, (deadline, call.sequence, call.version, call))
        self._queued[call.urgency] += 1

    def _reprioritise(self, call: _Call, level: Urgency) -> None:
        with self._cv:
            if call.state != _QUEUED or level >= call.urgency:
                return
            self._queued[call.urgency] -= 1
            call.urgency = level
            call.version += 1
            self._push(call)
            self._cv.notify()

    def _next(self) -> _Call | None:
        """The waiting call with the earliest deadline (``None`` once closed)."""
        with self._cv:
            while True:
                while self._heap:
                    _, _, version, call = heapq.heappop(self._heap)
                    if call.state == _QUEUED and version == call.version:
                        call.state = _RUNNING
                        self._queued[call.urgency] -= 1
                        return call
                if self._closed:
                    return None
                self._cv.wait()

    def _work(self) -> None:
        while (call := self._next()) is not None:
            waited = self._clock() - call.submitted
            if self.on_wait is not None:
                self.on_wait(waited)
            if self.on_class_wait is not None:
                self.on_class_wait(call.urgency, waited)
            urgency_run = call.urgency
            started, cpu_started = time.perf_counter(), time.thread_time()
            try:
                result = call.run()
            except BaseException as exc:  # handed to the caller, as an executor does
                _resolve(call, error=exc)
            else:
                _resolve(call, result=result)
            call.state = _DONE
            cost = Spent(time.thread_time() - cpu_started, time.perf_counter() - started, 1)
            self._count(call, urgency_run, cost)

    def _count(self, call: _Call, level: Urgency, cost: Spent) -> None:
        with self._budget_lock:
            key = (call.component, level)
            self._spent[key] = self._spent.get(key, Spent()) + cost
        if self.on_spent is not None:
            self.on_spent(call.component, level, cost)
        if level == Urgency.SPECULATIVE and call.ticket is not None:
            call.ticket._speculated_on(self, call.component, cost)

    def _keep(self, name: str, cost: Spent) -> None:
        with self._budget_lock:
            self._kept[name] = self._kept.get(name, Spent()) + cost
        if self.on_kept is not None:
            self.on_kept(name, cost)


def _resolve(
    call: _Call, *, result: Any = None, error: BaseException | None = None, cancel: bool = False
) -> None:
    def settle() -> None:
        if call.future.done():
            return
        if cancel:
            call.future.cancel()
        elif error is not None:
            call.future.set_exception(error)
        else:
            call.future.set_result(result)

    # The caller's loop may be closed: then nobody is waiting any more.
    with contextlib.suppress(RuntimeError):
        call.loop.call_soon_threadsafe(settle)
