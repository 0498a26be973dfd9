"""The inference pool runs calls by urgency: earliest deadline first, so everything ages; and
it keeps the CPU budget of what it ran."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from newspeech.voice.pool import (
    ALLOWED_DELAY,
    InferencePool,
    Spent,
    Ticket,
    Urgency,
    component,
    urgency,
)


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
    pool = InferencePool(1)
    order: list[str] = []
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
    pool = InferencePool(1, clock=clock)
    order: list[str] = []
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
    pool = InferencePool(1)
    order: list[str] = []
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
    pool = InferencePool(1)
    order: list[str] = []
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


def _spin(seconds: float) -> str:
    """Burn ``seconds`` of this thread's CPU (not wall time: the pool counts CPU)."""
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass
    return "spun"


async def _run_as(pool: InferencePool, name: str, level: Urgency | Ticket, seconds: float) -> str:
    with component(name), urgency(level):
        return await pool.run(_spin, seconds)


async def test_the_budget_counts_each_calls_cost_by_component_and_urgency() -> None:
    pool = InferencePool(1)
    told: list[tuple[str, Urgency, Spent]] = []
    pool.on_spent = lambda name, level, cost: told.append((name, level, cost))
    try:
        await _run_as(pool, "decode", Urgency.TURN, 0.05)
        await _run_as(pool, "tts", Urgency.REPLY, 0.03)
        await pool.runner("audio_encoding", background=True)(_spin, 0.02)
        await pool.run(time.sleep, 0.05)  # no component named: "other"; waits, burns no CPU
    finally:
        pool.close()
    spent = pool.spent()
    assert set(spent) == {
        ("decode", Urgency.TURN),
        ("tts", Urgency.REPLY),
        ("audio_encoding", Urgency.BACKGROUND),
        ("other", Urgency.TURN),
    }
    assert spent["decode", Urgency.TURN].cpu >= 0.05
    assert spent["tts", Urgency.REPLY].cpu >= 0.03
    assert spent["audio_encoding", Urgency.BACKGROUND].cpu >= 0.02
    slept = spent["other", Urgency.TURN]
    assert slept.busy >= 0.05
    assert slept.cpu < 0.02
    assert all(cost.calls == 1 for cost in spent.values())
    assert [(name, level) for name, level, _ in told] == [
        ("decode", Urgency.TURN),
        ("tts", Urgency.REPLY),
        ("audio_encoding", Urgency.BACKGROUND),
        ("other", Urgency.TURN),
    ]


async def test_speculation_counts_as_kept_only_once_its_turn_is_declared() -> None:
    pool = InferencePool(1)
    try:
        declared = Ticket(Urgency.SPECULATIVE)
        discarded = Ticket(Urgency.SPECULATIVE)
        await _run_as(pool, "decode", declared, 0.04)
        await _run_as(pool, "decode", discarded, 0.03)
        assert pool.kept() == {}
        declared.promote(Urgency.TURN)
        discarded.promote(Urgency.REPLY)  # raised, but not to a declared turn
        await _run_as(pool, "decode", declared, 0.02)  # after promotion: a final decode
    finally:
        pool.close()
    spent, kept = pool.spent(), pool.kept()
    speculative = spent["decode", Urgency.SPECULATIVE]
    assert speculative.calls == 2
    assert speculative.cpu >= 0.07
    assert spent["decode", Urgency.TURN].calls == 1
    assert set(kept) == {"decode"}
    assert kept["decode"].calls == 1
    assert 0.04 <= kept["decode"].cpu < speculative.cpu - 0.025


async def test_speculation_whose_turn_is_declared_while_it_runs_is_kept() -> None:
    pool = InferencePool(1)
    ticket = Ticket(Urgency.SPECULATIVE)
    gate = Gate()

    def speculate() -> str:
        gate()
        return _spin(0.02)

    try:
        with component("decode"), urgency(ticket):
            running = asyncio.create_task(pool.run(speculate))
        assert await asyncio.to_thread(gate.running.wait, 10.0)
        ticket.promote(Urgency.TURN)  # declared mid-decode
        gate.release.set()
        assert await running == "spun"
    finally:
        pool.close()
    assert pool.kept()["decode"] == pool.spent()["decode", Urgency.SPECULATIVE]
