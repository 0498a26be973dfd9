"""The backup archive's manifest: what it holds and each file's SHA-256.

An archive is one tar file::

    manifest.json                      this manifest (first member)
    database/newspeech.dump            PostgreSQL: pg_dump --format=custom
    database/newspeech.sql             MySQL / MariaDB: mariadb-dump --single-transaction
    database/newspeech.db              SQLite: a copy made with the online backup API
    answer-audio/<key>                 the local answer-audio store, one file per recording
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import tarfile
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

from newspeech.errors import ValidationFailed

FORMAT = "newspeech-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DATABASE_DIR = "database"
AUDIO_DIR = "answer-audio"
DATABASE_FILES = {
    "postgresql": "database/newspeech.dump",
    "mysql": "database/newspeech.sql",
    "sqlite": "database/newspeech.db",
}
_CHUNK = 1024 * 1024


class BackupInvalid(ValidationFailed):
    """The archive is not a NewSpeech backup, or a file in it is missing or damaged."""

    code = "backup_invalid"


@dataclass(frozen=True)
class FileEntry:
    path: str
    """Member name inside the archive (POSIX, relative)."""
    size: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    app_version: str
    created_at: str
    """UTC, ISO 8601."""
    database_kind: str
    """``postgresql``, ``mysql`` (MySQL or MariaDB) or ``sqlite``."""
    alembic_revision: str | None
    audio_store: str
    """``local``: the recordings are in the archive; ``s3``: they stay in the bucket."""
    files: tuple[FileEntry, ...] = field(default_factory=tuple)
    format: str = FORMAT
    format_version: int = FORMAT_VERSION

    @property
    def database_file(self) -> str:
        return DATABASE_FILES[self.database_kind]

    @property
    def audio_files(self) -> tuple[FileEntry, ...]:
        return tuple(f for f in self.files if f.path.startswith(AUDIO_DIR + "/"))

    def to_json(self) -> bytes:
        data = asdict(self)
        data["files"] = [asdict(f) for f in self.files]
        return json.dumps(data, indent=2, sort_keys=True).encode() + b"\n"

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        try:
            data: dict[str, Any] = json.loads(raw)
            if data.get("format") != FORMAT:
                raise BackupInvalid("manifest.json is not a NewSpeech backup manifest")
            if data.get("format_version") != FORMAT_VERSION:
                raise BackupInvalid(
                    f"backup format version {data.get('format_version')!r} is not supported "
                    f"(this NewSpeech reads version {FORMAT_VERSION})"
                )
            files = tuple(FileEntry(**entry) for entry in data.pop("files"))
            manifest = cls(**data, files=files)
        except (ValueError, TypeError, KeyError) as exc:
            raise BackupInvalid(f"manifest.json is malformed: {exc}") from exc
        if manifest.database_kind not in DATABASE_FILES:
            raise BackupInvalid(f"unknown database kind {manifest.database_kind!r}")
        for entry in manifest.files:
            safe_member_name(entry.path)
        return manifest


def now_utc() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def safe_member_name(name: str) -> PurePosixPath:
    """``name`` as a relative path that stays inside the folder it is extracted to."""
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts or "\\" in name:
        raise BackupInvalid(f"unsafe path {name!r} in the archive")
    return path


def file_entry(path: Path, name: str) -> FileEntry:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return FileEntry(path=name, size=size, sha256=digest.hexdigest())


def stream_digest(stream: IO[bytes]) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    while chunk := stream.read(_CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return size, digest.hexdigest()


def read_manifest(archive: tarfile.TarFile) -> Manifest:
    try:
        member = archive.getmember(MANIFEST)
    except KeyError as exc:
        raise BackupInvalid("the archive has no manifest.json") from exc
    stream = archive.extractfile(member)
    if stream is None:
        raise BackupInvalid("manifest.json in the archive is not a file")
    with stream:
        return Manifest.from_json(stream.read())


def verify_archive(path: Path) -> Manifest:
    """Check the manifest and every file's size and SHA-256; raise :class:`BackupInvalid`
    naming the first problem. Members the manifest does not list are refused too."""
    try:
        with tarfile.open(path, "r:") as archive:
            manifest = read_manifest(archive)
            listed = {entry.path: entry for entry in manifest.files}
            if manifest.database_file not in listed:
                raise BackupInvalid(f"the manifest lists no {manifest.database_file}")
            seen: set[str] = set()
            for member in archive:
                if member.name == MANIFEST:
                    continue
                if member.isdir():
                    safe_member_name(member.name)
                    continue
                _check_member(archive, member, listed.get(member.name))
                seen.add(member.name)
            missing = sorted(set(listed) - seen)
            if missing:
                raise BackupInvalid(f"{len(missing)} listed file(s) missing, first {missing[0]}")
    except (tarfile.TarError, EOFError) as exc:
        raise BackupInvalid(f"{path} is not a readable tar archive: {exc}") from exc
    return manifest


def _check_member(
    archive: tarfile.TarFile, member: tarfile.TarInfo, entry: FileEntry | None
) -> None:
    safe_member_name(member.name)
    if entry is None:
        raise BackupInvalid(f"{member.name} is in the archive but not in its manifest")
    if not member.isfile():
        raise BackupInvalid(f"{member.name} is not a regular file")
    stream = archive.extractfile(member)
    if stream is None:
        raise BackupInvalid(f"{member.name} cannot be read")
    with stream:
        size, sha256 = stream_digest(stream)
    if size != entry.size or sha256 != entry.sha256:
        raise BackupInvalid(f"{member.name} is damaged: its checksum differs from the manifest")
