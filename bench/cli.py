"""How much a ``newspeech`` command costs before it does anything: the CLI's start-up.

    scripts/bench cli                          # this checkout, 5 runs per command
    scripts/bench cli --against 45b33d2        # and an earlier commit's source, run alternately

Every command (and every test that runs the CLI as a subprocess, much of ``scripts/test
--fast``) pays for what ``newspeech.cli`` and the command import. Each command runs as a child
process on a scratch SQLite data folder; the table gives the median CPU seconds (user + system,
from the children's resource usage, so a busy neighbour barely moves it) and the median wall
seconds (which it does move). With ``--against REV`` the same commands run from that commit's
``src`` (``git archive``, same virtual environment), alternating with this checkout, so both see
the same load. Prints a table and writes bench/results/cli.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path
from typing import Any

from bench._provenance import ROOT, Run

RESULTS = Path(__file__).resolve().parent / "results"
COMMANDS: dict[str, list[str]] = {
    "--help": ["--help"],
    "db current": ["db", "current"],
    "questions import --help": ["questions", "import", "--help"],
    "backup verify (missing file)": ["backup", "verify", "/nonexistent.tar"],
}


def _source_of(revision: str, into: Path) -> Path:
    archive = subprocess.run(
        ["git", "archive", revision, "src"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def _once(arguments: list[str], source: Path, data_dir: Path) -> tuple[float, float]:
    """One run of the command from ``source``: (CPU seconds, wall seconds)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("NEWSPEECH_")}
    environment |= {"NEWSPEECH_DATA_DIR": str(data_dir), "PYTHONPATH": str(source)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "newspeech.cli", *arguments],
        env=environment,
        capture_output=True,
        check=False,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per command and source")
    parser.add_argument("--against", metavar="REV", help="also run an earlier commit's source")
    parser.add_argument("--output", type=Path, default=RESULTS / "cli.json")
    args = parser.parse_args()
    run = Run("cli")
    with tempfile.TemporaryDirectory() as scratch:
        sources = {"this checkout": ROOT / "src"}
        if args.against:
            sources = {args.against: _source_of(args.against, Path(scratch) / "old")} | sources
        data_dir = Path(scratch) / "data"
        data_dir.mkdir()
        samples: dict[str, dict[str, list[tuple[float, float]]]] = {
            name: {label: [] for label in sources} for name in COMMANDS
        }
        for _ in range(args.runs):
            for name, arguments in COMMANDS.items():
                for label, source in sources.items():
                    samples[name][label].append(_once(arguments, source, data_dir))
    results: dict[str, Any] = {
        name: {
            label: {
                "cpu_seconds_median": round(statistics.median(c for c, _ in runs), 2),
                "wall_seconds_median": round(statistics.median(w for _, w in runs), 2),
            }
            for label, runs in by_source.items()
        }
        for name, by_source in samples.items()
    }
    header = f"{'command':<32}{'source':<16}{'CPU s':>8}{'wall s':>8}"
    print(header)
    print("-" * len(header))
    for name, by_source in results.items():
        for label, r in by_source.items():
            print(
                f"{name:<32}{label:<16}{r['cpu_seconds_median']:>8.2f}"
                f"{r['wall_seconds_median']:>8.2f}"
            )
    head = run.header()
    print(
        f"\n{args.runs} runs each, medians; load average {head['load_average_before'][0]} -> "
        f"{head['load_average_after'][0]} on {head['cpus']} cores"
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(head | {"runs": args.runs, "results": results}, indent=2))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
