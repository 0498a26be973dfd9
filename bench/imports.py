"""Question import benchmark: a 25,000-row CSV bank through the real API, and what the rest of the
server feels meanwhile.

    scripts/bench imports                   # table + bench/results/imports.json
    scripts/bench imports --rows 25000 --database-url postgresql://...  # imports-postgresql.json
    scripts/bench imports --command     # the server as `newspeech serve` runs it (console script)
    scripts/bench imports --loop-steps  # the write phase's event-loop steps, in CPU time

A fresh database (SQLite in a temp folder unless ``--database-url``) is migrated and seeded, and
the app runs under uvicorn in its own process (one worker, speech off, rate limiting off). The
file has ``--rows`` questions in scenarios of ten, placed by name (no scenario ids or question
numbers, the placement the planner does itself), each with keywords, ~4.7 MB at 25,000 rows.
Steps, each timed end to end over HTTP while a prober asks ``GET /healthz`` every 20 ms:

0. a 1-row dry run, which starts the import worker process (once per server), timed apart
   (with ``--command`` the server is the ``newspeech serve`` console script, whose main script
   each spawned worker runs again: the first call's cost as deployed);
1. dry run of the new file (parse + plan, nothing written);
2. the import itself (writes every row);
3. a dry run again (every row now matches a stored question: the compare path).

Goals: the 25,000-row dry run under 2 s; ``/healthz`` under 100 ms (max) during every step.
Each step also records the server's own stage times from the import's ``Server-Timing`` header:
parse (worker), read (the stored questions, one streamed query), plan (worker), write.
Also reported: the worker's parsing and planning alone, in this process, without HTTP, and
``/healthz`` before any import (the idle baseline on this machine at this load).

``--loop-steps`` measures instead what the load cannot blur: the write phase of a real import
(the importer's loop: unpickle a batch, insert it) into a fresh SQLite database per write batch
size, with a ticker on the same event loop every 2 ms; the loop thread's CPU time between two
ticks is the longest a request waits behind the import at each of its own steps (times the
load's slow-down). Written to imports-loop-steps.json.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from tests.exams.serve_process import free_port

from bench._provenance import Run
from bench.api import wait_until_up
from newspeech.config import Settings
from newspeech.db.engine import create_engine, create_sessionmaker, unit_of_work
from newspeech.db.migrations import upgrade
from newspeech.kit.passwords import hash_password
from newspeech.models import UserRole
from newspeech.questions.import_plan import (
    SNAPSHOT_COLUMNS,
    WRITE_BATCH,
    parse_file,
    plan_import,
)
from newspeech.questions.interchange import ImportFormat, parse_questions
from newspeech.questions.repository import QuestionRepository
from newspeech.seed import seed_reference_data
from newspeech.users.repository import UserRepository

RESULTS = Path(__file__).resolve().parent / "results"
PASSWORD = "benchmark passphrase 2026"
GOAL_DRY_RUN_S = 2.0
GOAL_HEALTHZ_MS = 100.0
PROBE_EVERY_S = 0.02


def bank_csv(rows: int) -> bytes:
    """``rows`` questions of one college, ten to a scenario, placed by name."""
    lines = ["college,scenario_name,scenario_description,question,topic,difficulty,keywords,"
             "model_answer,max_score"]  # fmt: skip
    for n in range(rows):
        scenario = n // 10
        lines.append(
            f"medical,Bench case {scenario:05d},A patient with finding {scenario},"
            f"Question {n}: what is the next step for finding {scenario}?,"
            f"Topic {n % 40},medium,finding {n} (2) = sign {n}; next step,"
            f"Next step for {n}.,10"
        )
    return ("\r\n".join(lines) + "\r\n").encode()


async def prepare(settings: Settings) -> None:
    engine = create_engine(settings)
    try:
        await upgrade(engine)
        async with unit_of_work(create_sessionmaker(engine)) as db:
            await seed_reference_data(db)
            await UserRepository(db).create(
                username="admin",
                email="admin@example.org",
                password_hash=hash_password(PASSWORD),
                role=UserRole.ADMIN,
            )
    finally:
        await engine.dispose()


def in_process(data: bytes) -> dict[str, float]:
    """What the worker process does for a dry run of the file on an empty bank, timed alone."""
    started = time.perf_counter()
    parsed = parse_file(data, ImportFormat.CSV, None)
    parsed_at = time.perf_counter()
    plan = plan_import(parsed, {"medical": []}, rows=False)
    assert not plan.issues, plan.issues[:3]
    assert plan.new == len(data.splitlines()) - 1
    return {
        "parse_s": round(parsed_at - started, 3),
        "plan_s": round(time.perf_counter() - parsed_at, 3),
    }


async def ticks(stop: asyncio.Event, gaps: list[float]) -> None:
    """The loop thread's CPU (ms) between ticks every 2 ms, until ``stop`` is set."""
    last = time.thread_time()
    while not stop.is_set():
        await asyncio.sleep(0.002)
        now = time.thread_time()
        gaps.append((now - last) * 1000)
        last = now


