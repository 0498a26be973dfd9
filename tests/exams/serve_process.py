"""``newspeech serve`` as a real process for the fault and multi-node tests."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

START_SECONDS = 240.0
"""Real seconds a server may take to load its speech models on a loaded CI box (an outcome
waited for, not a timing assertion)."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@asynccontextmanager
async def newspeech_serve(
    env: dict[str, str], port: int, *options: str, log: Path | None = None
) -> AsyncIterator[asyncio.subprocess.Process]:
    """``newspeech serve`` in its own process, once ``/readyz`` says it is ready; its output
    goes to ``log`` when given (read it when a test fails)."""
    output = log.open("ab") if log is not None else None
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import sys; from newspeech.cli import main; sys.exit(main())",
        "serve",
        "--port",
        str(port),
        *options,
        env=os.environ | env,
        stdout=output or asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.STDOUT if output else asyncio.subprocess.DEVNULL,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            for _ in range(int(START_SECONDS / 0.25)):
                if process.returncode is not None:
                    raise AssertionError(f"newspeech serve exited with {process.returncode}")
                try:
                    if (await client.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass  # not listening yet
                await asyncio.sleep(0.25)
            else:
                raise AssertionError(f"newspeech serve was not ready after {START_SECONDS} s")
        yield process
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
                await process.wait()
        if output is not None:
            output.close()
