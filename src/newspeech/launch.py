"""The ``newspeech`` console script's entry point, kept apart from :mod:`newspeech.cli`.

A worker process started with ``spawn`` (the question-import pool, uvicorn's workers) runs the
parent's main script again before its first call, and the script generated for the command
imports its entry point's module at the top. Pointing it here keeps that to this module: the
command, with the app and everything it loads (~4.8 s of CPU), is imported only when it runs.
"""

from __future__ import annotations

from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    from newspeech.cli import main as run_command

    return run_command(argv)
