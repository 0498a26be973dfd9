"""Metrics overhead per request: the same app with and without ``/metrics`` instruments.

    scripts/bench metrics                      # SQLite, 5 rounds of 2,000 requests per case
    scripts/bench metrics --backend postgresql --rounds 3

Two apps are built on one fresh database: one with the metrics (the ASGI middleware, the
SQLAlchemy statement and error events), one with ``NEWSPEECH_METRICS_ENABLED=false``. Requests
go in process (httpx's ASGI transport, no sockets), one at a time, so what differs between the
two is only the instruments' cost. The cases alternate in rounds (on, off, on, off ...) so a
neighbour's load on the shared box falls on both. Cases:
  signed-in read   GET /api/v1/users/me (token check and the user's row: 2-3 statements)
  unmatched 404    GET /no/such/page (middleware only, no database)
and the cost of one scrape of /metrics after them. Prints a table and writes
bench/results/metrics.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from tests.fixtures.databases import BACKENDS, fresh_database_url
from tests.fixtures.factories import FACTORY_PASSWORD, make_user

from bench.turns import commit
from newspeech import __version__
from newspeech.app import create_app
from newspeech.config import Settings
from newspeech.db.engine import create_engine, create_sessionmaker, unit_of_work
from newspeech.db.migrations import upgrade

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
    """Mean seconds per request over ``n`` sequential requests."""
    started = time.perf_counter()
    for _ in range(n):
        await client.get(path, headers=headers)
    return (time.perf_counter() - started) / n


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
                started = time.perf_counter()
                scrape = await clients["on"].get("/metrics")
                scrapes.append(time.perf_counter() - started)
                scrape.raise_for_status()
            for client in clients.values():
                await client.aclose()
    return {"per_request": per_request, "scrape_seconds": scrapes}


def summarise(raw: dict[str, Any]) -> dict[str, Any]:
    cases: dict[str, Any] = {}
    for case, variants in raw["per_request"].items():
        on_us = statistics.median(variants["on"]) * 1e6
        off_us = statistics.median(variants["off"]) * 1e6
        cases[case] = {
            "with_metrics_us": round(on_us, 1),
            "without_metrics_us": round(off_us, 1),
            "overhead_us": round(on_us - off_us, 1),
            "overhead_percent": round(100 * (on_us - off_us) / off_us, 1),
            "rounds_us": {k: [round(v * 1e6, 1) for v in vs] for k, vs in variants.items()},
        }
    scrape_ms = statistics.median(raw["scrape_seconds"]) * 1000
    return {"cases": cases, "scrape_ms": round(scrape_ms, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=BACKENDS, default="sqlite")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=2000, help="per case, round and app")
    parser.add_argument("--output", type=Path, default=RESULTS / "metrics.json")
    args = parser.parse_args()
    load_before = os.getloadavg()
    summary = summarise(asyncio.run(run(args)))
    load_after = os.getloadavg()
    header = f"{'case':<18}{'with µs':>10}{'without µs':>12}{'overhead µs':>13}{'%':>7}"
    print(header)
    print("-" * len(header))
    for case, r in summary["cases"].items():
        print(
            f"{case:<18}{r['with_metrics_us']:>10.1f}{r['without_metrics_us']:>12.1f}"
            f"{r['overhead_us']:>13.1f}{r['overhead_percent']:>7.1f}"
        )
    print(
        f"\none /metrics scrape: {summary['scrape_ms']:.2f} ms (median of {args.rounds}); "
        f"{args.backend}, medians of {args.rounds} rounds x {args.requests} requests, "
        f"load average {load_before[0]:.1f} -> {load_after[0]:.1f} on {os.cpu_count()} CPUs"
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        json.dumps(
            {
                "benchmark": "metrics",
                "version": __version__,
                "commit": commit(),
                "python": platform.python_version(),
                "machine": platform.machine(),
                "cpus": os.cpu_count(),
                # The box is shared: a 1-minute load average above the core count means the
                # numbers measure contention as much as the instruments.
                "load_average_1m": {"before": load_before[0], "after": load_after[0]},
                "backend": args.backend,
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
