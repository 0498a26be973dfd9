"""``newspeech backup create | verify | restore``: the database and the answer audio in one
archive with a manifest (:mod:`newspeech.backup.manifest`).

A backup may be taken while exams run: the database is dumped first (one consistent snapshot),
then the audio folder is copied, so every recording the snapshot refers to is already on disk
(a recording still being encoded then is in the next backup). A restore wants the app stopped.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import io
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import MetaData, func, inspect, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from newspeech import __version__
from newspeech.backup.dumps import dump_database, load_database
from newspeech.backup.manifest import (
    AUDIO_DIR,
    MANIFEST,
    FileEntry,
    Manifest,
    file_entry,
    now_utc,
    safe_member_name,
    verify_archive,
)
from newspeech.config import Settings
from newspeech.db import migrations
from newspeech.db.engine import create_engine
from newspeech.errors import Conflict, ValidationFailed

ARCHIVE_PREFIX = "newspeech-"
"""Default archive names: ``newspeech-20261206T200000Z.tar`` (sorting by name sorts by time)."""
_PARTIAL_PREFIX = ".part-"
"""The local store's files being written (renamed into place when whole): never backed up."""


class TargetNotEmpty(Conflict):
    code = "restore_target_not_empty"


@dataclass(frozen=True)
class RestoreReport:
    manifest: Manifest
    row_counts: dict[str, int]
    recordings: int
    head: str | None
    """The code's migration head; differs from the archive's revision when an upgrade is due."""


def default_archive_path(settings: Settings, now: dt.datetime) -> Path:
    return settings.data_dir / "backups" / f"{ARCHIVE_PREFIX}{now:%Y%m%dT%H%M%SZ}.tar"


class ArchiveExists(Conflict):
    code = "backup_exists"


async def create_backup(settings: Settings, output: Path) -> Manifest:
    engine = create_engine(settings)
    try:
        revision = await migrations.current_revision(engine)
    finally:
        await engine.dispose()
    return await asyncio.to_thread(_write_archive, settings, output, revision)


def _write_archive(settings: Settings, output: Path, revision: str | None) -> Manifest:
    if output.exists():
        raise ArchiveExists(f"{output} exists already; name another file (-o) or move it away")
    kind = settings.backend
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=output.parent, prefix=".backup-") as scratch:
        manifest = Manifest(
            app_version=__version__,
            created_at=now_utc(),
            database_kind=kind,
            alembic_revision=revision,
            audio_store=settings.audio_store,
        )
        dump = Path(scratch) / "database"
        dump_database(kind, settings.database_url, dump)
        members = [(dump, manifest.database_file)]
        if settings.audio_store == "local":
            members += _audio_files(settings.audio_folder)
        entries = tuple(file_entry(path, name) for path, name in members)
        manifest = dataclasses.replace(manifest, files=entries)
        partial = Path(scratch) / "archive.tar"
        with tarfile.open(partial, "w") as archive:
            info = tarfile.TarInfo(MANIFEST)
            body = manifest.to_json()
            info.size = len(body)
            info.mtime = int(dt.datetime.now(dt.UTC).timestamp())
            archive.addfile(info, io.BytesIO(body))
            for (path, name), entry in zip(members, entries, strict=True):
                _add_exactly(archive, path, name, entry)
        partial.chmod(0o600)  # every answer and recording of every candidate is in it
        partial.replace(output)
    return manifest


def _audio_files(folder: Path) -> list[tuple[Path, str]]:
    if not folder.is_dir():
        return []
    return [
        (path, f"{AUDIO_DIR}/{path.relative_to(folder).as_posix()}")
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not path.name.startswith(_PARTIAL_PREFIX)
    ]


def _add_exactly(archive: tarfile.TarFile, path: Path, name: str, entry: FileEntry) -> None:
    """Add the bytes that were hashed: a file that changed in between (it should not: stored
    recordings are never rewritten) would otherwise break its own checksum."""
    with path.open("rb") as file:
        info = archive.gettarinfo(fileobj=file, arcname=name)
        info.size = entry.size
        archive.addfile(info, file)


def prune_archives(folder: Path, keep: int) -> list[Path]:
    """Delete all but the ``keep`` newest ``newspeech-<UTC time>.tar`` archives in ``folder``
    (newest by the time in their names); return what was deleted. Other files stay."""
    archives = sorted(folder.glob(f"{ARCHIVE_PREFIX}*.tar"), reverse=True)
    doomed = archives[keep:]
    for path in doomed:
        path.unlink()
    return doomed


def verify_backup(path: Path) -> Manifest:
    if not path.is_file():
        raise ValidationFailed(f"{path} does not exist")
    return verify_archive(path)