async def loop_steps(data: bytes, batch: int) -> dict[str, Any]:
    """Write the file's rows as the importer does, ``batch`` rows a step, into a fresh SQLite
    database; the loop thread's CPU between ticks meanwhile."""
    settings = Settings(
        environment="test",
        data_dir=Path(tempfile.mkdtemp(prefix="newspeech-bench-loop-")),
        speech_enabled=False,
    )
    await prepare(settings)
    engine = create_engine(settings)
    async with unit_of_work(create_sessionmaker(engine)) as db:
        seeded = [
            pickle.dumps(rows)
            async for rows in QuestionRepository(db).snapshots(
                "medical", SNAPSHOT_COLUMNS, batch=200
            )
        ]
    plan = plan_import(parse_questions(data, ImportFormat.CSV), {"medical": seeded})
    plan.pack(batch)  # as it comes back from the worker
    written = 0
    gc.collect()
    gc.freeze()  # as the app does after start-up
    stop = asyncio.Event()
    gaps: list[float] = []
    ticker = asyncio.create_task(ticks(stop, gaps))
    started, cpu = time.perf_counter(), time.thread_time()
    try:
        async with unit_of_work(create_sessionmaker(engine)) as db:
            for rows in plan.row_batches(batch):
                written += await QuestionRepository(db).bulk_insert(rows)
    finally:
        stop.set()
        await ticker
        gc.unfreeze()
        await engine.dispose()
    assert written == plan.new == len(data.splitlines()) - 1
    ordered = sorted(gaps)
    return {
        "write_batch": batch,
        "write_s": round(time.perf_counter() - started, 3),
        "loop_cpu_s": round(time.thread_time() - cpu, 3),
        "ticks": len(ordered),
        "step_cpu_p50_ms": round(statistics.median(ordered), 2),
        "step_cpu_p99_ms": round(ordered[int(0.99 * (len(ordered) - 1))], 2),
        "step_cpu_max_ms": round(ordered[-1], 2),
    }


async def run_loop_steps(args: argparse.Namespace) -> dict[str, Any]:
    provenance = Run("imports")
    data = bank_csv(args.rows)
    sizes = sorted({50, 100, 200, WRITE_BATCH})
    return {
        **provenance.header(),
        "rows": args.rows,
        "by_batch": [await loop_steps(data, n) for n in sizes],
    }


def start_server(settings: Settings, port: int, *, command: bool) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "NEWSPEECH_DATABASE_URL": settings.database_url,
        "NEWSPEECH_DATA_DIR": str(settings.data_dir),
        "NEWSPEECH_SPEECH_ENABLED": "false",
        "NEWSPEECH_RATE_LIMIT_ENABLED": "false",
        "NEWSPEECH_ENVIRONMENT": "test",
    }
    if command:
        script = Path(sys.executable).parent / "newspeech"
        return subprocess.Popen([str(script), "serve", "--port", str(port)], env=env)
    code = (
        "import uvicorn; from newspeech.app import create_app; "
        "from newspeech.config import load_settings; "
        f"uvicorn.run(create_app(load_settings()), host='127.0.0.1', port={port}, "
        "log_level='warning', access_log=False)"
    )
    return subprocess.Popen([sys.executable, "-c", code], env=env)


