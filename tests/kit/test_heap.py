"""Trimming the C heap: freed memory glibc kept goes back to the system."""

from __future__ import annotations

import asyncio
import ctypes
from pathlib import Path

import pytest

from newspeech.kit import heap

pytestmark = pytest.mark.skipif(not heap.available(), reason="the C library is not glibc")


def _rss_anon_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1])
    raise AssertionError("no RssAnon in /proc/self/status")


def _free_and_kept_mib() -> float:
    """Free bytes glibc's malloc keeps (``mallinfo2().fordblks``), in MiB."""
    return heap.account()["fordblks"] / 2**20


def _allocate_then_free(count: int = 400, size: int = 64 * 1024) -> ctypes.c_void_p:
    """Touch ``count`` blocks below the mmap threshold, keep a block above them (so free()
    cannot give the top of the heap back by itself), free the blocks; returns the keeper."""
    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    blocks = [libc.malloc(size) for _ in range(count)]
    for block in blocks:
        ctypes.memset(block, 1, size)
    keeper = ctypes.c_void_p(libc.malloc(size))  # from the top: no freed block yet
    for block in blocks:
        libc.free(block)
    return keeper


def test_trim_gives_freed_memory_back() -> None:
    keeper = _allocate_then_free()
    try:
        kept, before = _free_and_kept_mib(), _rss_anon_kib()
        assert kept >= 20  # 25 MiB freed and kept: what an exam's decode leaves behind
        assert heap.trim()
        assert before - _rss_anon_kib() >= 15 * 1024
    finally:
        ctypes.CDLL("libc.so.6").free(keeper)


async def test_trim_periodically_trims_until_cancelled() -> None:
    keeper = _allocate_then_free()
    try:
        before = _rss_anon_kib()
        trimming = asyncio.create_task(heap.trim_periodically(0.01))
        await asyncio.sleep(0.5)
        assert before - _rss_anon_kib() >= 15 * 1024
        trimming.cancel()
        with pytest.raises(asyncio.CancelledError):
            await trimming
    finally:
        ctypes.CDLL("libc.so.6").free(keeper)
