"""The running-connection register: takeover of a candidate's older connection, and ending
every loop at shutdown."""

from __future__ import annotations

import asyncio

from newspeech.exams.live import LiveSittings


class _Loop:
    """A session loop that finishes ``finish_after`` seconds after it is hung up."""

    def __init__(self, live: LiveSittings, candidate: int | None, finish_after: float) -> None:
        self.hung_up = asyncio.Event()
        self._live = live
        self._candidate = candidate
        self._finish_after = finish_after

        self.drained = asyncio.Event()
        self.between_answers = asyncio.Event()
        """Set when the loop reaches a moment between two answers: a drain ends it there."""

    def hang_up(self) -> None:
        self.hung_up.set()

    def drain(self) -> None:
        self.drained.set()

    async def _until_ended(self) -> None:
        hung_up = asyncio.create_task(self.hung_up.wait())
        drained = asyncio.create_task(self._drained_between_answers())
        await asyncio.wait([hung_up, drained], return_when=asyncio.FIRST_COMPLETED)
        hung_up.cancel()
        drained.cancel()

    async def _drained_between_answers(self) -> None:
        await self.drained.wait()
        await self.between_answers.wait()

    async def run(self, started: asyncio.Event) -> None:
        with self._live.seat(self._candidate) as seat:
            seat.session = self
            started.set()
            await self._until_ended()
            await asyncio.sleep(self._finish_after)


async def _start(live: LiveSittings, loop: _Loop) -> asyncio.Task[None]:
    started = asyncio.Event()
    task = asyncio.create_task(loop.run(started))
    await started.wait()
    return task


async def test_end_all_hangs_up_every_loop_and_waits_until_they_have_finished() -> None:
    live = LiveSittings()
    loops = [_Loop(live, 1, 0.05), _Loop(live, None, 0.01)]
    tasks = [await _start(live, loop) for loop in loops]
    assert len(live) == 2

    assert await live.end_all(wait_seconds=5.0) == 0

    assert all(loop.hung_up.is_set() for loop in loops)
    assert all(task.done() for task in tasks)
    assert len(live) == 0


async def test_end_all_gives_up_after_its_wait_and_says_how_many_still_run() -> None:
    live = LiveSittings()
    slow = _Loop(live, 7, 10.0)
    task = await _start(live, slow)

    assert await live.end_all(wait_seconds=0.05) == 1

    assert slow.hung_up.is_set()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert len(live) == 0


async def test_opening_again_takes_the_older_connection_over_once_it_has_finished() -> None:
    live = LiveSittings()
    older = _Loop(live, 3, 0.05)
    task = await _start(live, older)

    async with live.opening(3):
        assert older.hung_up.is_set()
        assert task.done()
        with live.seat(3) as seat:
            assert len(live) == 1
            assert not seat.taken_over
    assert len(live) == 0


async def test_end_all_with_nothing_running_returns_at_once() -> None:
    assert await LiveSittings().end_all(wait_seconds=0.01) == 0


async def test_drain_all_ends_loops_between_answers_and_hangs_up_the_rest_after_the_wait() -> None:
    live = LiveSittings()
    idle, answering, stuck = (_Loop(live, n, 0.01) for n in (1, 2, 3))
    idle.between_answers.set()
    tasks = [await _start(live, loop) for loop in (idle, answering, stuck)]

    draining = asyncio.create_task(live.drain_all(wait_seconds=0.5))
    await asyncio.sleep(0.1)
    assert tasks[0].done()  # between answers: ended at once
    assert not tasks[1].done()
    answering.between_answers.set()  # its answer is heard out
    await asyncio.sleep(0.1)
    assert tasks[1].done()
    assert not stuck.hung_up.is_set()

    assert await draining == 0  # the last one was hung up once the wait was over
    assert all(loop.drained.is_set() for loop in (idle, answering, stuck))
    assert stuck.hung_up.is_set()
    assert not idle.hung_up.is_set()
    assert not answering.hung_up.is_set()
    assert len(live) == 0