async def probe(client: httpx.AsyncClient, base: str, stop: asyncio.Event) -> list[float]:
    """``/healthz`` latencies (ms) until ``stop`` is set."""
    latencies: list[float] = []
    while not stop.is_set():
        started = time.perf_counter()
        response = await client.get(f"{base}/healthz")
        latencies.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
        await asyncio.sleep(PROBE_EVERY_S)
    return latencies


async def idle_probe(base: str) -> dict[str, float]:
    stop = asyncio.Event()
    async with httpx.AsyncClient(timeout=30) as prober:
        probing = asyncio.create_task(probe(prober, base, stop))
        await asyncio.sleep(2.0)
        stop.set()
        ordered = sorted(await probing)
    return {
        "probes": len(ordered),
        "p50_ms": round(statistics.median(ordered), 1),
        "max_ms": round(ordered[-1], 1),
    }


async def step(
    client: httpx.AsyncClient, base: str, token: str, data: bytes, *, dry_run: bool
) -> dict[str, Any]:
    stop = asyncio.Event()
    async with httpx.AsyncClient(timeout=30) as prober:
        probing = asyncio.create_task(probe(prober, base, stop))
        await asyncio.sleep(0.2)  # a few probes of the idle server first
        started = time.perf_counter()
        response = await client.post(
            f"{base}/api/v1/question-banks/import",
            files={"file": ("bank.csv", data, "text/csv")},
            data={"dry_run": "true" if dry_run else "false"},
            headers={"Authorization": f"Bearer {token}"},
        )
        seconds = time.perf_counter() - started
        stop.set()
        latencies = await probing
    response.raise_for_status()
    report = response.json()
    ordered = sorted(latencies)
    return {
        "dry_run": dry_run,
        "seconds": round(seconds, 3),
        "stages_s": stages(response.headers.get("Server-Timing", "")),
        "new": report["new"],
        "updated": report["updated"],
        "unchanged": report["unchanged"],
        "errors": report["errors"],
        "healthz_probes": len(latencies),
        "healthz_p50_ms": round(statistics.median(ordered), 1),
        "healthz_p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 1),
        "healthz_p99_ms": round(ordered[int(0.99 * (len(ordered) - 1))], 1),
        "healthz_max_ms": round(ordered[-1], 1),
    }


def stages(header: str) -> dict[str, float]:
    """The server's own account of each stage, from its ``Server-Timing`` header (ms -> s)."""
    found = {}
    for entry in header.split(","):
        name, _, duration = entry.strip().partition(";dur=")
        if duration:
            found[name] = round(float(duration) / 1000, 3)
    return found


async def run(args: argparse.Namespace) -> dict[str, Any]:
    provenance = Run("imports")
    data_dir = Path(tempfile.mkdtemp(prefix="newspeech-bench-imports-"))
    settings = Settings(
        environment="test",
        data_dir=data_dir,
        database_url=args.database_url,
        speech_enabled=False,
    )
    await prepare(settings)
    data = bank_csv(args.rows)
    alone = in_process(data)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(settings, port, command=args.command)
    try:
        await wait_until_up(base, server)
        async with httpx.AsyncClient(timeout=120) as client:
            login = await client.post(
                f"{base}/api/v1/auth/login", json={"username": "admin", "password": PASSWORD}
            )
            login.raise_for_status()
            token = login.json()["access_token"]
            idle = await idle_probe(base)
            # The first import starts the worker process; timed on its own (once per server).
            warm = await step(client, base, token, bank_csv(1), dry_run=True)
            steps = [
                await step(client, base, token, data, dry_run=True),
                await step(client, base, token, data, dry_run=False),
                await step(client, base, token, data, dry_run=True),
            ]
    finally:
        server.terminate()
        server.wait(timeout=30)
    return {
        **provenance.header(),
        "backend": settings.backend,
        "rows": args.rows,
        "bytes": len(data),
        "in_process": alone,
        "healthz_idle": idle,
        "server": "newspeech serve" if args.command else "python -c uvicorn.run(create_app())",
        "worker_start_s": warm["seconds"],
        "steps": steps,
        "goals": {"dry_run_s": GOAL_DRY_RUN_S, "healthz_max_ms": GOAL_HEALTHZ_MS},
        "dry_run_met": steps[0]["seconds"] < GOAL_DRY_RUN_S,
        "healthz_met": all(s["healthz_max_ms"] < GOAL_HEALTHZ_MS for s in steps),
    }


