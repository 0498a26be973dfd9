"""Drive an :class:`VoiceLoop` frame by frame on a virtual clock, with real engines.

The wire is an in-memory inbox/outbox: ``push`` hands the loop one message and returns once
the loop has processed it (it is back waiting for the next one), so a test knows exactly which
frame caused what. Virtual time advances 32 ms per frame; inference runs for real in the pool.

Same audio in, same result out: before virtual time moves, the harness waits (in real time)
until the loop has nothing left to do at this instant — the receiver waits for the next frame
and the examiner, if any, waits on the clock (pacing its speech) rather than on an engine or
the database. Frames go in as fast as the engines take them, so turn boundaries, barge-ins,
transcripts and marks are the same on every run, on any machine load and every backend.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import numpy as np

from newspeech.voice.conversation import Control, Conversation
from newspeech.voice.protocols import PCM16, SAMPLE_RATE
from newspeech.voice.session import Inbound, LoopSettings, SessionEngines, VoiceLoop
from tests.fixtures.virtual_clock import VirtualClock

FRAME = 512
FRAME_SECONDS = FRAME / SAMPLE_RATE
REAL_TIMEOUT = 180.0
"""Real seconds a test may wait on real inference before it is declared stuck."""
C = TypeVar("C", bound=Conversation)


def silence(seconds: float) -> PCM16:
    return np.zeros(round(seconds * SAMPLE_RATE), dtype=np.int16)


@dataclass
class Wire:
    clock: VirtualClock
    log: list[tuple[float, str, Any]] = field(default_factory=list)
    """(virtual time, "event" | "audio", the event or the PCM bytes), in sending order."""
    _queue: asyncio.Queue[Inbound | None] = field(default_factory=asyncio.Queue)
    _idle: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def idle(self) -> bool:
        """The loop has taken every pushed message and waits for the next."""
        return self._idle.is_set() and self._queue.empty()

    async def receive(self) -> Inbound | None:
        if self._queue.empty():
            self._idle.set()
        message = await self._queue.get()
        self._idle.clear()
        return message

    async def push(self, message: Inbound | None) -> None:
        self._idle.clear()
        self._queue.put_nowait(message)
        if message is not None:
            await asyncio.wait_for(self._idle.wait(), REAL_TIMEOUT)

    async def send_event(self, event: Mapping[str, Any]) -> None:
        self.log.append((self.clock.now(), "event", dict(event)))

    async def send_audio(self, pcm: bytes) -> None:
        self.log.append((self.clock.now(), "audio", pcm))

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        return [e for _, what, e in self.log if what == "event" and kind in (None, e["type"])]

    def types(self) -> list[str]:
        return [e["type"] for e in self.events()]


@dataclass
class Exam(Generic[C]):
    session: VoiceLoop
    conversation: C
    wire: Wire
    clock: VirtualClock
    task: asyncio.Task[str]

    async def play(self, pcm: PCM16) -> None:
        """Stream ``pcm`` in real-time-sized frames, advancing virtual time per frame."""
        for start in range(0, pcm.size, FRAME):
            chunk = pcm[start : start + FRAME]
            if chunk.size < FRAME:
                chunk = np.pad(chunk, (0, FRAME - chunk.size))
            if not await self._push(chunk.astype("<i2").tobytes()):
                return
            await self.settle()
            await self.clock.advance(FRAME_SECONDS, settle=self.settle)
            if self.task.done():
                return

    async def _push(self, message: bytes) -> bool:
        """Push ``message`` and wait until the loop takes it; False if the loop ended first
        (its tasks may still be winding down when the previous frame looked quiet)."""
        pushed = asyncio.ensure_future(self.wire.push(message))
        await asyncio.wait({pushed, self.task}, return_when=asyncio.FIRST_COMPLETED)
        if pushed.done():
            pushed.result()
            return True
        pushed.cancel()
        return False

    def _quiet(self) -> bool:
        examiner = self.session.examiner
        return self.wire.idle and (
            examiner is None or examiner.done() or self.clock.is_sleeping(examiner)
        )

    async def settle(self) -> None:
        """Wait (real time) until nothing is left to do at this virtual instant."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + REAL_TIMEOUT
        while True:
            for _ in range(3):
                await asyncio.sleep(0)
            if self.task.done() or self._quiet():
                return
            assert loop.time() < deadline, f"stuck: {self.wire.types()}"
            await asyncio.sleep(0.001)

    async def wait_until(self, condition: Callable[[], bool], *, max_seconds: float = 60.0) -> None:
        """Stream silence until ``condition`` holds; fails after ``max_seconds`` of virtual time
        (or REAL_TIMEOUT of real time)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + REAL_TIMEOUT
        waited = 0.0
        while not condition():
            assert waited < max_seconds, f"not reached in {max_seconds} s: {self.wire.types()}"
            assert loop.time() < deadline, f"stuck: {self.wire.types()}"
            if self.task.done():
                self.task.result()
                raise AssertionError(f"the session ended first: {self.wire.types()}")
            await self.play(silence(FRAME_SECONDS))
            waited += FRAME_SECONDS

    async def wait_for_event(self, kind: str, count: int = 1, **kw: float) -> dict[str, Any]:
        await self.wait_until(lambda: len(self.wire.events(kind)) >= count, **kw)
        return self.wire.events(kind)[count - 1]

    async def control(self, command: Control) -> None:
        await self.wire.push(command)
        await self.settle()

    async def close(self) -> str:
        await self.wire.push(None)
        return await asyncio.wait_for(self.task, REAL_TIMEOUT)


def start_exam(
    engines: SessionEngines,
    conversation: C,
    settings: LoopSettings | None = None,
    clock: VirtualClock | None = None,
) -> Exam[C]:
    """Run ``conversation``'s loop on ``clock`` (a new virtual clock unless given: the real
    exam measures its turns on the loop's clock, so it is built with the same one)."""
    clock = clock or VirtualClock()
    wire = Wire(clock)
    session = VoiceLoop(conversation, engines, settings or LoopSettings(), clock, wire)
    task = asyncio.create_task(session.run(wire))
    return Exam(session, conversation, wire, clock, task)
