"""The inference pool runs calls by urgency: earliest deadline first, so everything ages."""

from __future__ import annotations

import asyncio
import threading

import pytest

from newspeech.voice.pool import ALLOWED_DELAY, InferencePool, Ticket, Urgency, urgency


class Clock:
    """The pool's clock, moved by hand (deadlines are submission time + allowed delay)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Gate:
    """Holds the pool's only thread until released, so calls queue up behind it."""

    def __init__(self) -> None:
        self.running = threading.Event()
        self.release = threading.Event()

    def __call__(self) -> str:
        self.running.set()
        assert self.release.wait(30.0)
        return "gate"


async def _blocked(pool: InferencePool) -> tuple[Gate, asyncio.Task[str]]:
    gate = Gate()
    held = asyncio.create_task(pool.run(gate))
    assert await asyncio.to_thread(gate.running.wait, 10.0)
    return gate, held


async def _submit(
    pool: InferencePool, order: list[str], name: str, level: Urgency | Ticket
) -> asyncio.Task[None]:
    async def call() -> None:
        with urgency(level):
            await pool.run(order.append, name)

    task = asyncio.create_task(call())
    await asyncio.sleep(0.01)  # submitted, in this order
    return task


async def test_urgent_calls_go_first_and_equal_ones_in_arrival_order() -> None:
    pool, order = InferencePool(1), []
    try:
        gate, held = await _blocked(pool)
        tasks = [
            await _submit(pool, order, "encode", Urgency.BACKGROUND),
            await _submit(pool, order, "speculative", Urgency.SPECULATIVE),
            await _submit(pool, order, "clause 2", Urgency.REPLY),
            await _submit(pool, order, "final decode A", Urgency.TURN),
            await _submit(pool, order, "final decode B", Urgency.TURN),
        ]
        assert pool.queued == 5
        assert pool.queued_by(Urgency.TURN) == 2
        gate.release.set()
        await asyncio.gather(held, *tasks)
    finally:
        pool.close()
    assert order == ["final decode A", "final decode B", "clause 2", "speculative", "encode"]


async def test_waiting_work_ages_past_newer_urgent_work() -> None:
    clock = Clock()
    pool, order = InferencePool(1, clock=clock), []
    try:
        gate, held = await _blocked(pool)
        old = await _submit(pool, order, "encoding that waited", Urgency.BACKGROUND)
        clock.now += ALLOWED_DELAY[Urgency.BACKGROUND] + 0.1
        new = await _submit(pool, order, "decode just declared", Urgency.TURN)
        gate.release.set()
        await asyncio.gather(held, old, new)
    finally:
        pool.close()
    assert order == ["encoding that waited", "decode just declared"]


async def test_a_promoted_speculative_decode_goes_before_the_others() -> None:
    pool, order = InferencePool(1), []
    waits: list[tuple[Urgency, float]] = []
    pool.on_class_wait = lambda level, seconds: waits.append((level, seconds))
    try:
        gate, held = await _blocked(pool)
        other = await _submit(pool, order, "another exam's speculative", Urgency.SPECULATIVE)
        ticket = Ticket(Urgency.SPECULATIVE)
        mine = await _submit(pool, order, "this answer's decode", ticket)
        reply = await _submit(pool, order, "a reply's clause", Urgency.REPLY)
        ticket.promote(Urgency.TURN)  # the turn is declared while its decode waits
        ticket.promote(Urgency.BACKGROUND)  # never lowered
        assert pool.queued_by(Urgency.TURN) == 1
        assert pool.queued_by(Urgency.SPECULATIVE) == 1
        gate.release.set()
        await asyncio.gather(held, other, mine, reply)
    finally:
        pool.close()
    assert order == ["this answer's decode", "a reply's clause", "another exam's speculative"]
    assert [level for level, _ in waits[1:]] == [Urgency.TURN, Urgency.REPLY, Urgency.SPECULATIVE]


async def test_a_cancelled_waiting_call_frees_its_place_and_failures_reach_the_caller() -> None:
    pool, order = InferencePool(1), []
    try:
        gate, held = await _blocked(pool)
        discarded = await _submit(pool, order, "discarded speculative", Urgency.TURN)
        kept = await _submit(pool, order, "kept", Urgency.SPECULATIVE)
        discarded.cancel()
        await asyncio.gather(discarded, return_exceptions=True)
        assert pool.queued == 1
        gate.release.set()
        await asyncio.gather(held, kept)
        with pytest.raises(ZeroDivisionError):
            await pool.run(divmod, 1, 0)
    finally:
        pool.close()
    assert order == ["kept"]


async def test_closing_cancels_the_waiting_calls_and_refuses_new_ones() -> None:
    pool = InferencePool(1)
    gate, held = await _blocked(pool)
    waiting = asyncio.create_task(pool.run(sum, [1, 2]))
    await asyncio.sleep(0.01)
    closing = asyncio.create_task(asyncio.to_thread(pool.close))
    await asyncio.sleep(0.05)
    gate.release.set()
    await closing
    assert await held == "gate"  # a running call finishes
    with pytest.raises(asyncio.CancelledError):
        await waiting
    with pytest.raises(RuntimeError):
        await pool.run(sum, [1])
    assert pool.queued == 0
