"""Database benchmark: latency of the seed's operations and concurrent write throughput.

    scripts/bench db                      # all backends, 1,000 sittings of 12 answers each
    scripts/bench db --backends sqlite --sessions 200

For each backend (a fresh database built by the migrations) it times, per committed unit of work:
session creation, answer storage, evaluation write, result calculation (complete the sitting,
sum its evaluations, store the result) and the detailed session query (answers → evaluation and
result, eagerly loaded). Then 20 concurrent writers each commit answer + evaluation pairs.
Prints a table beside the seed document's claims and writes JSON to bench/results/db.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import platform
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from tests.fixtures.databases import BACKENDS, fresh_database_url

from newspeech import __version__
from newspeech.config import Settings
from newspeech.db.engine import create_engine, create_sessionmaker, unit_of_work
from newspeech.db.migrations import upgrade
from newspeech.exams.repository import (
    AnswerInput,
    AnswerRepository,
    EvaluationInput,
    EvaluationRepository,
    ExamSessionRepository,
)
from newspeech.kit.passwords import hash_password
from newspeech.models import Answer, ExamSession, FeedbackType, Question, User
from newspeech.questions.repository import QuestionRepository
from newspeech.results.rules import ResultPolicy
from newspeech.results.service import calculate_result
from newspeech.seed import seed_reference_data
from newspeech.users.repository import UserRepository

RESULTS = Path(__file__).resolve().parent / "results"
SEED_CLAIMS_MS = {
    "session creation": 30.0,
    "answer storage": 25.0,
    "evaluation write": 35.0,
    "result calculation": 85.0,
    "session query (eager)": 40.0,
}
GOAL_P99_MS = 5.0
GOAL_WRITES_PER_S = 2000.0


def _runner() -> Callable[[Coroutine[Any, Any, Any]], Any]:
    """uvloop when installed: the loop uvicorn serves on."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run
    return uvloop.run


class Timings:
    def __init__(self) -> None:
        self.samples: dict[str, list[float]] = {name: [] for name in SEED_CLAIMS_MS}

    async def time(self, name: str, operation: Callable[[], Awaitable[Any]]) -> Any:
        start = time.perf_counter()
        value = await operation()
        self.samples[name].append((time.perf_counter() - start) * 1000.0)
        return value

    def summary(self) -> dict[str, dict[str, float]]:
        out = {}
        for name, values in self.samples.items():
            ordered = sorted(values)
            out[name] = {
                "n": len(ordered),
                "p50_ms": statistics.median(ordered),
                "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
                "mean_ms": statistics.fmean(ordered),
            }
        return out


async def _prepare(sessionmaker: async_sessionmaker[AsyncSession]) -> tuple[User, list[Question]]:
    async with unit_of_work(sessionmaker) as db:
        await seed_reference_data(db)
        user = await UserRepository(db).create(
            username="bench",
            email="bench@example.org",
            password_hash=hash_password("bench-password"),
            college_type="medical",
        )
        questions = await QuestionRepository(db).for_college("medical")
    return user, questions


async def _one_sitting(
    sessionmaker: async_sessionmaker[AsyncSession],
    timings: Timings,
    user: User,
    questions: list[Question],
    policy: ResultPolicy,
) -> None:
    async def create() -> ExamSession:
        async with unit_of_work(sessionmaker) as db:
            return await ExamSessionRepository(db).create(user_id=user.id, college_type="medical")

    created: ExamSession = await timings.time("session creation", create)
    async with unit_of_work(sessionmaker) as db:  # untimed: the seed has no "start" figure
        exam_session = await ExamSessionRepository(db).start(created.id)
    for number, question in enumerate(questions, start=1):

        async def store(question: Question = question, number: int = number) -> Answer:
            async with unit_of_work(sessionmaker) as db:
                item = AnswerInput(
                    question=question,
                    question_number=number,
                    transcribed_text="The patient has sepsis; give fluids.",
                    confidence_score=0.9,
                    audio_duration_seconds=4.0,
                )
                return await AnswerRepository(db).store(exam_session, item)

        answer: Answer = await timings.time("answer storage", store)

        async def evaluate(answer: Answer = answer, number: int = number) -> None:
            async with unit_of_work(sessionmaker) as db:
                await EvaluationRepository(db).store(
                    answer,
                    EvaluationInput(
                        score_obtained=number % 11,
                        feedback_type=FeedbackType.PARTIAL,
                        matched_keywords=["sepsis"],
                        missing_keywords=["lactate"],
                    ),
                )

        await timings.time("evaluation write", evaluate)

    async def result() -> None:
        async with unit_of_work(sessionmaker) as db:
            finished = await ExamSessionRepository(db).complete(exam_session.id)
            await calculate_result(db, finished, policy)

    await timings.time("result calculation", result)

    async def query() -> None:
        async with sessionmaker() as db:
            loaded = await ExamSessionRepository(db).get_detailed(exam_session.id)
            if loaded is None or loaded.result is None or len(loaded.answers) != len(questions):
                raise RuntimeError(f"sitting {exam_session.id} did not load completely")

    await timings.time("session query (eager)", query)


