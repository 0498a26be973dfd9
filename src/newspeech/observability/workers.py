"""Metrics across the worker processes of ``serve --workers N`` (prometheus-client's
multiprocess mode).

The parent (``newspeech serve``) empties the folder and names it in ``PROMETHEUS_MULTIPROC_DIR``
before any worker starts; prometheus-client reads that variable when a worker first imports it
and from then on keeps every value in a small file per worker (``counter_<pid>.db``,
``gauge_livesum_<pid>.db`` ...). A scrape reads all the files. A worker that exits takes its
``live*`` gauges with it: on a clean exit it removes them itself; after a crash the next scrape
finds its process gone and removes them. Its counters and histograms stay, so totals never go
backwards while the server runs.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

ENVIRONMENT = "PROMETHEUS_MULTIPROC_DIR"
"""The variable prometheus-client reads, once, when it is first imported."""

_LIVE_FILE = re.compile(r"gauge_live[a-z]+_(\d+)\.db")


def prepare(folder: Path) -> None:
    """Make ``folder`` empty of metric files (left by an earlier run) and name it for the
    workers about to start: call in the parent, before the first worker."""
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink()
    os.environ[ENVIRONMENT] = str(folder)


def from_environment() -> Path | None:
    """The folder this worker writes its metrics to, or None in a single process."""
    folder = os.environ.get(ENVIRONMENT)
    return Path(folder) if folder else None


def exposition(folder: Path) -> bytes:
    """Every worker's values, combined, in the Prometheus text format."""
    forget_exited(folder)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(folder))  # type: ignore[no-untyped-call]  # untyped
    return generate_latest(registry)


def leave(folder: Path) -> None:
    """This worker is exiting: its ``live*`` gauges stop counting."""
    mark_process_dead(os.getpid(), str(folder))  # type: ignore[no-untyped-call]  # untyped


def forget_exited(folder: Path) -> None:
    """Drop the ``live*`` gauges of workers that are gone without saying so (killed)."""
    pids = {int(m.group(1)) for f in folder.iterdir() if (m := _LIVE_FILE.fullmatch(f.name))}
    for pid in pids:
        if not _running(pid):
            mark_process_dead(pid, str(folder))  # type: ignore[no-untyped-call]  # untyped


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, another user's
    return True
