"""API benchmark: requests/s and latency of login, session detail and session list over HTTP.

    scripts/bench api                       # PostgreSQL, 50 concurrent clients
    scripts/bench api --clients 50 --requests 4000

A fresh PostgreSQL database is migrated and seeded (the six question banks, an admin, students
with completed sittings of 12 answers, each evaluated, with a result). The app then runs under
uvicorn in its own process (one worker, no access log, rate limiting off so the limiter does not
refuse the load) and 50 concurrent HTTP clients call:

- ``POST /api/v1/auth/login``                      (Argon2id verification dominates)
- ``GET  /api/v1/exam-sessions/{id}``               (12 answers with evaluations and the result)
- ``GET  /api/v1/exam-sessions?size=50``            (one page of 50, with the total count)

Prints a table and writes JSON to bench/results/api.json. Goal: session detail p99 <= 20 ms and
>= 500 requests/s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from tests.fixtures.databases import fresh_database_url

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
from newspeech.models import FeedbackType, UserRole
from newspeech.questions.repository import QuestionRepository
from newspeech.results.service import calculate_result
from newspeech.seed import seed_reference_data
from newspeech.users.repository import UserRepository

RESULTS = Path(__file__).resolve().parent / "results"
PASSWORD = "benchmark passphrase 2026"
GOAL_DETAIL_P99_MS = 20.0
GOAL_RPS = 500.0


async def prepare(url: str, sittings: int) -> list[int]:
    """Migrate and seed; return the ids of the completed sittings."""
    settings = Settings(environment="test", database_url=url, speech_enabled=False)
    engine = create_engine(settings)
    sessionmaker = create_sessionmaker(engine)
    password_hash = hash_password(PASSWORD)
    ids: list[int] = []
    try:
        await upgrade(engine)
        async with unit_of_work(sessionmaker) as db:
            await seed_reference_data(db)
            users = UserRepository(db)
            await users.create(
                username="admin",
                email="admin@example.org",
                password_hash=password_hash,
                role=UserRole.ADMIN,
            )
            questions = (await QuestionRepository(db).for_college("medical"))[:12]
        for n in range(sittings):
            async with unit_of_work(sessionmaker) as db:
                student = await UserRepository(db).create(
                    username=f"student{n}",
                    email=f"student{n}@example.org",
                    password_hash=password_hash,
                    college_type="medical",
                )
                repo = ExamSessionRepository(db)
                sitting = await repo.create(user_id=student.id, college_type="medical")
                await repo.start(sitting.id)
                answers = await AnswerRepository(db).store_many(
                    sitting,
                    [
                        AnswerInput(q, i, transcribed_text=f"answer {i} mentions {q.category}")
                        for i, q in enumerate(questions, start=1)
                    ],
                )
                for answer in answers:
                    score = random.randint(0, 10)
                    await EvaluationRepository(db).store(
                        answer,
                        EvaluationInput(
                            score_obtained=score,
                            feedback_type=FeedbackType.CORRECT
                            if score > 5
                            else FeedbackType.PARTIAL,
                            feedback="Good reasoning; mention the next step.",
                            matched_keywords=["one", "two"],
                            missing_keywords=["three"],
                        ),
                    )
                await repo.complete(sitting.id)
                await calculate_result(db, sitting)
                ids.append(sitting.id)
    finally:
        await engine.dispose()
    return ids


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_server(url: str, port: int) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "NEWSPEECH_DATABASE_URL": url,
        "NEWSPEECH_SPEECH_ENABLED": "false",
        "NEWSPEECH_RATE_LIMIT_ENABLED": "false",
        "NEWSPEECH_ENVIRONMENT": "test",
    }
    code = (
        "import uvicorn; from newspeech.app import create_app; "
        "from newspeech.config import load_settings; "
        f"uvicorn.run(create_app(load_settings()), host='127.0.0.1', port={port}, "
        "log_level='warning', access_log=False)"
    )
    return subprocess.Popen([sys.executable, "-c", code], env=env)


async def wait_until_up(base: str, server: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(300):
            if server.poll() is not None:
                raise RuntimeError("the API server exited during start-up")
            try:
                if (await client.get(f"{base}/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("the API server did not come up")


async def load(
    base: str,
    clients: int,
    total: int,
    make: Callable[[int], tuple[str, str, Any]],
    headers: dict[str, str],
) -> dict[str, float]:
    """``clients`` concurrent workers send ``total`` requests; latency per request."""
    latencies: list[float] = []
    errors = 0
    counter = iter(range(total))
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(
        base_url=base, limits=limits, headers=headers, timeout=60
    ) as client:

        async def worker() -> None:
            nonlocal errors
            for n in counter:
                method, path, body = make(n)
                start = time.perf_counter()
                try:
                    response = await client.request(method, path, json=body)
                except httpx.TransportError:
                    errors += 1  # counted, not timed: a dropped connection has no latency
                    continue
                latencies.append((time.perf_counter() - start) * 1000.0)
                if response.status_code != 200:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return {
        "requests": len(latencies),
        "errors": errors,
        "seconds": round(elapsed, 3),
        "rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(ordered), 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="newspeech-bench-api-"))
    url = await fresh_database_url("postgresql", data_dir, "newspeech_bench_api")
    print(f"... seeding {args.sittings} graded sittings of 12 answers", flush=True)
    ids = await prepare(url, args.sittings)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(url, port)
    try:
        await wait_until_up(base, server)
        async with httpx.AsyncClient(base_url=base) as client:
            login = await client.post(
                "/api/v1/auth/login", json={"username": "admin", "password": PASSWORD}
            )
            login.raise_for_status()
            token = login.json()["access_token"]
        admin = {"Authorization": f"Bearer {token}"}
        api = "/api/v1"
        scenarios: dict[str, tuple[int, Callable[[int], tuple[str, str, Any]], dict[str, str]]] = {
            "login": (
                args.logins,
                lambda n: (
                    "POST",
                    f"{api}/auth/login",
                    {"username": f"student{n % len(ids)}", "password": PASSWORD},
                ),
                {},
            ),
            "session detail (12 answers)": (
                args.requests,
                lambda n: ("GET", f"{api}/exam-sessions/{ids[n % len(ids)]}", None),
                admin,
            ),
            "session list (page of 50)": (
                args.requests,
                lambda n: ("GET", f"{api}/exam-sessions?size=50&page={1 + n % 4}", None),
                admin,
            ),
        }
        results = {}
        for name, (total, make, headers) in scenarios.items():
            print(f"... {name}: {total} requests, {args.clients} clients", flush=True)
            await load(base, args.clients, min(50, total), make, headers)  # warm-up
            results[name] = await load(base, args.clients, total, make, headers)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=4000, help="per read scenario")
    parser.add_argument("--logins", type=int, default=400)
    parser.add_argument("--sittings", type=int, default=300)
    parser.add_argument("--output", type=Path, default=RESULTS / "api.json")
    args = parser.parse_args()
    load_before = os.getloadavg()
    results = asyncio.run(run(args))
    load_after = os.getloadavg()
    header = f"{'endpoint':<30}{'requests':>9}{'errors':>8}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
    print(header)
    print("-" * len(header))
    for name, r in results.items():
        print(
            f"{name:<30}{r['requests']:>9}{r['errors']:>8}{r['rps']:>9.1f}"
            f"{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}"
        )
    print(
        f"\ngoal: session detail p99 <= {GOAL_DETAIL_P99_MS:.0f} ms, >= {GOAL_RPS:.0f} requests/s "
        f"({args.clients} clients, PostgreSQL, one uvicorn worker on {os.cpu_count()} cores, "
        f"load average {load_before[0]:.1f} -> {load_after[0]:.1f})"
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        json.dumps(
            {
                "benchmark": "api",
                "version": __version__,
                "python": platform.python_version(),
                "machine": platform.machine(),
                "cpus": os.cpu_count(),
                # The box is shared: a 1-minute load average above the core count means the
                # numbers measure contention as much as the API.
                "load_average_1m": {"before": load_before[0], "after": load_after[0]},
                "backend": "postgresql",
                "clients": args.clients,
                "workers": 1,
                "rate_limit": "off",
                "sittings": args.sittings,
                "results": results,
            },
            indent=2,
        )
    )
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
