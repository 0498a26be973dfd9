"""``newspeech backup create | verify | restore``: parsing and the lines printed."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

from newspeech.errors import UpstreamError, ValidationFailed

if TYPE_CHECKING:
    from newspeech.backup.manifest import Manifest
    from newspeech.backup.service import RestoreReport
    from newspeech.config import Settings


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    backup = commands.add_parser(
        "backup", help="back up or restore the database and the answer audio"
    )
    actions = backup.add_subparsers(dest="backup_command", required=True)
    create = actions.add_parser(
        "create", help="write one archive (tar) with a manifest; safe while exams run"
    )
    create.add_argument(
        "-o",
        "--output",
        type=Path,
        help="archive file (default: <data dir>/backups/newspeech-<UTC time>.tar)",
    )
    create.add_argument(
        "--keep",
        type=int,
        metavar="N",
        help="then delete all but the N newest newspeech-<time>.tar archives in that folder",
    )
    verify = actions.add_parser("verify", help="check an archive's manifest and checksums")
    verify.add_argument("archive", type=Path)
    restore = actions.add_parser(
        "restore", help="load an archive into the configured database and audio folder"
    )
    restore.add_argument("archive", type=Path)
    restore.add_argument(
        "--force",
        action="store_true",
        help="replace a database or audio folder that already holds data",
    )


async def run(args: argparse.Namespace, settings: Settings) -> list[str]:
    """Do the command; the lines to print. Raises ``NewSpeechError`` subclasses."""
    # Imported here, not at the top: every ``newspeech`` command builds this parser.
    from sqlalchemy.exc import SQLAlchemyError

    from newspeech.backup.service import restore_backup, verify_backup

    try:
        if args.backup_command == "create":
            return await _create(args, settings)
        if args.backup_command == "verify":
            return [f"{args.archive}: OK", *describe(verify_backup(args.archive))]
        return restored(await restore_backup(settings, args.archive, force=args.force))
    except (SQLAlchemyError, OSError) as exc:
        raise UpstreamError(f"the database cannot be used: {exc}") from exc


async def _create(args: argparse.Namespace, settings: Settings) -> list[str]:
    if args.keep is not None and args.keep < 1:
        raise ValidationFailed("--keep must be at least 1 (the archive just written)")
    from newspeech.backup.service import create_backup, default_archive_path, prune_archives

    output: Path = args.output or default_archive_path(settings, dt.datetime.now(dt.UTC))
    lines = [f"wrote {output}", *describe(await create_backup(settings, output))]
    if args.keep is not None:
        pruned = await asyncio.to_thread(prune_archives, output.parent, args.keep)
        lines += [f"deleted {path} (keeping the {args.keep} newest)" for path in pruned]
    return lines


def describe(manifest: Manifest) -> list[str]:
    database = next(f for f in manifest.files if f.path == manifest.database_file)
    audio = manifest.audio_files
    recordings = (
        f"{len(audio)} recordings ({sum(f.size for f in audio) / 1e6:.1f} MB)"
        if manifest.audio_store == "local"
        else "recordings stay in the S3 bucket (not in the archive)"
    )
    return [
        f"  created {manifest.created_at} by NewSpeech {manifest.app_version}",
        f"  {manifest.database_kind} database at revision {manifest.alembic_revision or '(none)'}"
        f" ({database.size / 1e6:.1f} MB)",
        f"  {recordings}",
    ]


def restored(report: RestoreReport) -> list[str]:
    lines = ["restored:", *describe(report.manifest)]
    lines += [f"  {table:<24} {n:>9} rows" for table, n in report.row_counts.items()]
    if report.manifest.alembic_revision != report.head:
        lines.append(
            f"the backup is at revision {report.manifest.alembic_revision}, this code at "
            f"{report.head}: run 'newspeech db upgrade' before serving"
        )
    return lines
