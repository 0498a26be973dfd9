"""SIGTERM under ``newspeech serve``: the node drains before uvicorn's own shutdown runs."""

from __future__ import annotations

import asyncio
import os
import signal
from types import FrameType, SimpleNamespace

from newspeech.app import _drain_on_sigterm
from newspeech.exams.live import LiveSittings


class _Answering:
    """A running exam that reaches the end of its answer when ``finish`` is set."""

    def __init__(self) -> None:
        self.finish = asyncio.Event()
        self.drained = False

    def hang_up(self) -> None:
        self.finish.set()

    def drain(self) -> None:
        self.drained = True


async def test_the_first_sigterm_drains_the_node_then_hands_over_and_a_second_is_at_once() -> None:
    handed_over: list[int] = []
    handed = asyncio.Event()

    def server(sig: int, frame: FrameType | None) -> None:  # uvicorn's handle_exit
        handed_over.append(sig)
        handed.set()

    original = signal.signal(signal.SIGTERM, server)
    live = LiveSittings()
    state = SimpleNamespace(draining=False, live_sittings=live)
    exam = _Answering()
    started = asyncio.Event()

    async def run() -> None:
        with live.seat(7) as seat:
            seat.session = exam
            started.set()
            await exam.finish.wait()

    running = asyncio.create_task(run())
    await started.wait()
    try:
        with _drain_on_sigterm(state, 30.0):
            os.kill(os.getpid(), signal.SIGTERM)
            await asyncio.sleep(0.2)
            assert state.draining is True  # /readyz 503, no new sittings
            assert exam.drained is True
            assert handed_over == []  # the exam is still in its answer: the server waits
            exam.finish.set()  # ... which it reaches the end of
            await asyncio.wait_for(handed.wait(), 5.0)
            assert handed_over == [signal.SIGTERM]
            os.kill(os.getpid(), signal.SIGTERM)  # a second one goes straight through
            await asyncio.sleep(0.1)
            assert handed_over == [signal.SIGTERM, signal.SIGTERM]
        assert signal.getsignal(signal.SIGTERM) is server
    finally:
        signal.signal(signal.SIGTERM, original)
        await running


async def test_without_a_server_handling_sigterm_nothing_is_installed() -> None:
    original = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        state = SimpleNamespace(draining=False, live_sittings=LiveSittings())
        with _drain_on_sigterm(state, 30.0):
            assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
        with _drain_on_sigterm(state, 0.0):  # the drain turned off
            assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    finally:
        signal.signal(signal.SIGTERM, original)
