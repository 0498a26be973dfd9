"""Synthesised utterances on disk: shared by every process on the machine, kept across restarts.

The in-memory :class:`~newspeech.voice.phrase_cache.PhraseCache` is per process, so each
``--workers`` process and each restart synthesised every question, case and fixed phrase
again. This store keeps their audio in files under the data directory, one raw PCM16 file
per utterance, named by a hash of the voice and the words it says; ``newspeech voice
prerender`` fills it for a whole bank ahead of the first exam.

Writes go to a temporary file renamed into place, so a reader in another process sees a whole
file or none. Reading marks a file used (its modification time); when the store outgrows its
budget the least recently used files go first.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import tempfile
from pathlib import Path

from newspeech.voice.spoken import spoken_clauses

logger = logging.getLogger(__name__)

SUFFIX = ".pcm"


class PhraseStore:
    """Audio of cacheable utterances for one voice, in ``folder``, at most ``max_bytes``."""

    def __init__(self, folder: Path, voice: str, sample_rate: int, max_bytes: int) -> None:
        self.folder = folder
        self.voice = voice
        self.sample_rate = sample_rate
        self.max_bytes = max_bytes

    def path(self, text: str) -> Path:
        """The utterance's file: named by the voice, its sample rate and the words it says
        (the spoken form, so a change in how text is read aloud is a new file)."""
        said = "\n".join(spoken_clauses(text))
        key = hashlib.sha256(f"{self.voice}\0{self.sample_rate}\0{said}".encode()).hexdigest()
        return self.folder / key[:2] / f"{key}{SUFFIX}"

    async def get(self, text: str) -> bytes | None:
        """The stored audio, or ``None`` (never stored, or unreadable)."""
        return await asyncio.to_thread(self._read, self.path(text))

    async def put(self, text: str, pcm: bytes) -> None:
        """Store the audio; a failure to write is logged, never raised (the store is a cache)."""
        if not pcm or len(pcm) % 2 or len(pcm) > self.max_bytes:
            return
        try:
            await asyncio.to_thread(self._write, self.path(text), pcm)
        except OSError:
            logger.warning("could not store synthesised audio in %s", self.folder, exc_info=True)

    def _read(self, path: Path) -> bytes | None:
        try:
            pcm = path.read_bytes()
            os.utime(path)  # used now: the last to be pruned
        except FileNotFoundError:
            return None
        except OSError:
            logger.warning("could not read synthesised audio %s", path, exc_info=True)
            return None
        return pcm if pcm and len(pcm) % 2 == 0 else None

    def _write(self, path: Path, pcm: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(pcm)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        self._prune()

    def _prune(self) -> None:
        """Remove the least recently used files until the store is within its budget."""
        files = []
        for path in self.folder.glob(f"*/*{SUFFIX}"):
            try:
                status = path.stat()
            except FileNotFoundError:
                continue  # pruned by another process meanwhile
            files.append((status.st_mtime, status.st_size, path))
        total = sum(size for _, size, _ in files)
        for _, size, path in sorted(files):
            if total <= self.max_bytes:
                break
            path.unlink(missing_ok=True)
            total -= size
