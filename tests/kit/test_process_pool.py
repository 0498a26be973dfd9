"""The worker-process pool behind question imports, with real spawned processes."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from newspeech.kit.process_pool import ProcessPool, WorkerDied


@pytest.fixture
async def pool() -> AsyncIterator[ProcessPool]:
    pool = ProcessPool()
    yield pool
    await asyncio.to_thread(pool.close)


async def test_a_call_runs_in_another_process_with_the_collector_paused(pool: ProcessPool) -> None:
    assert await pool.run(os.getpid) != os.getpid()
    assert await pool.run(gc.isenabled) is False
    assert gc.isenabled()  # this process's collector is left alone


async def test_a_warmed_pool_has_started_its_worker_and_imported_what_calls_need(
    pool: ProcessPool,
) -> None:
    loaded = "sorted(__import__('sys').modules)"
    pool.warm("newspeech.questions.import_plan")
    warmed = set(await pool.run(eval, loaded))
    assert "newspeech.questions.import_plan" in warmed

    cold = ProcessPool()
    try:
        assert "newspeech.questions.import_plan" not in await cold.run(eval, loaded)
    finally:
        await asyncio.to_thread(cold.close)


PARENT = """
import sys, time
from newspeech.kit.process_pool import ProcessPool

if __name__ == "__main__":
    pool = ProcessPool()
    pool.warm()
    print(*pool._executor._processes, flush=True)  # the worker's pid
    time.sleep(600)
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_the_worker_ends_when_the_server_process_is_killed(tmp_path: Path) -> None:
    script = tmp_path / "server.py"
    script.write_text(PARENT)
    with subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, text=True
    ) as parent:
        assert parent.stdout is not None
        worker = int(parent.stdout.readline())
        assert alive(worker)
        parent.kill()
    for _ in range(600):  # it must end; it is given a minute on a loaded box
        if not alive(worker):
            break
        time.sleep(0.1)
    assert not alive(worker)


async def test_a_worker_that_dies_under_a_call_fails_it_and_the_next_call_gets_a_new_one(
    pool: ProcessPool,
) -> None:
    first = await pool.run(os.getpid)
    with pytest.raises(WorkerDied) as died:
        await pool.run(os._exit, 1)
    assert died.value.http_status == 503
    second = await pool.run(os.getpid)
    assert second != first
    assert await pool.run(pow, 2, 10) == 1024


async def test_a_worker_killed_between_calls_is_replaced_without_failing_the_next_call(
    pool: ProcessPool,
) -> None:
    first = await pool.run(os.getpid)
    os.kill(first, signal.SIGKILL)
    # Wait until the pool has noticed (its manager thread marks it broken); the next call
    # then starts a new pool instead of failing.
    executor = pool._executor  # the pool's own state, read only to sequence the test
    assert executor is not None
    for _ in range(200):
        if executor._broken:
            break
        await asyncio.sleep(0.05)
    assert executor._broken
    assert await pool.run(pow, 3, 3) == 27
    assert await pool.run(os.getpid) != first
