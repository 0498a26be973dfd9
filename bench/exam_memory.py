"""What a connected exam holds in memory: heap snapshots around real exams (issue 15).

    scripts/bench exam_memory                  # 1 exam to warm, then 10 at once
    scripts/bench exam_memory --exams 20 --top 25

The server of bench/latency.py (real exam, hybrid grader, SQLite) runs with its Python
allocations traced (bench/_heap_server.py). One exam warms it (first-use allocations of the
engines, caches, the database); then ``--exams`` real exams run at once, students starting
``--stagger`` s apart, and the server is snapshot while all of them are connected (``--at``
seconds after the last one started) and again once they have ended. Printed: RSS, the C heap
(glibc: in use and free but kept) and the traced Python heap at each point; the largest growths
by line (and by traceback with ``--traceback``) from the warm snapshot to the one under load,
per exam; and what is left once the exams ended (a leak shows there). tracemalloc slows the
server: this measures memory, never latency.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from bench.latency import Exams, free_port, real_answers, run_exams, sign_in, wait_for_server
from newspeech.client.candidate import ExamReport

RESULTS = Path(__file__).resolve().parent / "results"


async def snapshot(server: subprocess.Popen[bytes], folder: Path, number: int) -> dict[str, Any]:
    server.send_signal(signal.SIGUSR1)
    done = folder / f"{number}.done"
    while not done.exists():  # noqa: ASYNC110 - another process writes it
        await asyncio.sleep(0.1)
    record: dict[str, Any] = pickle.loads((folder / f"{number}.pickle").read_bytes())
    return record


def describe(label: str, record: dict[str, Any]) -> dict[str, float]:
    rss, heap = record["rss"], record["c_heap"]
    row = {
        "rss_mb": rss["VmRSS"] / 1024,
        "rss_anon_mb": rss["RssAnon"] / 1024,
        "c_heap_in_use_mb": heap["uordblks"] / 2**20,
        "c_heap_free_kept_mb": heap["fordblks"] / 2**20,
        "c_mmapped_mb": heap["hblkhd"] / 2**20,
        "python_traced_mb": record["traced"][0] / 2**20,
        "threads": float(rss["Threads"]),
        "rss_peak_so_far_mb": rss["VmHWM"] / 1024,
    }
    print(
        f"{label:<28}RSS {row['rss_mb']:8.1f}  anon {row['rss_anon_mb']:8.1f}  "
        f"C heap in use {row['c_heap_in_use_mb']:7.1f}  free kept {row['c_heap_free_kept_mb']:7.1f}"
        f"  mmapped {row['c_mmapped_mb']:7.1f}  Python {row['python_traced_mb']:7.1f} MB"
        f"  threads {rss['Threads']}  peak RSS so far {row['rss_peak_so_far_mb']:.1f} MB"
    )
    return row


def growth(
    before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, key: str, top: int, per: int
) -> list[dict[str, Any]]:
    rows = []
    for stat in after.compare_to(before, key)[:top]:
        where = stat.traceback.format(limit=None if key == "traceback" else 1)
        rows.append(
            {
                "where": [line.strip() for line in where if line.strip()],
                "growth_kb_per_exam": round(stat.size_diff / 1024 / per, 1),
                "blocks_per_exam": round(stat.count_diff / per, 1),
            }
        )
    return rows


def print_growth(title: str, rows: list[dict[str, Any]]) -> None:
    print(f"\n{title}")
    for row in rows:
        where = row["where"]
        size, blocks = row["growth_kb_per_exam"], row["blocks_per_exam"]
        print(f"  {size:>9.1f} kB {blocks:>8.1f} blocks  {where[0]}")
        for line in where[1:]:
            print(f"  {'':>27}  {line}")


def start_server(args: argparse.Namespace, port: int, folder: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench._heap_server",
            "--dump-dir",
            str(folder),
            "--frames",
            str(args.frames),
            "--port",
            str(port),
            "--students",
            str(args.exams + 1),
        ],
        cwd=Path(__file__).resolve().parents[1],
    )


async def bench(
    args: argparse.Namespace, server: subprocess.Popen[bytes], port: int, folder: Path
) -> dict[str, Any]:
    try:
        audio = await real_answers(args.questions)
        await wait_for_server(port, server)
        tokens = await sign_in(port, args.exams + 1)
        url = f"ws://127.0.0.1:{port}/ws/exam"
        numbers = iter(range(1, 100))
        idle = await snapshot(server, folder, next(numbers))
        points = {"idle (models warm)": describe("idle (models warm)", idle)}
        warm_exams = Exams(url, audio, tokens[:1], end_after=args.questions, open_timeout=120.0)
        await run_exams(warm_exams, 1)
        await asyncio.sleep(3.0)  # the last answer's audio is encoded in the background
        warm = await snapshot(server, folder, next(numbers))
        points["after 1 exam"] = describe("after 1 exam", warm)
        exams = Exams(
            url,
            audio,
            tokens[1:],
            end_after=args.questions,
            stagger=args.stagger,
            open_timeout=120.0,
        )
        running = asyncio.create_task(run_exams(exams, args.exams))
        await asyncio.sleep(args.stagger * args.exams + args.at)
        loaded = await snapshot(server, folder, next(numbers))
        points[f"{args.exams} exams connected"] = describe(f"{args.exams} exams connected", loaded)
        reports: list[ExamReport] = await running
        await asyncio.sleep(3.0)
        after = await snapshot(server, folder, next(numbers))
        points["after they ended"] = describe("after they ended", after)
    finally:
        server.terminate()  # it drains its sittings first, like a production server
        try:
            await asyncio.to_thread(server.wait, 60)
        except subprocess.TimeoutExpired:
            server.kill()
            await asyncio.to_thread(server.wait)
    connected = loaded["rss"]["VmRSS"] - warm["rss"]["VmRSS"]
    first = warm["rss"]["VmRSS"] - idle["rss"]["VmRSS"]
    print(
        f"\nRSS grown by the first exam: {first / 1024:.1f} MB; under load beyond that: "
        f"{connected / 1024:.1f} MB, {connected / 1024 / args.exams:.2f} MB per connected exam; "
        f"as bench/latency.py counts it ((under load - idle) / exams): "
        f"{(connected + first) / 1024 / args.exams:.2f} MB"
    )
    by_line: list[dict[str, Any]] = []
    by_trace: list[dict[str, Any]] = []
    left: list[dict[str, Any]] = []
    if args.frames:
        by_line = growth(warm["snapshot"], loaded["snapshot"], "lineno", args.top, args.exams)
        print_growth("Python heap growth, warm -> under load, per exam (by line):", by_line)
        if args.traceback:
            by_trace = growth(
                warm["snapshot"], loaded["snapshot"], "traceback", args.top, args.exams
            )
            print_growth("... by traceback:", by_trace)
        left = growth(warm["snapshot"], after["snapshot"], "lineno", args.top, args.exams)
        print_growth("left once they ended, per exam (by line):", left)
    return {
        "benchmark": "exam_memory",
        "exams": args.exams,
        "questions": args.questions,
        "stagger_seconds": args.stagger,
        "snapshot_seconds_after_last_start": args.at,
        "completed": sum(r.result is not None for r in reports),
        "errors": sum(len(r.errors) for r in reports),
        "load_average": os.getloadavg(),
        "points": {k: {n: round(v, 1) for n, v in p.items()} for k, p in points.items()},
        "rss_first_exam_mb": round(first / 1024, 1),
        "rss_per_connected_exam_mb": round(connected / 1024 / args.exams, 2),
        "rss_per_exam_as_latency_counts_mb": round((connected + first) / 1024 / args.exams, 2),
        "python_growth_per_exam_by_line": by_line,
        "python_growth_per_exam_by_traceback": by_trace,
        "python_left_per_exam_by_line": left,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--exams", type=int, default=10, help="exams at once (default 10)")
    parser.add_argument("--questions", type=int, default=3)
    parser.add_argument("--stagger", type=float, default=0.5)
    parser.add_argument(
        "--at", type=float, default=20.0, help="seconds after the last start to snapshot"
    )
    parser.add_argument(
        "--frames",
        type=int,
        default=0,
        help="trace Python allocations this deep (default 0: RSS and C heap only; tracing "
        "slows the server several times over, too much on a loaded box)",
    )
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--traceback", action="store_true", help="also group by traceback")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS / "exam_memory.json")
    args = parser.parse_args()
    started = time.perf_counter()
    port = args.port or free_port()
    folder = Path(tempfile.mkdtemp(prefix="newspeech-heap-"))
    server = start_server(args, port, folder)
    result = asyncio.run(bench(args, server, port, folder))
    result["wall_seconds"] = round(time.perf_counter() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
