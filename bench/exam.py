"""Exam service benchmark: the exam's share of every spoken turn, on each database backend.

    scripts/bench exam                                  # all backends, 30 sittings, 1/10/25 at once
    scripts/bench exam --backends sqlite --sittings 10 --concurrency 1,50

Drives whole sittings through ``ExamConversation`` the way the session loop does (HeardAnswer
objects, real keyword grader in the inference pool, every write committed as it happens) and
times, per call: ``begin`` (welcome), the identity turn (start the sitting), an answer turn
(store the answer, grade it, store the evaluation, say what is next), ``turn_measured`` (store
the turn's latency) and the last turn (complete the sitting, store the result). An answer turn
sits inside the response latency (turn declared → first examiner audio), whose goal is p50 ≤
150 ms and p95 ≤ 300 ms for the whole pipeline. Then the same with N sittings running at once.
Prints a table and writes JSON to bench/results/exam.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from tests.fixtures.databases import BACKENDS, fresh_database_url

from newspeech import __version__
from newspeech.config import Settings
from newspeech.db.engine import create_engine, create_sessionmaker, unit_of_work
from newspeech.db.migrations import upgrade
from newspeech.exams.dependencies import ExamDependencies
from newspeech.exams.service import ExamConversation
from newspeech.grading import KeywordGrader
from newspeech.grading.factory import PooledGrader
from newspeech.kit.passwords import hash_password
from newspeech.models import User
from newspeech.questions.banks import BANKS_DIR, load_bank
from newspeech.seed import seed_reference_data
from newspeech.users.repository import UserRepository
from newspeech.voice.conversation import HeardAnswer, TurnTimings
from newspeech.voice.pool import InferencePool
from newspeech.voice.protocols import Transcript

RESULTS = Path(__file__).resolve().parent / "results"
OPERATIONS = ("begin", "identity turn", "answer turn", "turn_measured", "last turn")
T = TypeVar("T")

_BANK = load_bank(BANKS_DIR / "medical.yaml")
_MODEL = [q.model_answer for s in _BANK.scenarios for q in s.questions]
# A realistic mix: full answers, half answers (first sentence), and a few "I don't know".
ANSWERS = [
    text if n % 3 == 0 else text.split(". ")[0] if n % 3 == 1 else "I don't know."
    for n, text in enumerate(_MODEL)
]


class Samples:
    def __init__(self) -> None:
        self.ms: dict[str, list[float]] = defaultdict(list)

    async def time(self, name: str, call: Callable[[], Awaitable[T]]) -> T:
        start = time.perf_counter()
        value = await call()
        self.ms[name].append(1000 * (time.perf_counter() - start))
        return value

    def summary(self) -> dict[str, dict[str, float]]:
        out = {}
        for name in OPERATIONS:
            ordered = sorted(self.ms[name])
            if not ordered:
                continue
            out[name] = {
                "n": len(ordered),
                "p50_ms": round(statistics.median(ordered), 2),
                "p95_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))], 2),
                "max_ms": round(ordered[-1], 2),
            }
        return out


def _heard(text: str) -> HeardAnswer:
    now = time.monotonic()
    timings = TurnTimings(now - 8.3, now - 0.3, now - 0.05, now)
    return HeardAnswer(Transcript(text, 0.9, 8.0, 0.2), b"", timings)


async def _sitting(deps: ExamDependencies, user: User, samples: Samples) -> None:
    conversation = await ExamConversation.start(deps, user, "medical")
    await samples.time("begin", conversation.begin)
    await samples.time("identity turn", lambda: conversation.answer(_heard("Yes, that's me.")))
    for number, text in enumerate(ANSWERS, start=1):
        heard = _heard(text)
        name = "last turn" if number == len(ANSWERS) else "answer turn"
        turn = await samples.time(name, partial(conversation.answer, heard))
        if not turn.finished:
            sent = time.monotonic()
            measured = TurnTimings(
                heard.timings.speech_started,
                heard.timings.speech_ended,
                heard.timings.turn_declared,
                heard.timings.transcript_ready,
                grade_ready=sent,
                first_audio_sent=sent,
            )
            await samples.time("turn_measured", partial(conversation.turn_measured, measured))
    assert conversation.finished, "the sitting did not finish"


async def _prepare(sessionmaker: async_sessionmaker[AsyncSession]) -> User:
    async with unit_of_work(sessionmaker) as db:
        await seed_reference_data(db, banks=[_BANK])
        user = await UserRepository(db).create(
            username="bench",
            email="bench@example.org",
            password_hash=hash_password("bench-password"),
            full_name="Bench Candidate",
            college_type="medical",
        )
    return user


async def run_backend(backend: str, sittings: int, concurrency: list[int]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        url = await fresh_database_url(backend, Path(folder), "newspeech_bench_exam")
        settings = Settings(database_url=url, speech_enabled=False, data_dir=Path(folder))
        engine = create_engine(settings)
        pool = InferencePool()
        try:
            await upgrade(engine)
            sessionmaker = create_sessionmaker(engine)
            user = await _prepare(sessionmaker)
            deps = ExamDependencies(
                sessionmaker=sessionmaker, grader=PooledGrader(KeywordGrader(), pool.run)
            )
            await _sitting(deps, user, Samples())  # warm-up: caches, connections
            sequential = Samples()
            for _ in range(sittings):
                await _sitting(deps, user, sequential)
            out: dict[str, Any] = {"sequential": sequential.summary(), "concurrent": {}}
            for n in concurrency:
                together = Samples()
                start = time.perf_counter()
                await asyncio.gather(*(_sitting(deps, user, together) for _ in range(n)))
                elapsed = time.perf_counter() - start
                out["concurrent"][str(n)] = together.summary() | {"wall_seconds": round(elapsed, 2)}
            return out
        finally:
            pool.close()
            await engine.dispose()


def _print(results: dict[str, Any]) -> None:
    print(f"\n{'sequential (ms)':<18}" + "".join(f"{b + ' p50/p95':>24}" for b in results))
    for name in OPERATIONS:
        row = f"{name:<18}"
        for backend in results.values():
            s = backend["sequential"].get(name)
            row += f"{s['p50_ms']:>15.1f} /{s['p95_ms']:>6.1f}" if s else f"{'-':>24}"
        print(row)
    first = next(iter(results.values()))
    for n in first["concurrent"]:
        print(f"\n{n + ' at once (ms)':<18}" + "".join(f"{b + ' p50/p95':>24}" for b in results))
        for name in ("answer turn", "last turn"):
            row = f"{name:<18}"
            for backend in results.values():
                s = backend["concurrent"][n].get(name)
                row += f"{s['p50_ms']:>15.1f} /{s['p95_ms']:>6.1f}" if s else f"{'-':>24}"
            print(row)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--sittings", type=int, default=30, help="sequential sittings")
    parser.add_argument("--concurrency", default="1,10,25", help="sittings at once")
    parser.add_argument("--output", type=Path, default=RESULTS / "exam.json")
    args = parser.parse_args()
    concurrency = [int(n) for n in args.concurrency.split(",")]
    results = {}
    for backend in args.backends.split(","):
        print(f"... {backend}: {args.sittings} sittings, then {concurrency} at once", flush=True)
        results[backend] = asyncio.run(run_backend(backend, args.sittings, concurrency))
    _print(results)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        json.dumps(
            {
                "benchmark": "exam",
                "version": __version__,
                "python": platform.python_version(),
                "machine": platform.machine(),
                "sittings": args.sittings,
                "backends": results,
            },
            indent=2,
        )
    )
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
