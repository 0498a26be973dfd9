"""Where and on what a benchmark ran: the header every result JSON starts with."""

from __future__ import annotations

import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any

from newspeech import __version__

ROOT = Path(__file__).resolve().parents[1]


def commit() -> str:
    """The checkout's short commit, ``+dirty`` when source, tests or benches are changed."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    return f"{head}+dirty" if git("status", "--porcelain", "--", "src", "tests", "bench") else head


class Run:
    """Started when a benchmark starts; :meth:`header` when it ends (the load average before
    and after says how busy the machine was while it ran)."""

    def __init__(self, benchmark: str) -> None:
        self.benchmark = benchmark
        self._load_before = os.getloadavg()
        self._started = time.perf_counter()

    def header(self) -> dict[str, Any]:
        return {
            "benchmark": self.benchmark,
            "version": __version__,
            "commit": commit(),
            "python": platform.python_version(),
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "load_average_before": [round(x, 2) for x in self._load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
            "wall_seconds": round(time.perf_counter() - self._started, 1),
        }
