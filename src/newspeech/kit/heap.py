"""Give the C heap's free memory back to the system now and then.

glibc's malloc keeps what the process frees for reuse, and from its per-thread arenas it
returns almost none of it by itself. An exam server frees a lot: each decode, each synthesised
clause and each grading allocates tens of MB of model tensors and audio buffers on a pool
thread and frees them a moment later. Measured on the exam server (bench/exam_memory.py):
one exam left RSS 230 MB higher than the warm idle server, 147 MB of it free memory malloc
kept, not memory in use. :func:`trim` (``malloc_trim(0)``) hands every arena's free pages back;
:func:`trim_periodically` does so every few seconds, off the event loop. Memory freed and
reused within the period is not trimmed, so the cost is a few page faults per period.

Elsewhere than glibc (musl, macOS) there is nothing to call and both do nothing.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import functools
from collections.abc import Callable

TRIM_SECONDS = 2.0
"""How often :func:`trim_periodically` trims: about the time a freed decode's buffers wait
before the next decode reuses them under load."""


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        function = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    function.argtypes = [ctypes.c_size_t]
    function.restype = ctypes.c_int
    trim: Callable[[int], int] = function
    return trim


def available() -> bool:
    """Whether this process's C library can trim its heap (glibc)."""
    return _malloc_trim() is not None


def trim() -> bool:
    """Return the C heap's free pages to the system; whether any were returned."""
    function = _malloc_trim()
    return bool(function is not None and function(0))


async def trim_periodically(seconds: float = TRIM_SECONDS) -> None:
    """Trim every ``seconds``, in a thread (a trim locks each arena in turn for a moment, but
    never the event loop), until cancelled."""
    if not available():
        return
    while True:
        await asyncio.sleep(seconds)
        await asyncio.to_thread(trim)


_MALLINFO2_FIELDS = (
    "arena",
    "ordblks",
    "smblks",
    "hblks",
    "hblkhd",
    "usmblks",
    "fsmblks",
    "uordblks",
    "fordblks",
    "keepcost",
)


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in _MALLINFO2_FIELDS]


def account() -> dict[str, int]:
    """glibc's own account of the C heap (``mallinfo2``): ``arena`` (bytes from sbrk and
    arenas), ``hblkhd`` (mmapped blocks), ``uordblks`` (in use), ``fordblks`` (free, kept by
    malloc) ...; empty elsewhere than glibc. What the tests and ``bench/exam_memory.py`` read."""
    name = ctypes.util.find_library("c")
    if name is None or not available():
        return {}
    function = ctypes.CDLL(name).mallinfo2
    function.restype = _MallInfo2
    info = function()
    return {field: int(getattr(info, field)) for field in _MALLINFO2_FIELDS}
