"""``newspeech prompts``: seed and list the prompt registry of recording analysis."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from newspeech.errors import UpstreamError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from newspeech.analysis.prompt_tree import PromptFile
    from newspeech.analysis.service import CatalogueEntry
    from newspeech.config import Settings

DEFAULT_PROMPTS = Path(__file__).with_name("default_prompts")
"""The prompt set shipped with the product (interview and design audits)."""


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    prompts = commands.add_parser("prompts", help="the prompt registry of recording analysis")
    actions = prompts.add_subparsers(dest="prompts_command", required=True)
    sync = actions.add_parser(
        "sync",
        help="add the prompts of a folder tree <scenario>/<report type>/<building type>/"
        "part N <title>.md (a changed text becomes a new version; nothing is overwritten)",
    )
    sync.add_argument(
        "folder",
        nargs="?",
        type=Path,
        default=DEFAULT_PROMPTS,
        help="the tree to sync (default: the prompt set shipped with NewSpeech)",
    )
    sync.add_argument("--dry-run", action="store_true", help="report the changes, store nothing")
    actions.add_parser("list", help="print every prompt with its latest version")


async def run(args: argparse.Namespace, settings: Settings) -> list[str]:
    """Do the command; the lines to print. Raises ``NewSpeechError`` subclasses."""
    # Imported here, not at the top: every ``newspeech`` command builds this parser.
    from sqlalchemy.exc import SQLAlchemyError

    from newspeech.analysis.prompt_tree import read_prompt_tree
    from newspeech.db.engine import create_engine, create_sessionmaker

    # Read (and so check) the whole tree before touching the database.
    prompts = read_prompt_tree(args.folder) if args.prompts_command == "sync" else []
    engine = create_engine(settings)
    try:
        sessionmaker = create_sessionmaker(engine)
        if args.prompts_command == "sync":
            return await _sync(sessionmaker, prompts, args, settings)
        return await _list(sessionmaker)
    except SQLAlchemyError as exc:
        raise UpstreamError(f"the database cannot be used: {exc}") from exc
    finally:
        await engine.dispose()


async def _sync(
    sessionmaker: async_sessionmaker[AsyncSession],
    prompts: list[PromptFile],
    args: argparse.Namespace,
    settings: Settings,
) -> list[str]:
    from newspeech.analysis.service import PromptSync
    from newspeech.audits.repository import AuditLogRepository

    async with sessionmaker() as db:
        audits = AuditLogRepository(db, enabled=settings.enable_audit_logs)
        report = await PromptSync(db, audits=audits).sync(prompts, origin=str(args.folder))
        if args.dry_run:
            await db.rollback()
        else:
            await db.commit()
    verdict = "dry run, nothing stored: " if args.dry_run else ""
    return [*report.lines(), f"{verdict}{report.summary()}"]


async def _list(sessionmaker: async_sessionmaker[AsyncSession]) -> list[str]:
    from newspeech.analysis.service import CatalogueFilter, PromptRegistry

    async with sessionmaker() as db:
        entries = await PromptRegistry(db).catalogue(CatalogueFilter(include_retired=True))
    if not entries:
        return ["no prompts yet: run 'newspeech prompts sync'"]
    return [_listed(entry) for entry in entries]


def _listed(entry: CatalogueEntry) -> str:
    prompt = entry.prompt
    where = f"{entry.scenario.key}/{entry.report_type.key}/{entry.building_type.key}"
    version = f"v{entry.latest.version}" if entry.latest else "no version"
    kind = "  JSON" if entry.latest and entry.latest.returns_json else ""
    retired = "" if prompt.is_active else "  (retired)"
    return (
        f"{prompt.id:>5}  {where}  part {prompt.run_part} {prompt.title}  {version}{kind}{retired}"
    )
