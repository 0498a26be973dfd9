"""The ``newspeech`` command as the import worker sees it: a spawned worker process runs the
parent's main script again (as ``__mp_main__``), so the script must load no more than its own
few lines; the command itself loads when it runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(sys.executable).parent / "newspeech"

# The parent as `newspeech serve` is: its __main__ is the console script (the spawn start
# method reads __main__.__file__ to prepare each worker).
PARENT = """
import asyncio, sys
sys.modules["__main__"].__file__ = sys.argv[1]
from newspeech.kit.process_pool import ProcessPool

async def loaded():
    pool = ProcessPool()
    try:
        return await pool.run(eval, "sorted(__import__('sys').modules)")
    finally:
        pool.close()

print("\\n".join(asyncio.run(loaded())))
"""


def test_the_import_worker_of_the_newspeech_command_loads_neither_the_cli_nor_the_app() -> None:
    assert SCRIPT.is_file()
    run = subprocess.run(
        [sys.executable, "-c", PARENT, str(SCRIPT)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    modules = set(run.stdout.split())
    assert "newspeech.kit.process_pool" in modules  # the worker did run
    assert "__mp_main__" in modules  # and ran the command's script
    assert not {"newspeech.cli", "newspeech.app", "fastapi", "sqlalchemy"} & modules


def test_the_newspeech_command_still_runs() -> None:
    run = subprocess.run(
        [str(SCRIPT), "--help"], capture_output=True, text=True, timeout=120, check=True
    )
    assert "serve" in run.stdout
