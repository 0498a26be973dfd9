"""Dump and load the database with each backend's own tool, consistent while exams write.

- PostgreSQL: ``pg_dump --format=custom`` (one snapshot) / ``pg_restore`` in one transaction.
- MySQL / MariaDB: ``mariadb-dump --single-transaction`` (one InnoDB snapshot, no locks) /
  the ``mariadb`` client (``mysqldump`` / ``mysql`` where only those are installed).
- SQLite: the online backup API (``sqlite3.Connection.backup``), page by page, both ways.

Passwords go to the tools through their environment (``PGPASSWORD``, ``MYSQL_PWD``), never the
command line. Functions here block: the CLI runs them in a thread.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from sqlalchemy.engine import URL, make_url

from newspeech.errors import ConfigurationError, NewSpeechError


class DumpFailed(NewSpeechError):
    """A database tool failed; ``detail`` carries what it said."""

    code = "backup_failed"


def dump_database(kind: str, url: str, target: Path) -> None:
    parsed = make_url(url)
    if kind == "postgresql":
        _run(
            [
                _tool("pg_dump"),
                "--format=custom",
                f"--file={target}",
                *_pg_connection(parsed),
            ],
            _pg_env(parsed),
        )
    elif kind == "mysql":
        _run(
            [
                _tool("mariadb-dump", "mysqldump"),
                *_mysql_connection(parsed),
                "--single-transaction",
                "--routines",
                "--triggers",
                "--hex-blob",
                "--no-tablespaces",
                "--default-character-set=utf8mb4",
                f"--result-file={target}",
                _database(parsed),
            ],
            _mysql_env(parsed),
        )
    else:
        _sqlite_copy(sqlite_path(parsed), target)


def load_database(kind: str, url: str, source: Path) -> None:
    """Load a dump into an emptied database (see :func:`newspeech.backup.service`)."""
    parsed = make_url(url)
    if kind == "postgresql":
        _run(
            [
                _tool("pg_restore"),
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                "--single-transaction",
                *_pg_connection(parsed),
                str(source),
            ],
            _pg_env(parsed),
        )
    elif kind == "mysql":
        with source.open("rb") as stdin:
            _run(
                [
                    _tool("mariadb", "mysql"),
                    *_mysql_connection(parsed),
                    "--default-character-set=utf8mb4",
                    _database(parsed),
                ],
                _mysql_env(parsed),
                stdin=stdin,
            )
    else:
        _sqlite_copy(source, sqlite_path(parsed))


def sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise ConfigurationError("an in-memory SQLite database cannot be backed up or restored")
    return Path(url.database)


def _sqlite_copy(source: Path, target: Path) -> None:
    """Copy one SQLite database onto another with the backup API: a consistent copy of a
    database in use, which replaces everything the target held."""
    if not source.exists():
        raise DumpFailed(f"the SQLite database {source} does not exist")
    target.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
    except sqlite3.Error as exc:
        raise DumpFailed(f"SQLite backup from {source} to {target} failed: {exc}") from exc
    finally:
        src.close()


def _tool(*names: str) -> str:
    for name in names:
        if (found := shutil.which(name)) is not None:
            return found
    package = "postgresql-client" if names[0].startswith("pg_") else "mariadb-client"
    raise ConfigurationError(
        f"{names[0]} is not installed; install it with: sudo apt-get install {package}"
    )


def _run(command: Sequence[str], env: dict[str, str], stdin: IO[bytes] | None = None) -> None:
    try:
        done = subprocess.run(
            command,
            env=os.environ | env,
            stdin=stdin,
            capture_output=True,
            check=False,
        )
    except OSError as exc:
        raise DumpFailed(f"cannot run {command[0]}: {exc.strerror}") from exc
    if done.returncode != 0:
        said = done.stderr.decode(errors="replace").strip().splitlines()
        tail = "; ".join(said[-3:]) or f"exit status {done.returncode}"
        raise DumpFailed(f"{Path(command[0]).name} failed: {tail}")


def _database(url: URL) -> str:
    if not url.database:
        raise ConfigurationError("the database URL names no database")
    return url.database


def _pg_connection(url: URL) -> list[str]:
    args = [f"--dbname={_database(url)}", "--no-password"]
    if url.host:
        args.append(f"--host={url.host}")
    if url.port:
        args.append(f"--port={url.port}")
    if url.username:
        args.append(f"--username={url.username}")
    return args


def _pg_env(url: URL) -> dict[str, str]:
    return {"PGPASSWORD": url.password} if url.password else {}


def _mysql_connection(url: URL) -> list[str]:
    args = [f"--host={url.host or 'localhost'}", "--protocol=TCP"]
    if url.port:
        args.append(f"--port={url.port}")
    if url.username:
        args.append(f"--user={url.username}")
    return args


def _mysql_env(url: URL) -> dict[str, str]:
    return {"MYSQL_PWD": url.password} if url.password else {}
