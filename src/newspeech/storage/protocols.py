"""The :class:`AudioStore` port and the key rules every implementation enforces."""

from __future__ import annotations

import re
from pathlib import Path
from typing import BinaryIO, Protocol

from newspeech.errors import NotFound, UpstreamError

# Keys are relative, slash-separated names of plain segments: no empty, "." or ".." segment, no
# leading slash, no backslash, nothing a file system or an S3 gateway could read as a path step.
_SEGMENT = r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}"
_KEY = re.compile(rf"{_SEGMENT}(?:/{_SEGMENT}){{0,7}}")
MAX_KEY_LENGTH = 255  # answers.answer_audio_path is VARCHAR(255)


class StorageFailed(UpstreamError):
    """The store could not be reached or refused the operation."""

    code = "storage_failed"


class ObjectMissing(NotFound):
    """No object under that key (never stored, purged or deleted)."""

    code = "object_missing"


def check_key(key: str) -> str:
    """``key`` if it is a safe object key; ``ValueError`` otherwise."""
    if len(key) > MAX_KEY_LENGTH or not _KEY.fullmatch(key) or ".." in key:
        raise ValueError(f"unsafe storage key {key[:80]!r}")
    return key


class AudioStore(Protocol):
    """Where recorded audio lives. Keys are checked with :func:`check_key`; every method may
    raise :class:`StorageFailed`; reads of an absent key raise :class:`ObjectMissing`."""

    name: str
    """``local`` or ``s3`` (shown in logs and audit rows)."""

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store ``data`` under ``key``, replacing any object there."""
        ...

    async def put_file(self, key: str, source: BinaryIO, content_type: str) -> None:
        """Store what is left to read in ``source`` under ``key``, a piece at a time (a
        recording of gigabytes is never held in memory); readers never see half of it."""
        ...

    async def download_to(self, key: str, target: Path) -> None:
        """Copy the object into the file ``target``, a piece at a time."""
        ...

    def local_path(self, key: str) -> Path | None:
        """The file holding the object when the store is a folder on this machine (read it in
        place), else ``None``."""
        ...

    async def get(self, key: str, start: int = 0, end: int | None = None) -> bytes:
        """Bytes ``start`` to ``end`` inclusive (``None``: to the end) of the object."""
        ...

    async def size(self, key: str) -> int | None:
        """The object's length in bytes, ``None`` when there is none."""
        ...

    async def exists(self, key: str) -> bool: ...

    async def delete(self, key: str) -> None:
        """Remove the object; deleting an absent key is not an error."""
        ...

    async def check(self) -> None:
        """Raise :class:`StorageFailed` unless the store can be used (``retryable``: it may
        work later, e.g. the server is down; otherwise the configuration is wrong)."""
        ...

    async def aclose(self) -> None: ...