async def restore_backup(settings: Settings, path: Path, *, force: bool) -> RestoreReport:
    manifest = await asyncio.to_thread(verify_backup, path)
    if manifest.database_kind != settings.backend:
        raise ValidationFailed(
            f"the backup holds a {manifest.database_kind} database; NEWSPEECH_DATABASE_URL "
            f"points at {settings.backend} (restore into the same kind of database)"
        )
    engine = create_engine(settings)
    try:
        if not force:
            await _refuse_unless_empty(engine, settings, manifest)
        await _drop_tables(engine)
    finally:
        await engine.dispose()
    await asyncio.to_thread(_extract_and_load, settings, path, manifest)
    engine = create_engine(settings)
    try:
        counts = await row_counts(engine)
    finally:
        await engine.dispose()
    return RestoreReport(manifest, counts, len(manifest.audio_files), migrations.head_revision())


async def _refuse_unless_empty(engine: AsyncEngine, settings: Settings, manifest: Manifest) -> None:
    filled = {name: n for name, n in (await row_counts(engine)).items() if n}
    if filled:
        name, n = next(iter(filled.items()))
        raise TargetNotEmpty(
            f"the target database is not empty ({len(filled)} table(s) hold rows, e.g. {n} in "
            f"{name}); restore replaces everything in it: add --force to do so"
        )
    folder = settings.audio_folder
    if manifest.audio_store == "local" and folder.is_dir() and any(folder.iterdir()):
        raise TargetNotEmpty(
            f"the answer-audio folder {folder} is not empty; restore replaces it: add --force"
        )


async def row_counts(engine: AsyncEngine) -> dict[str, int]:
    """Rows in every table of the database (``alembic_version`` left out), by table name.

    On SQLite the shadow tables in which a full-text index (FTS5) keeps its own structure are
    left out too: they hold rows even when the index is empty, and the index's rows are counted
    in its virtual table."""

    def count(connection: Connection) -> dict[str, int]:
        metadata = MetaData()
        metadata.reflect(connection)
        internal = {"alembic_version"}
        if connection.dialect.name == "sqlite":
            tables = connection.exec_driver_sql("PRAGMA table_list").all()
            internal |= {str(row[1]) for row in tables if row[2] == "shadow"}
        return {
            name: int(connection.execute(select(func.count()).select_from(table)).scalar_one())
            for name, table in sorted(metadata.tables.items())
            if name not in internal
        }

    async with engine.connect() as connection:
        return await connection.run_sync(count)


async def _drop_tables(engine: AsyncEngine) -> None:
    """Empty the target so the dump loads into nothing (PostgreSQL and MySQL; SQLite's backup
    API replaces the whole file anyway)."""

    def drop(connection: Connection) -> None:
        dialect = connection.dialect.name
        if dialect == "sqlite":
            return
        quote = connection.dialect.identifier_preparer.quote
        # The published views of newspeech.ask (docs/ask.md): PostgreSQL keeps them in schema
        # "ask" (the dump creates it again), MariaDB beside the tables.
        if dialect == "postgresql":
            connection.execute(text("DROP SCHEMA IF EXISTS ask CASCADE"))
        else:
            for view in inspect(connection).get_view_names():
                connection.execute(text(f"DROP VIEW IF EXISTS {quote(view)}"))
        names = inspect(connection).get_table_names()
        if not names:
            return
        if dialect == "postgresql":
            listed = ", ".join(quote(name) for name in names)
            connection.execute(text(f"DROP TABLE IF EXISTS {listed} CASCADE"))
        else:
            connection.execute(text("SET FOREIGN_KEY_CHECKS = 0"))
            for name in names:
                connection.execute(text(f"DROP TABLE IF EXISTS {quote(name)}"))
            connection.execute(text("SET FOREIGN_KEY_CHECKS = 1"))

    async with engine.begin() as connection:
        await connection.run_sync(drop)


def _extract_and_load(settings: Settings, path: Path, manifest: Manifest) -> None:
    with (
        tempfile.TemporaryDirectory(prefix="newspeech-restore-") as scratch,
        tarfile.open(path, "r:") as archive,
    ):
        dump = Path(scratch) / "database"
        _extract_to(archive, manifest.database_file, dump)
        load_database(manifest.database_kind, settings.database_url, dump)
        if manifest.audio_store != "local":
            return
        folder = settings.audio_folder
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        for entry in manifest.audio_files:
            relative = safe_member_name(entry.path).relative_to(AUDIO_DIR)
            _extract_to(archive, entry.path, folder / relative)


def _extract_to(archive: tarfile.TarFile, name: str, target: Path) -> None:
    stream = archive.extractfile(name)
    if stream is None:
        raise ValidationFailed(f"{name} in the archive is not a file")
    target.parent.mkdir(parents=True, exist_ok=True)
    with stream, target.open("wb") as out:
        shutil.copyfileobj(stream, out, 1024 * 1024)
