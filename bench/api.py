"""API benchmark: requests/s and latency of login, session detail and session list over HTTP.

    scripts/bench api                          # PostgreSQL, 50 clients, serve --workers 1 and 2
    scripts/bench api --workers 1,2 --nginx    # and two nodes (one worker each) behind nginx
    scripts/bench api --clients 50 --requests 4000

A fresh PostgreSQL database is migrated and seeded (the six question banks, an admin, students
with completed sittings of 12 answers, each evaluated, with a result). The app then runs as
``newspeech serve --workers N`` in its own process for each N of ``--workers`` (rate limiting
off so the limiter does not refuse the load; uvicorn's access log on, as in production), and,
with ``--nginx``, as two ``serve`` nodes behind nginx (Debian package). 50 concurrent HTTP
clients call:

- ``POST /api/v1/auth/login``                      (Argon2id verification dominates)
- ``GET  /api/v1/exam-sessions/{id}``               (12 answers with evaluations and the result)
- ``GET  /api/v1/exam-sessions?size=50``            (one page of 50, with the total count)

Prints a table and writes JSON to bench/results/api.json. Goal: session detail p99 <= 20 ms and
>= 500 requests/s; a class of 200 signs in within 10 s (>= 20 logins/s).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from tests.exams.serve_process import free_port, newspeech_serve, nginx
from tests.fixtures.databases import fresh_database_url

from bench._provenance import Run
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
from newspeech.kit.passwords import PARAMETERS, hash_password
from newspeech.models import FeedbackType, UserRole
from newspeech.questions.repository import QuestionRepository
from newspeech.results.service import calculate_result
from newspeech.seed import seed_reference_data
from newspeech.users.repository import UserRepository

RESULTS = Path(__file__).resolve().parent / "results"
PASSWORD = "benchmark passphrase 2026"
GOAL_DETAIL_P99_MS = 20.0
GOAL_RPS = 500.0
GOAL_LOGINS_PER_SECOND = 20.0
NGINX_CONFIGURATION = "2 nodes behind nginx"


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


async def wait_until_up(base: str, server: subprocess.Popen[bytes]) -> None:
    """For a server started with ``subprocess`` (``bench/imports.py``); 120 s at most."""
    async with httpx.AsyncClient() as client:
        for _ in range(1200):
            if server.poll() is not None:
                raise RuntimeError("the API server exited during start-up")
            try:
                if (await client.get(f"{base}/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("the API server did not come up")


@asynccontextmanager
async def served(configuration: str, url: str, data_dir: Path) -> AsyncIterator[str]:
    """``configuration`` (``"N workers"`` or ``"2 nodes behind nginx"``) running; yields its
    base URL."""
    env = {
        "NEWSPEECH_DATABASE_URL": url,
        "NEWSPEECH_SPEECH_ENABLED": "false",
        "NEWSPEECH_RATE_LIMIT_ENABLED": "false",
        "NEWSPEECH_ENVIRONMENT": "test",
        "NEWSPEECH_SECRET_KEY": "benchmark-nodes-share-one-token-secret-" + "x" * 32,
    }
    folder = data_dir / configuration.replace(" ", "-")
    if configuration == NGINX_CONFIGURATION:
        ports = free_port(), free_port()
        front = free_port()
        async with (
            newspeech_serve(env | {"NEWSPEECH_DATA_DIR": str(folder / "a")}, ports[0]),
            newspeech_serve(env | {"NEWSPEECH_DATA_DIR": str(folder / "b")}, ports[1]),
            nginx(folder / "nginx", front, ports),
        ):
            yield f"http://127.0.0.1:{front}"
        return
    workers = configuration.split()[0]
    port = free_port()
    async with newspeech_serve(
        env | {"NEWSPEECH_DATA_DIR": str(folder)}, port, "--workers", workers
    ):
        yield f"http://127.0.0.1:{port}"


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


async def scenarios_on(base: str, args: argparse.Namespace, ids: list[int]) -> dict[str, Any]:
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
    return results


async def run(args: argparse.Namespace) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="newspeech-bench-api-"))
    url = await fresh_database_url("postgresql", data_dir, "newspeech_bench_api")
    print(f"... seeding {args.sittings} graded sittings of 12 answers", flush=True)
    ids = await prepare(url, args.sittings)
    configurations = [f"{n} worker{'s' if n > 1 else ''}" for n in args.workers]
    if args.nginx:
        configurations.append(NGINX_CONFIGURATION)
    results = {}
    for configuration in configurations:
        print(f"== {configuration}", flush=True)
        async with served(configuration, url, data_dir) as base:
            results[configuration] = await scenarios_on(base, args, ids)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--workers",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[1, 2],
        help="serve --workers N for each N (comma-separated)",
    )
    parser.add_argument("--nginx", action="store_true", help="and two nodes behind nginx")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=4000, help="per read scenario")
    parser.add_argument("--logins", type=int, default=400)
    parser.add_argument("--sittings", type=int, default=300)
    parser.add_argument("--output", type=Path, default=RESULTS / "api.json")
    args = parser.parse_args()
    run_ = Run("api")
    results = asyncio.run(run(args))
    header = (
        f"{'configuration':<22}{'endpoint':<30}{'requests':>9}{'errors':>8}{'req/s':>9}"
        f"{'p50 ms':>9}{'p99 ms':>9}"
    )
    print(header)
    print("-" * len(header))
    for configuration, scenarios in results.items():
        for name, r in scenarios.items():
            print(
                f"{configuration:<22}{name:<30}{r['requests']:>9}{r['errors']:>8}"
                f"{r['rps']:>9.1f}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}"
            )
    head = run_.header()
    print(
        f"\ngoal: session detail p99 <= {GOAL_DETAIL_P99_MS:.0f} ms, >= {GOAL_RPS:.0f} requests/s;"
        f" >= {GOAL_LOGINS_PER_SECOND:.0f} logins/s ({args.clients} clients, PostgreSQL, "
        f"{head['cpus']} cores, load average {head['load_average_before'][0]} -> "
        f"{head['load_average_after'][0]})"
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        json.dumps(
            head
            | {
                # The box is shared: a 1-minute load average above the core count means the
                # numbers measure contention as much as the API.
                "backend": "postgresql",
                "clients": args.clients,
                "rate_limit": "off",
                "argon2id": PARAMETERS,
                "sittings": args.sittings,
                "results": results,
            },
            indent=2,
        )
    )
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
