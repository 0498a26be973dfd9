"""What the sitting lease costs a live sitting's writes (``newspeech.exams.lease``).

    scripts/bench lease                       # all backends, 300 writes each way
    scripts/bench lease --backends postgresql --writes 1000

For each backend (a fresh database built by the migrations, one sitting) it times the same
write, an audit row in its own transaction (``ExamRecorder.audit``), without the lease and with
it (the lease's ``UPDATE ... WHERE generation = ?`` first, in the same transaction), alternating
the two, and the renewal the running loop does every few seconds. Prints a table and writes JSON
to bench/results/lease.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from tests.fixtures.databases import BACKENDS, fresh_database_url

from bench._provenance import Run
from newspeech.config import Settings
from newspeech.db.engine import create_engine, create_sessionmaker, unit_of_work
from newspeech.db.migrations import upgrade
from newspeech.exams.lease import LeasePolicy, first_lease
from newspeech.exams.recorder import ExamRecorder
from newspeech.exams.repository import ExamSessionRepository
from newspeech.kit.passwords import hash_password
from newspeech.seed import seed_reference_data
from newspeech.users.repository import UserRepository

RESULTS = Path(__file__).resolve().parent / "results"


async def _sitting(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with unit_of_work(sessionmaker) as db:
        await seed_reference_data(db)
        user = await UserRepository(db).create(
            username="bench",
            email="bench@example.org",
            password_hash=hash_password("a long enough passphrase for benches"),
            full_name="Bench",
            college_type="medical",
        )
        sitting = await ExamSessionRepository(db).create(
            user_id=user.id, college_type="medical", total_questions=12
        )
        return sitting.id


async def _time(operation: Callable[[], Awaitable[Any]]) -> float:
    start = time.perf_counter()
    await operation()
    return (time.perf_counter() - start) * 1000.0


def _summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered), 3),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 3),
        "mean_ms": round(statistics.fmean(ordered), 3),
    }


async def _backend(backend: str, writes: int, folder: Path) -> dict[str, dict[str, float]]:
    url = await fresh_database_url(backend, folder, "newspeech_bench_lease")
    engine = create_engine(Settings(environment="test", data_dir=folder, database_url=url))
    try:
        await upgrade(engine)
        sessionmaker = create_sessionmaker(engine)
        sitting = await _sitting(sessionmaker)
        policy = LeasePolicy()
        async with unit_of_work(sessionmaker) as db:
            lease = await first_lease(db, sitting, policy)
        plain = ExamRecorder(sessionmaker, sitting, user_id=1)
        fenced = ExamRecorder(sessionmaker, sitting, user_id=1, lease=lease)
        samples: dict[str, list[float]] = {"write": [], "write + lease check": [], "renewal": []}
        for _ in range(10):  # warm the pool and the statement caches
            await plain.audit("bench.write")
            await fenced.audit("bench.write")
        for _ in range(writes):
            samples["write"].append(await _time(lambda: plain.audit("bench.write")))
            samples["write + lease check"].append(await _time(lambda: fenced.audit("bench.write")))
            samples["renewal"].append(await _time(lambda: lease.renew(sessionmaker)))
        return {name: _summary(values) for name, values in samples.items()}
    finally:
        await engine.dispose()


async def _main(backends: list[str], writes: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        return {b: await _backend(b, writes, Path(folder)) for b in backends}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--writes", type=int, default=300)
    parser.add_argument("--output", type=Path, default=RESULTS / "lease.json")
    args = parser.parse_args()
    provenance = Run("lease")
    results = asyncio.run(_main(args.backends.split(","), args.writes))
    print(f"{'backend':<11} {'operation':<21} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8}")
    for backend, rows in results.items():
        for name, row in rows.items():
            print(
                f"{backend:<11} {name:<21} {row['p50_ms']:>8.2f} {row['p99_ms']:>8.2f} "
                f"{row['mean_ms']:>8.2f}"
            )
    header = provenance.header()
    print(
        f"load average before {header['load_average_before']}, "
        f"after {header['load_average_after']} ({header['cpus']} CPUs)"
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        json.dumps(header | {"writes": args.writes, "results": results}, indent=2) + "\n"
    )


if __name__ == "__main__":
    main()
