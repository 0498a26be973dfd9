"""Argon2id settings: how fast a class signs in with each of OWASP's recommended settings.

    scripts/bench passwords                  # 200 sign-ins per setting
    scripts/bench passwords --logins 400

OWASP's Password Storage Cheat Sheet lists five equivalent Argon2id settings (m = memory in
MiB, t = passes, p = 1): 46/1, 19/2, 12/3, 9/4, 7/5. Each is measured against the setting
NewSpeech used before (argon2-cffi's default, RFC 9106's low-memory profile: 64 MiB, t=3,
p=4), the way the app verifies a sign-in: in the default thread pool of ``asyncio.to_thread``
(the C library releases the GIL), ``--logins`` verifications at once, i.e. a class that signs
in together. Per setting: one verification's median time alone, the wall time for the whole
class, and the CPU time it took (this process's, all threads). The box is shared: under a
neighbour's load the wall time measures the contention, while the CPU time per sign-in does not
change with it, so the table also gives the class's time on this box's cores when idle (CPU time
/ cores; Argon2 with p=1 keeps one core busy per sign-in and needs no other resource). Goal: 200
sign-ins within 10 s. Prints a table and writes bench/results/passwords.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher

from bench._provenance import Run
from newspeech.kit.passwords import PARAMETERS, argon2id

RESULTS = Path(__file__).resolve().parent / "results"
PASSWORD = "benchmark passphrase 2026"
GOAL_SECONDS = 10.0
GOAL_CLASS = 200
SETTINGS: dict[str, dict[str, int]] = {
    "RFC 9106 low-memory (before)": {"memory_cost": 65536, "time_cost": 3, "parallelism": 4},
    "OWASP m=46 MiB t=1": {"memory_cost": 47104, "time_cost": 1, "parallelism": 1},
    "OWASP m=19 MiB t=2": {"memory_cost": 19456, "time_cost": 2, "parallelism": 1},
    "OWASP m=12 MiB t=3": {"memory_cost": 12288, "time_cost": 3, "parallelism": 1},
    "OWASP m=9 MiB t=4": {"memory_cost": 9216, "time_cost": 4, "parallelism": 1},
    "OWASP m=7 MiB t=5": {"memory_cost": 7168, "time_cost": 5, "parallelism": 1},
}


async def measure(hasher: PasswordHasher, logins: int, alone: int) -> dict[str, float]:
    stored = hasher.hash(PASSWORD)
    single = []
    for _ in range(alone):
        start = time.perf_counter()
        hasher.verify(stored, PASSWORD)
        single.append((time.perf_counter() - start) * 1000.0)
    start, cpu_start = time.perf_counter(), time.process_time()
    await asyncio.gather(
        *(asyncio.to_thread(hasher.verify, stored, PASSWORD) for _ in range(logins))
    )
    seconds = time.perf_counter() - start
    cpu_ms = (time.process_time() - cpu_start) * 1000.0 / logins
    cores = os.cpu_count() or 1
    return {
        "verify_ms_median": round(statistics.median(single), 1),
        "class_seconds": round(seconds, 2),
        "logins_per_second": round(logins / seconds, 1),
        "class_of_200_seconds": round(GOAL_CLASS * seconds / logins, 2),
        "cpu_ms_per_login": round(cpu_ms, 1),
        "class_of_200_seconds_idle": round(GOAL_CLASS * cpu_ms / 1000.0 / cores, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logins", type=int, default=GOAL_CLASS)
    parser.add_argument("--alone", type=int, default=10, help="single verifications timed")
    parser.add_argument("--output", type=Path, default=RESULTS / "passwords.json")
    args = parser.parse_args()
    run = Run("passwords")
    results: dict[str, Any] = {}
    for name, parameters in SETTINGS.items():
        print(f"... {name}", flush=True)
        results[name] = parameters | asyncio.run(
            measure(argon2id(parameters), args.logins, args.alone)
        )
    header = (
        f"{'setting':<32}{'verify ms':>10}{'logins/s':>10}{'200 in s':>10}"
        f"{'CPU ms':>8}{'200 idle s':>11}"
    )
    print(header)
    print("-" * len(header))
    for name, r in results.items():
        chosen = " <- NewSpeech" if {k: r[k] for k in PARAMETERS} == PARAMETERS else ""
        print(
            f"{name:<32}{r['verify_ms_median']:>10.1f}{r['logins_per_second']:>10.1f}"
            f"{r['class_of_200_seconds']:>10.2f}{r['cpu_ms_per_login']:>8.1f}"
            f"{r['class_of_200_seconds_idle']:>11.2f}{chosen}"
        )
    head = run.header()
    print(
        f"\ngoal: a class of {GOAL_CLASS} signs in within {GOAL_SECONDS:.0f} s "
        f"({head['cpus']} cores, load average {head['load_average_before'][0]} -> "
        f"{head['load_average_after'][0]})"
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        json.dumps(
            head | {"logins": args.logins, "chosen": PARAMETERS, "results": results}, indent=2
        )
    )
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
