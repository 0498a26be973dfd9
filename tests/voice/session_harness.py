"""Drive an :class:`ExamSession` frame by frame on a virtual clock, with real engines.

The wire is an in-memory inbox/outbox: ``push`` hands the loop one message and returns once
the loop has processed it (it is back waiting for the next one), so a test knows exactly which
frame caused what. Virtual time advances 32 ms per frame; inference runs for real in the pool.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from newspeech.voice.conversation import Control
from newspeech.voice.protocols import PCM16, SAMPLE_RATE
from newspeech.voice.session import ExamSession, Inbound, LoopSettings, SessionEngines
from tests.fixtures.scripted_conversation import ScriptedConversation
from tests.fixtures.virtual_clock import VirtualClock

FRAME = 512
FRAME_SECONDS = FRAME / SAMPLE_RATE
REAL_TIMEOUT = 180.0
"""Real seconds a test may wait on real inference before it is declared stuck."""


def silence(seconds: float) -> PCM16:
    return np.zeros(round(seconds * SAMPLE_RATE), dtype=np.int16)


@dataclass
class Wire:
    clock: VirtualClock
    log: list[tuple[float, str, Any]] = field(default_factory=list)
    """(virtual time, "event" | "audio", the event or the PCM bytes), in sending order."""
    _queue: asyncio.Queue[Inbound | None] = field(default_factory=asyncio.Queue)
    _idle: asyncio.Event = field(default_factory=asyncio.Event)

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
class Exam:
    session: ExamSession
    conversation: ScriptedConversation
    wire: Wire
    clock: VirtualClock
    task: asyncio.Task[str]

    async def play(self, pcm: PCM16) -> None:
        """Stream ``pcm`` in real-time-sized frames, advancing virtual time per frame."""
        for start in range(0, pcm.size, FRAME):
            chunk = pcm[start : start + FRAME]
            if chunk.size < FRAME:
                chunk = np.pad(chunk, (0, FRAME - chunk.size))
            await self.wire.push(chunk.astype("<i2").tobytes())
            await self.clock.advance(FRAME_SECONDS)
            if self.task.done():
                return

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
            await asyncio.sleep(0.002)  # real inference (TTS, STT) gets real time to finish

    async def wait_for_event(self, kind: str, count: int = 1, **kw: float) -> dict[str, Any]:
        await self.wait_until(lambda: len(self.wire.events(kind)) >= count, **kw)
        return self.wire.events(kind)[count - 1]

    async def control(self, command: Control) -> None:
        await self.wire.push(command)

    async def close(self) -> str:
        await self.wire.push(None)
        return await asyncio.wait_for(self.task, REAL_TIMEOUT)


def start_exam(
    engines: SessionEngines,
    conversation: ScriptedConversation,
    settings: LoopSettings | None = None,
) -> Exam:
    clock = VirtualClock()
    wire = Wire(clock)
    session = ExamSession(conversation, engines, settings or LoopSettings(), clock, wire)
    task = asyncio.create_task(session.run(wire))
    return Exam(session, conversation, wire, clock, task)
