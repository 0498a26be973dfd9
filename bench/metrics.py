"""Metrics overhead per request: the same app with and without ``/metrics`` instruments.

    scripts/bench metrics                      # SQLite, 5 rounds of 2,000 requests per case
    scripts/bench metrics --backend postgresql --rounds 3
    scripts/bench metrics --multiprocess         # as one worker of `serve --workers N`

Two apps are built on one fresh database: one with the metrics (the ASGI middleware, the
SQLAlchemy statement and error events), one with ``NEWSPEECH_METRICS_ENABLED=false``. Requests
go in process (httpx's ASGI transport, no sockets), one at a time, so what differs between the
two is only the instruments' cost, measured as this process's CPU time (a neighbour's load on
the shared box stretches wall time, not our CPU time). The cases alternate in rounds (on, off,
on, off ...). Cases:
  signed-in read   GET /api/v1/users/me (token check and the user's row: 2-3 statements)
  unmatched 404    GET /no/such/page (middleware only, no database)
then the instruments alone (the middleware around an app that does nothing; the statement
events around SQLite's ``SELECT 1``) and one scrape of /metrics. Prints a table and writes
bench/results/metrics.json.

``--multiprocess`` measures the same as one worker of ``serve --workers N`` does it:
prometheus-client's multiprocess mode, where every value lives in a memory-mapped file under
``PROMETHEUS_MULTIPROC_DIR`` (read when prometheus-client is first imported, so the bench runs
itself again in a child process with the variable set) and a scrape merges the files
(bench/results/metrics-multiprocess.json).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from tests.fixtures.databases import BACKENDS, fresh_database_url
from tests.fixtures.factories import FACTORY_PASSWORD, make_user

from bench._provenance import Run
from newspeech.app import create_app
from newspeech.config import Settings
from newspeech.db.engine import create_engine, create_sessionmaker, unit_of_work
from newspeech.db.migrations import upgrade
from newspeech.observability import workers
from newspeech.observability.database import instrument_engine
from newspeech.observability.metrics import Metrics
from newspeech.observability.middleware import MetricsMiddleware

RESULTS = Path(__file__).resolve().parent / "results"
CASES = {"signed-in read": "/api/v1/users/me", "unmatched 404": "/no/such/page"}


async def prepare(settings: Settings) -> str:
    """Migrate the fresh database and add one user; return their username."""
    engine = create_engine(settings)
    try:
        await upgrade(engine)
        async with unit_of_work(create_sessionmaker(engine)) as db:
            user = await make_user(db)
            return user.username
    finally:
        await engine.dispose()


async def timed(client: httpx.AsyncClient, path: str, n: int, headers: dict[str, str]) -> float:
    """Mean CPU seconds of this process per request over ``n`` sequential requests (CPU time,
    not wall time: on a shared box a neighbour's load stretches wall time, not our CPU time)."""
    started = time.process_time()
    for _ in range(n):
        await client.get(path, headers=headers)
    return (time.process_time() - started) / n


async def instrument_costs(n: int, rounds: int) -> dict[str, Any]:
    """CPU µs of the instruments alone, medians of ``rounds`` alternations: the middleware
    around an app that does nothing (``n`` calls), and the statement events around SQLite's
    ``SELECT 1`` (``n // 10`` statements on one connection)."""

    async def nothing(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        del message

    scope = {"type": "http", "method": "GET", "path": "/", "headers": []}
    apps: dict[str, ASGIApp] = {
        "bare app": nothing,
        "metrics middleware": MetricsMiddleware(nothing, metrics=Metrics()),
    }
    costs: dict[str, list[float]] = {name: [] for name in (*apps, "SELECT 1", "instrumented")}
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), database_url=f"sqlite:///{tmp}/select.db")
        engines = {"SELECT 1": create_engine(settings), "instrumented": create_engine(settings)}
        instrument_engine(engines["instrumented"], Metrics())
        for _ in range(rounds):
            for name, app in apps.items():
                started = time.process_time()
                for _ in range(n):
                    await app(dict(scope), receive, send)
                costs[name].append((time.process_time() - started) / n * 1e6)
            for name, engine in engines.items():
                async with engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
                    started = time.process_time()
                    for _ in range(n // 10):
                        await connection.execute(text("SELECT 1"))
                    costs[name].append((time.process_time() - started) / (n // 10) * 1e6)
        for engine in engines.values():
            await engine.dispose()
    median = {name: statistics.median(values) for name, values in costs.items()}
    return {
        "middleware_us": round(median["metrics middleware"] - median["bare app"], 2),
        "statement_events_us": round(median["instrumented"] - median["SELECT 1"], 2),
        "raw_us": {k: [round(v, 2) for v in vs] for k, vs in costs.items()},
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        url = await fresh_database_url(args.backend, Path(tmp), "newspeech_bench_metrics")
        base = Settings(
            environment="test",
            data_dir=Path(tmp),
            database_url=url,
            speech_enabled=False,
            rate_limit_enabled=False,
            enable_audit_logs=False,
        )
        username = await prepare(base)
        apps = {
            "on": create_app(base),
            "off": create_app(base.model_copy(update={"metrics_enabled": False})),
        }
        per_request: dict[str, dict[str, list[float]]] = {
            case: {"on": [], "off": []} for case in CASES
        }
        scrapes: list[float] = []
        async with (
            apps["on"].router.lifespan_context(apps["on"]),
            apps["off"].router.lifespan_context(apps["off"]),
        ):
            clients = {
                name: httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://b")
                for name, app in apps.items()
            }
            login = await clients["on"].post(
                "/api/v1/auth/login", json={"username": username, "password": FACTORY_PASSWORD}
            )
            login.raise_for_status()
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
            for path in CASES.values():  # warm-up: first-request costs out of the way
                for client in clients.values():
                    await timed(client, path, 200, headers)
            for _ in range(args.rounds):
                for case, path in CASES.items():
                    for name in ("on", "off"):
                        mean = await timed(clients[name], path, args.requests, headers)
                        per_request[case][name].append(mean)
                started = time.process_time()
                scrape = await clients["on"].get("/metrics")
                scrapes.append(time.process_time() - started)
                scrape.raise_for_status()
            for client in clients.values():
                await client.aclose()
    costs = await instrument_costs(args.requests * 10, args.rounds)
    return {"per_request": per_request, "scrape_seconds": scrapes, "instruments": costs}


def summarise(raw: dict[str, Any]) -> dict[str, Any]:
    cases: dict[str, Any] = {}
    for case, variants in raw["per_request"].items():
        on_us = statistics.median(variants["on"]) * 1e6
        off_us = statistics.median(variants["off"]) * 1e6
        # Paired by round (the two ran back to back), so drift in the box's load cancels.
        paired = [on - off for on, off in zip(variants["on"], variants["off"], strict=True)]
        overhead_us = statistics.median(paired) * 1e6
        cases[case] = {
            "with_metrics_us": round(on_us, 1),
            "without_metrics_us": round(off_us, 1),
            "overhead_us": round(overhead_us, 1),
            "overhead_percent": round(100 * overhead_us / off_us, 1),
            "rounds_us": {k: [round(v * 1e6, 1) for v in vs] for k, vs in variants.items()},
        }
    scrape_ms = statistics.median(raw["scrape_seconds"]) * 1000
    return {"cases": cases, "scrape_ms": round(scrape_ms, 2), "instruments": raw["instruments"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=BACKENDS, default="sqlite")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=2000, help="per case, round and app")
    parser.add_argument(
        "--multiprocess",
        action="store_true",
        help="prometheus-client's multiprocess mode, as a worker of serve --workers N",
    )
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    multiprocess_dir = workers.from_environment()
    if args.multiprocess and multiprocess_dir is None:
        with tempfile.TemporaryDirectory(prefix="bench-metrics-") as folder:
            env = os.environ | {workers.ENVIRONMENT: folder}
            child = [sys.executable, "-m", "bench.metrics", *sys.argv[1:]]
            raise SystemExit(subprocess.run(child, env=env, check=False).returncode)
    mode = "single process" if multiprocess_dir is None else "multiprocess (one worker's files)"
    name = "metrics.json" if multiprocess_dir is None else "metrics-multiprocess.json"
    args.output = args.output or RESULTS / name
    provenance = Run("metrics")
    summary = summarise(asyncio.run(run(args)))
    header_fields = provenance.header()
    header = f"{'CPU per request':<18}{'with µs':>10}{'without µs':>12}{'overhead µs':>13}{'%':>7}"
    print(header)
    print("-" * len(header))
    for case, r in summary["cases"].items():
        print(
            f"{case:<18}{r['with_metrics_us']:>10.1f}{r['without_metrics_us']:>12.1f}"
            f"{r['overhead_us']:>13.1f}{r['overhead_percent']:>7.1f}"
        )
    costs = summary["instruments"]
    print(
        f"\ninstruments alone: middleware {costs['middleware_us']:.1f} µs a request, "
        f"statement events {costs['statement_events_us']:.1f} µs a statement (CPU)"
    )
    print(
        f"{mode}; one /metrics scrape: {summary['scrape_ms']:.2f} ms CPU "
        f"(median of {args.rounds}); "
        f"{args.backend}, medians of {args.rounds} rounds x {args.requests} requests "
        "(overhead: median of the rounds' differences), "
        f"load average {header_fields['load_average_before'][0]:.1f} -> "
        f"{header_fields['load_average_after'][0]:.1f} on {os.cpu_count()} CPUs"
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        json.dumps(
            {
                # The box is shared: a load average above the core count means the
                # numbers measure contention as much as the instruments.
                **header_fields,
                "backend": args.backend,
                "metrics_mode": "single" if multiprocess_dir is None else "multiprocess",
                "rounds": args.rounds,
                "requests_per_round": args.requests,
                **summary,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
