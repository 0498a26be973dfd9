"""CPU time of the native threads the speech engines compute on, by component.

A pool thread that calls faster-whisper mostly waits: CTranslate2 decodes on worker threads of
its own, and ONNX Runtime (Piper) splits a synthesis over an intra-op pool. Those threads are
started in native code when an engine is loaded, so they are claimed then: the threads that
appear while :meth:`EngineThreads.claim` is open, and that Python did not start, belong to
that component. Their CPU time is read from ``/proc/self/task/<tid>/stat`` (Linux; elsewhere
nothing is known and every figure is empty). The event loop's own CPU is the main thread's.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_TASKS = Path("/proc/self/task")
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _native_ids() -> set[int]:
    """The process's threads now (empty where /proc is not there)."""
    try:
        return {int(name) for name in os.listdir(_TASKS)}
    except OSError:
        return set()


def thread_cpu_seconds(native_id: int) -> float | None:
    """User + system CPU seconds of one of this process's threads (None once it is gone)."""
    try:
        stat = (_TASKS / str(native_id) / "stat").read_text()
    except OSError:
        return None
    # Fields after the command name (which may hold spaces), from the third: utime is the
    # 14th field of the line, stime the 15th.
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


class EngineThreads:
    """Which native threads each engine computes on, and their CPU time so far."""

    def __init__(self) -> None:
        self._owners: dict[int, str] = {}
        self._gone: dict[str, float] = {}
        self._last: dict[int, float] = {}
        self._lock = threading.Lock()

    @contextmanager
    def claim(self, component: str) -> Iterator[None]:
        """Threads that native code starts inside this block compute ``component``."""
        before = _native_ids()
        try:
            yield
        finally:
            python = {t.native_id for t in threading.enumerate() if t.native_id is not None}
            with self._lock:
                for native_id in _native_ids() - before - python:
                    self._owners.setdefault(native_id, component)

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds of the claimed threads by component (threads that ended included)."""
        with self._lock:
            totals = dict(self._gone)
            for native_id, component in list(self._owners.items()):
                seconds = thread_cpu_seconds(native_id)
                if seconds is None:  # ended: keep what it had used when last read
                    del self._owners[native_id]
                    seconds = self._last.pop(native_id, 0.0)
                    self._gone[component] = self._gone.get(component, 0.0) + seconds
                else:
                    self._last[native_id] = seconds
                totals[component] = totals.get(component, 0.0) + seconds
            return totals


def event_loop_cpu_seconds() -> float | None:
    """CPU seconds of the main thread (where the server's event loop runs)."""
    native_id = threading.main_thread().native_id
    return None if native_id is None else thread_cpu_seconds(native_id)
