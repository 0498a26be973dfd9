from __future__ import annotations

import asyncio
import dataclasses
import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from newspeech.analysis.cli import DEFAULT_PROMPTS
from newspeech.analysis.prompt_tree import read_prompt_tree
from newspeech.analysis.repository import PromptRegistryRepository
from newspeech.analysis.service import PromptRegistry, PromptSync, SyncReport
from newspeech.audits.repository import AuditLogRepository
from newspeech.db.engine import unit_of_work
from newspeech.errors import Conflict, InvalidState, NotFound, ValidationFailed
from newspeech.models import (
    AuditLog,
    BuildingType,
    Prompt,
    PromptVersion,
    ReportType,
    Scenario,
)

SPA_FINDINGS = "design/site-audit/spa/part 1 findings by zone.md"
SPA_ISSUES_SCHEMA = "design/site-audit/spa/part 2 issues.schema.json"
SPA_RECOMMENDATIONS = "design/site-audit/spa/part 3 recommendations.md"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the shipped prompt set, free to edit."""
    return Path(shutil.copytree(DEFAULT_PROMPTS, tmp_path / "prompts"))


async def sync(db: AsyncSession, folder: Path) -> SyncReport:
    report = await PromptSync(db, audits=AuditLogRepository(db)).sync(
        read_prompt_tree(folder), origin=str(folder)
    )
    await db.commit()
    return report


async def count(db: AsyncSession, model: type[object]) -> int:
    return await db.scalar(select(func.count()).select_from(model)) or 0


async def versions_of(db: AsyncSession, source: str) -> list[PromptVersion]:
    query = (
        select(PromptVersion)
        .where(PromptVersion.source.endswith(source))
        .order_by(PromptVersion.version)
    )
    return list(await db.scalars(query))


async def test_shipped_set_fills_the_registry_and_a_second_sync_changes_nothing(
    db: AsyncSession,
) -> None:
    first = await sync(db, DEFAULT_PROMPTS)
    second = await sync(db, DEFAULT_PROMPTS)

    assert len(first.added) == 18
    assert (second.added, second.changed, second.retired) == ([], [], [])
    assert len(second.unchanged) == 18
    assert set(await db.scalars(select(Scenario.key))) == {"interview", "design"}
    assert set(await db.scalars(select(ReportType.key))) == {"client-brief", "site-audit"}
    assert set(await db.scalars(select(BuildingType.key))) == {"hotel", "restaurant", "spa"}
    assert await count(db, Prompt) == 18
    assert await count(db, PromptVersion) == 18
    json_parts = list(await db.scalars(select(PromptVersion).where(PromptVersion.returns_json)))
    assert len(json_parts) == 6
    assert all(part.json_schema and part.json_schema["type"] == "object" for part in json_parts)
    # One audit row for the sync that changed something, none for the one that did not.
    assert list(await db.scalars(select(AuditLog.action))) == ["prompts.sync"]


async def test_run_parts_follow_the_file_names_in_order(db: AsyncSession) -> None:
    await sync(db, DEFAULT_PROMPTS)
    registry = PromptRegistryRepository(db)
    spa = await db.scalar(select(BuildingType).where(BuildingType.key == "spa"))
    assert spa is not None
    titles = [
        (prompt.run_part, prompt.title)
        for prompt in await registry.prompts(building_type_id=spa.id)
        if prompt.title in {"Findings by zone", "Issues", "Recommendations"}
    ]
    assert titles == [(1, "Findings by zone"), (2, "Issues"), (3, "Recommendations")]


async def test_an_edit_adds_a_version_and_keeps_the_old_text(db: AsyncSession, tree: Path) -> None:
    await sync(db, tree)
    path = tree / SPA_FINDINGS
    original = path.read_text()
    path.write_text(original + "\nName the suppliers of any equipment mentioned.\n")

    report = await sync(db, tree)

    assert report.changed == [SPA_FINDINGS]
    assert await count(db, PromptVersion) == 19
    first, second = await versions_of(db, SPA_FINDINGS)
    assert (first.version, second.version) == (1, 2)
    assert first.text == original
    assert second.text.endswith("Name the suppliers of any equipment mentioned.\n")


async def test_reverting_an_edit_adds_a_third_version_rather_than_rewinding(
    db: AsyncSession, tree: Path
) -> None:
    path = tree / SPA_FINDINGS
    original = path.read_text()
    await sync(db, tree)
    path.write_text(original + "\nAn extra line.\n")
    await sync(db, tree)
    path.write_text(original)

    await sync(db, tree)

    texts = [version.text for version in await versions_of(db, SPA_FINDINGS)]
    assert texts == [original, original + "\nAn extra line.\n", original]


async def test_line_endings_and_trailing_spaces_do_not_make_a_version(
    db: AsyncSession, tree: Path
) -> None:
    await sync(db, tree)
    path = tree / SPA_FINDINGS
    lines = path.read_text().splitlines()
    path.write_bytes(("   \r\n".join(lines) + "\r\n\r\n").encode())

    report = await sync(db, tree)

    assert report.changed == []
    assert await count(db, PromptVersion) == 18


async def test_a_changed_schema_alone_adds_a_version(db: AsyncSession, tree: Path) -> None:
    await sync(db, tree)
    schema_path = tree / SPA_ISSUES_SCHEMA
    schema = json.loads(schema_path.read_text())
    schema["properties"]["issues"]["maxItems"] = 50
    schema_path.write_text(json.dumps(schema))

    report = await sync(db, tree)

    assert report.changed == ["design/site-audit/spa/part 2 issues.md"]
    old, new = await versions_of(db, "design/site-audit/spa/part 2 issues.md")
    assert old.text == new.text
    assert new.json_schema is not None
    assert new.json_schema["properties"]["issues"]["maxItems"] == 50


async def test_a_removed_file_retires_its_prompt_and_its_return_restores_it(
    db: AsyncSession, tree: Path, tmp_path: Path
) -> None:
    await sync(db, tree)
    kept = tmp_path / "kept.md"
    shutil.move(tree / SPA_RECOMMENDATIONS, kept)

    retired = await sync(db, tree)
    shutil.move(kept, tree / SPA_RECOMMENDATIONS)
    restored = await sync(db, tree)

    assert retired.retired == ["design/site-audit/spa/part 3 Recommendations"]
    assert restored.restored == [SPA_RECOMMENDATIONS]
    assert restored.changed == restored.added == []
    assert len(await versions_of(db, SPA_RECOMMENDATIONS)) == 1
    assert await db.scalar(select(func.count()).where(Prompt.is_active.is_(False))) == 0


async def test_syncing_one_folder_leaves_the_other_folders_alone(
    db: AsyncSession, tree: Path
) -> None:
    await sync(db, DEFAULT_PROMPTS)
    shutil.rmtree(tree / "interview")
    shutil.rmtree(tree / "design/site-audit/hotel")
    shutil.rmtree(tree / "design/site-audit/restaurant")

    report = await sync(db, tree)

    assert report.retired == []
    assert len(report.unchanged) == 3
    assert await db.scalar(select(func.count()).where(Prompt.is_active.is_(True))) == 18


async def test_a_bad_tree_names_every_problem_and_stores_nothing(
    db: AsyncSession, tree: Path
) -> None:
    spa = tree / "design/site-audit/spa"
    (spa / "notes.txt").write_text("ideas")
    (spa / "part 1 duplicate.md").write_text("Another part one.")
    (spa / "part 4 empty.md").write_text(" \n")
    (spa / "part 5 scores.md").write_text("Score it.")
    (spa / "part 5 scores.schema.json").write_text("{not json")
    (spa / "part 6 orphan.schema.json").write_text('{"type": "object"}')
    (spa / "part 7 typo.md").write_text("Answer in JSON.")
    (spa / "part 7 typo.schema.json").write_text('{"type": "object", "required": "issues"}')
    (spa / "deeper").mkdir()
    (tree / "design/site-audit/part 1 overview.md").write_text("A part one folder too high.")

    with pytest.raises(ValidationFailed) as caught:
        read_prompt_tree(tree)

    problems = caught.value.detail.splitlines()[1:]
    assert len(problems) == 8
    assert any(
        line.startswith("design/site-audit/spa/notes.txt: not a prompt") for line in problems
    )
    assert any(
        "part 1 is also" in line and "part 1 duplicate.md" in line and "findings by zone" in line
        for line in problems
    )
    assert any("part 4 empty.md: empty" in line for line in problems)
    assert any("part 5 scores.schema.json: not valid JSON" in line for line in problems)
    assert any("part 6 orphan.schema.json: a schema with no prompt" in line for line in problems)
    assert any("spa/deeper: too deep" in line for line in problems)
    assert any(
        "part 7 typo.schema.json: not a valid JSON Schema at required: 'issues' is not of type"
        in line
        for line in problems
    )
    assert any(
        line.startswith("design/site-audit/part 1 overview.md: not in a building-type folder")
        for line in problems
    )
    assert await count(db, Prompt) == 0


async def test_a_folder_without_prompts_is_refused(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("nothing here")
    with pytest.raises(ValidationFailed, match="no prompts under"):
        read_prompt_tree(tmp_path)


async def test_a_stored_version_cannot_be_changed(db: AsyncSession) -> None:
    await sync(db, DEFAULT_PROMPTS)
    version = await db.scalar(select(PromptVersion).limit(1))
    assert version is not None
    version.text = "rewritten"

    with pytest.raises(InvalidState, match="an edit adds a new version"):
        await db.flush()


async def test_concurrent_syncs_store_each_version_once(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    prompts = read_prompt_tree(DEFAULT_PROMPTS)
    barrier = asyncio.Barrier(4)

    async def run() -> SyncReport | Conflict:
        try:
            async with unit_of_work(sessionmaker) as db:
                await barrier.wait()
                return await PromptSync(db).sync(prompts, origin="race")
        except Conflict as exc:
            return exc

    outcomes = await asyncio.gather(*(run() for _ in range(4)))

    assert any(isinstance(outcome, SyncReport) for outcome in outcomes)
    async with sessionmaker() as db:
        assert await count(db, Prompt) == 18
        assert await count(db, PromptVersion) == 18


async def test_diff_between_versions_shows_the_edit(db: AsyncSession, tree: Path) -> None:
    await sync(db, tree)
    path = tree / SPA_FINDINGS
    path.write_text(path.read_text().replace("Staff remarks", "Staff and client remarks"))
    await sync(db, tree)
    prompt_id = (await versions_of(db, SPA_FINDINGS))[0].prompt_id

    diff = await PromptRegistry(db).diff(prompt_id, 1, 2)

    assert diff.unified_diff.startswith("--- version 1\n+++ version 2\n")
    assert "\n-- **Staff remarks**" in diff.unified_diff
    assert "\n+- **Staff and client remarks**" in diff.unified_diff
    assert not diff.schema_changed
    with pytest.raises(NotFound, match="has no version 3"):
        await PromptRegistry(db).diff(prompt_id, 1, 3)


async def test_concurrent_syncs_of_an_edit_add_one_version(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    prompts = read_prompt_tree(DEFAULT_PROMPTS)
    async with unit_of_work(sessionmaker) as db:
        await PromptSync(db).sync(prompts, origin="first")
    edited = [dataclasses.replace(prompts[0], text=prompts[0].text + "One more rule.\n")]
    barrier = asyncio.Barrier(4)

    async def run() -> SyncReport | Conflict:
        try:
            async with unit_of_work(sessionmaker) as db:
                await barrier.wait()
                return await PromptSync(db).sync(edited, origin="race")
        except Conflict as exc:
            return exc

    outcomes = await asyncio.gather(*(run() for _ in range(4)))

    reports = [outcome for outcome in outcomes if isinstance(outcome, SyncReport)]
    assert sum(len(report.changed) for report in reports) == 1
    assert all(
        isinstance(outcome, SyncReport) or "run the sync again" in outcome.detail
        for outcome in outcomes
    )
    async with sessionmaker() as db:
        assert await count(db, PromptVersion) == 19
