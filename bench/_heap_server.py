"""bench/_latency_server.py with the heap watched: what bench/exam_memory.py measures.

On ``SIGUSR1`` the server writes a snapshot of its traced Python allocations, its RSS and
glibc's own account of the C heap (``mallinfo2``: bytes in use, bytes free but kept) to
``--dump-dir``/N.pickle, N counting from 1. Python allocations are traced (:mod:`tracemalloc`,
``--frames`` deep; 0 traces nothing) from the first signal on, not while the models load
(tracing slows that several times over): the first snapshot is empty, and later ones show
what was allocated since.

    python -m bench._heap_server --port 8765 --dump-dir /tmp/heap [--frames 12]
"""

from __future__ import annotations

import argparse
import pickle
import signal
import sys
import threading
import tracemalloc
from pathlib import Path
from types import FrameType
from typing import Any

from bench import _latency_server
from newspeech.kit import heap


def rss_kib() -> dict[str, int]:
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile", "VmHWM", "Threads"):
            fields[key] = int(value.split()[0])
    return fields


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dump-dir", type=Path, required=True)
    parser.add_argument("--frames", type=int, default=12, help="0: RSS and C heap only")
    args, rest = parser.parse_known_args()
    args.dump_dir.mkdir(parents=True, exist_ok=True)
    counter = iter(range(1, 1_000_000))
    lock = threading.Lock()

    def dump(_signum: int, _frame: FrameType | None) -> None:
        with lock:
            number = next(counter)
            if args.frames and not tracemalloc.is_tracing():
                tracemalloc.start(args.frames)
            snapshot = tracemalloc.take_snapshot() if args.frames else None
            record: dict[str, Any] = {
                "snapshot": snapshot,
                "traced": tracemalloc.get_traced_memory() if args.frames else (0, 0),
                "rss": rss_kib(),
                "c_heap": heap.account(),
                "threads": threading.active_count(),
            }
            (args.dump_dir / f"{number}.pickle").write_bytes(pickle.dumps(record))
            (args.dump_dir / f"{number}.done").touch()

    signal.signal(signal.SIGUSR1, dump)
    sys.argv = [sys.argv[0], *rest]
    _latency_server.main()


if __name__ == "__main__":
    main()
