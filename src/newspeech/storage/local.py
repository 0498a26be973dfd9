"""Audio in a folder on this machine (the default): ``<data dir>/answer-audio/<key>``."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO

from newspeech.storage.protocols import ObjectMissing, StorageFailed, check_key


class LocalAudioStore:
    """Files under ``root``. Writes go to a temporary file first and are renamed into place, so
    a reader never sees half an object. File calls run in a thread, off the event loop."""

    name = "local"

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def path_of(self, key: str) -> Path:
        path = (self.root / check_key(key)).resolve()
        if not path.is_relative_to(self.root):  # a symlink inside the folder pointing out
            raise ValueError(f"storage key {key!r} leaves the audio folder")
        return path

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self.path_of(key)
        try:
            await asyncio.to_thread(_write_atomically, path, data)
        except OSError as exc:
            raise StorageFailed(f"cannot write {key} under {self.root}: {exc.strerror}") from exc

    async def put_file(self, key: str, source: BinaryIO, content_type: str) -> None:
        path = self.path_of(key)
        try:
            await asyncio.to_thread(_copy_atomically, path, source)
        except OSError as exc:
            raise StorageFailed(f"cannot write {key} under {self.root}: {exc.strerror}") from exc

    async def download_to(self, key: str, target: Path) -> None:
        path = self.path_of(key)
        try:
            await asyncio.to_thread(shutil.copyfile, path, target)
        except FileNotFoundError as exc:
            raise ObjectMissing(f"no stored object {key}") from exc
        except OSError as exc:
            raise StorageFailed(f"cannot read {key} under {self.root}: {exc.strerror}") from exc

    def local_path(self, key: str) -> Path | None:
        return self.path_of(key)

    async def get(self, key: str, start: int = 0, end: int | None = None) -> bytes:
        path = self.path_of(key)
        try:
            return await asyncio.to_thread(_read_range, path, start, end)
        except FileNotFoundError as exc:
            raise ObjectMissing(f"no stored object {key}") from exc
        except OSError as exc:
            raise StorageFailed(f"cannot read {key} under {self.root}: {exc.strerror}") from exc

    async def size(self, key: str) -> int | None:
        path = self.path_of(key)
        try:
            return (await asyncio.to_thread(path.stat)).st_size
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageFailed(f"cannot read {key} under {self.root}: {exc.strerror}") from exc

    async def exists(self, key: str) -> bool:
        return await self.size(key) is not None

    async def delete(self, key: str) -> None:
        path = self.path_of(key)
        try:
            await asyncio.to_thread(path.unlink, missing_ok=True)
        except OSError as exc:
            raise StorageFailed(f"cannot delete {key} under {self.root}: {exc.strerror}") from exc

    async def check(self) -> None:
        try:
            await asyncio.to_thread(self.root.mkdir, parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageFailed(
                f"cannot create the audio folder {self.root}: {exc.strerror}"
            ) from exc
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise StorageFailed(f"the audio folder {self.root} is not writable")

    async def aclose(self) -> None:
        return None


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".part-")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _copy_atomically(path: Path, source: BinaryIO) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".part-")
    try:
        with os.fdopen(fd, "wb") as file:
            shutil.copyfileobj(source, file, _COPY_CHUNK)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


_COPY_CHUNK = 1024 * 1024


def _read_range(path: Path, start: int, end: int | None) -> bytes:
    with path.open("rb") as file:
        file.seek(start)
        return file.read(-1 if end is None else max(end - start + 1, 0))