def print_table(result: dict[str, Any]) -> None:
    print(
        f"{result['rows']} rows, {result['bytes'] / 1e6:.1f} MB CSV, {result['backend']}; "
        f"commit {result['commit']}, load average {result['load_average_before']} → "
        f"{result['load_average_after']}"
    )
    alone = result["in_process"]
    print(f"in process: parse {alone['parse_s']:.2f} s, plan {alone['plan_s']:.2f} s")
    print(
        f"worker process start (first import, a 1-row dry run, server {result['server']}): "
        f"{result['worker_start_s']} s"
    )
    idle = result["healthz_idle"]
    print(f"/healthz idle: p50 {idle['p50_ms']:.1f} ms, max {idle['max_ms']:.1f} ms")
    header = f"{'step':<22}{'s':>7}{'parse':>7}{'read':>6}{'plan':>6}{'write':>6}{'new':>7}"
    print(header + f"{'same':>7}{'probes':>7}{'hz p50':>8}{'hz p99':>8}{'hz max':>8}")
    names = ["dry run (new file)", "import", "dry run (all stored)"]
    for name, s in zip(names, result["steps"], strict=True):
        stage = s["stages_s"]
        print(
            f"{name:<22}{s['seconds']:>7.2f}{stage.get('parse', 0):>7.2f}"
            f"{stage.get('read', 0):>6.2f}{stage.get('plan', 0):>6.2f}"
            f"{stage.get('write', 0):>6.2f}{s['new']:>7}{s['unchanged']:>7}"
            f"{s['healthz_probes']:>7}{s['healthz_p50_ms']:>8.1f}{s['healthz_p99_ms']:>8.1f}"
            f"{s['healthz_max_ms']:>8.1f}"
        )
    print(
        f"goals: dry run < {GOAL_DRY_RUN_S} s: {'met' if result['dry_run_met'] else 'MISSED'}; "
        f"/healthz < {GOAL_HEALTHZ_MS:g} ms: {'met' if result['healthz_met'] else 'MISSED'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=25_000)
    parser.add_argument("--database-url", default="", help="default: SQLite in a temp folder")
    parser.add_argument(
        "--command", action="store_true", help="serve with the `newspeech serve` console script"
    )
    parser.add_argument(
        "--loop-steps", action="store_true", help="the write phase's loop steps (SQLite only)"
    )
    args = parser.parse_args()
    if args.loop_steps:
        steps = asyncio.run(run_loop_steps(args))
        print(f"{args.rows} rows written into SQLite; load average {steps['load_average_before']}")
        print(
            f"{'batch':>6}{'write s':>9}{'loop cpu s':>11}{'ticks':>7}"
            f"{'step p50':>10}{'p99':>7}{'max ms':>8}"
        )
        for b in steps["by_batch"]:
            print(
                f"{b['write_batch']:>6}{b['write_s']:>9.2f}{b['loop_cpu_s']:>11.2f}{b['ticks']:>7}"
                f"{b['step_cpu_p50_ms']:>10.2f}{b['step_cpu_p99_ms']:>7.2f}{b['step_cpu_max_ms']:>8.2f}"
            )
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "imports-loop-steps.json").write_text(json.dumps(steps, indent=2) + "\n")
        return
    result = asyncio.run(run(args))
    print_table(result)
    RESULTS.mkdir(exist_ok=True)
    name = "imports" if result["backend"] == "sqlite" else f"imports-{result['backend']}"
    name += "-command.json" if args.command else ".json"
    (RESULTS / name).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