async def _write_pairs(
    url: str, sitting_ids: list[int], question_ids: list[int], pairs: int
) -> tuple[float, float]:
    """One process's writers: each commits answer + evaluation pairs into its own sitting."""
    settings = Settings(environment="test", database_url=url, db_pool_size=len(sitting_ids))
    engine = create_engine(settings)
    sessionmaker = create_sessionmaker(engine)
    async with sessionmaker() as db:
        sittings = [await ExamSessionRepository(db).require(i) for i in sitting_ids]
        questions = [q for i in question_ids if (q := await QuestionRepository(db).get(i))]

    async def writer(sitting: ExamSession) -> None:
        for i in range(pairs):
            async with unit_of_work(sessionmaker) as db:
                item = AnswerInput(
                    question=questions[i % len(questions)],
                    question_number=i + 1,
                    transcribed_text="concurrent answer",
                )
                answer = await AnswerRepository(db).store(sitting, item)
                await EvaluationRepository(db).store(
                    answer, EvaluationInput(score_obtained=5, feedback_type=FeedbackType.PARTIAL)
                )

    # Open every pooled connection before the clock starts.
    async with asyncio.TaskGroup() as group:
        for _ in sittings:
            group.create_task(_touch(sessionmaker))
    start = time.monotonic()
    await asyncio.gather(*(writer(sitting) for sitting in sittings))
    end = time.monotonic()
    await engine.dispose()
    return start, end


async def _touch(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with sessionmaker() as db:
        await db.execute(text("SELECT 1"))
        await asyncio.sleep(0.05)


def _process_main(
    url: str, sitting_ids: list[int], question_ids: list[int], pairs: int, out: Any
) -> None:
    out.put(_runner()(_write_pairs(url, sitting_ids, question_ids, pairs)))


async def _throughput(
    url: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    user: User,
    questions: list[Question],
    writers: int,
    pairs_per_writer: int,
    processes: int,
) -> dict[str, float]:
    """``writers`` concurrent writers spread over ``processes`` app processes (as deployed)."""
    async with unit_of_work(sessionmaker) as db:
        repo = ExamSessionRepository(db)
        sittings = [
            await repo.create(user_id=user.id, college_type="medical") for _ in range(writers)
        ]
        for sitting in sittings:
            await repo.start(sitting.id)
    question_ids = [q.id for q in questions]
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    children = [
        context.Process(
            target=_process_main,
            args=(url, [s.id for s in sittings[k::processes]], question_ids, pairs_per_writer, out),
        )
        for k in range(processes)
    ]
    for child in children:
        child.start()
    spans = [await asyncio.to_thread(out.get) for _ in children]
    for child in children:
        child.join()
    elapsed = max(end for _, end in spans) - min(start for start, _ in spans)
    pairs = writers * pairs_per_writer
    return {
        "writers": writers,
        "processes": processes,
        "pairs": pairs,
        "seconds": elapsed,
        "pairs_per_s": pairs / elapsed,
        "rows_per_s": 2 * pairs / elapsed,
    }


async def run_backend(
    backend: str, sessions: int, writers: int, pairs: int, process_counts: list[int]
) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix=f"newspeech-bench-{backend}-"))
    url = await fresh_database_url(backend, data_dir, "newspeech_bench")
    settings = Settings(environment="test", data_dir=data_dir, database_url=url)
    engine = create_engine(settings)
    try:
        await upgrade(engine)
        sessionmaker = create_sessionmaker(engine)
        user, questions = await _prepare(sessionmaker)
        timings = Timings()
        policy = ResultPolicy()
        for _ in range(sessions):
            await _one_sitting(sessionmaker, timings, user, questions, policy)
        throughput = [
            await _throughput(url, sessionmaker, user, questions, writers, pairs, processes)
            for processes in process_counts
        ]
    finally:
        await engine.dispose()
    return {"operations": timings.summary(), "throughput": throughput}


def _print(results: dict[str, Any]) -> None:
    header = f"{'operation':<24}{'seed claim':>11}" + "".join(
        f"{b + ' p50':>14}{b + ' p99':>14}" for b in results
    )
    print(header)
    print("-" * len(header))
    for name, claim in SEED_CLAIMS_MS.items():
        row = f"{name:<24}{claim:>9.0f}ms"
        for backend in results.values():
            stats = backend["operations"][name]
            row += f"{stats['p50_ms']:>12.2f}ms{stats['p99_ms']:>12.2f}ms"
        print(row)
    print()
    print(f"{'concurrent writes':<24}{'goal':>11}" + "".join(f"{b:>22}" for b in results))
    first = next(iter(results.values()))
    for k, run in enumerate(first["throughput"]):
        label = f"pairs/s {run['writers']}w/{run['processes']}proc"
        row = f"{label:<24}{GOAL_WRITES_PER_S:>11.0f}"
        for backend in results.values():
            t = backend["throughput"][k]
            row += f"{t['pairs_per_s']:>10.0f} ({t['rows_per_s']:>5.0f} rows)"
        print(row)
    print(
        f"\ngoal: every p99 <= {GOAL_P99_MS} ms on PostgreSQL and SQLite; "
        f">= {GOAL_WRITES_PER_S:.0f} answer+evaluation writes/s on PostgreSQL"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--sessions", type=int, default=1000, help="sittings (>= 1000 for p99)")
    parser.add_argument("--writers", type=int, default=20)
    parser.add_argument("--pairs", type=int, default=200, help="answer+evaluation pairs per writer")
    parser.add_argument(
        "--processes", default="1,2", help="app processes sharing the writers, comma-separated"
    )
    parser.add_argument("--output", type=Path, default=RESULTS / "db.json")
    args = parser.parse_args()
    process_counts = [int(n) for n in args.processes.split(",")]
    runner = _runner()

    results = {}
    for backend in args.backends.split(","):
        print(
            f"... {backend}: {args.sessions} sittings x 12 answers, then "
            f"{args.writers} writers x {args.pairs} pairs",
            flush=True,
        )
        results[backend] = runner(
            run_backend(backend, args.sessions, args.writers, args.pairs, process_counts)
        )
    _print(results)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        json.dumps(
            {
                "benchmark": "db",
                "version": __version__,
                "loop": runner.__module__,
                "python": platform.python_version(),
                "machine": platform.machine(),
                "sessions": args.sessions,
                "backends": results,
            },
            indent=2,
        )
    )
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
