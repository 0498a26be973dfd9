"""The prompt registry's rules: syncing a folder tree into it, reading versions and diffs."""

from __future__ import annotations

import difflib
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from newspeech.analysis.keys import dictionary_key
from newspeech.analysis.prompt_tree import PromptFile, describe_folder
from newspeech.analysis.repository import DictionaryRepository, PromptRegistryRepository
from newspeech.audits.repository import AuditLogRepository
from newspeech.errors import Conflict, NotFound
from newspeech.models import BuildingType, Prompt, PromptVersion, ReportType, Scenario


@dataclass
class SyncReport:
    """What a sync did, prompt by prompt (each entry is the prompt's path in the tree)."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    retitled: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    """Prompts of a synced folder that the folder no longer holds: kept, marked inactive."""

    @property
    def touched(self) -> bool:
        return bool(self.added or self.changed or self.retitled or self.restored or self.retired)

    def summary(self) -> str:
        return (
            f"{len(self.added)} new, {len(self.changed)} changed (new version), "
            f"{len(self.unchanged)} unchanged, {len(self.retired)} retired"
        )

    def lines(self) -> list[str]:
        labelled = [
            ("new", self.added),
            ("new version", self.changed),
            ("retitled", self.retitled),
            ("restored", self.restored),
            ("retired", self.retired),
        ]
        return [f"{label:<12} {source}" for label, sources in labelled for source in sources]


@dataclass(frozen=True)
class _Folder:
    report_type: ReportType
    building_type: BuildingType

    @property
    def ids(self) -> tuple[int, int]:
        return self.report_type.id, self.building_type.id


class PromptSync:
    """Writes a read prompt tree into the registry (flushes; the caller commits).

    Idempotent: an unchanged text adds nothing. A changed text (or schema) adds a version; no
    version is ever changed or deleted. A prompt missing from a folder that the tree does hold
    is retired (``is_active`` false), not deleted; it comes back if its file does.
    """

    def __init__(self, db: AsyncSession, *, audits: AuditLogRepository | None = None) -> None:
        self.db = db
        self.dictionaries = DictionaryRepository(db)
        self.registry = PromptRegistryRepository(db)
        self.audits = audits

    async def sync(
        self, prompts: list[PromptFile], *, origin: str, user_id: int | None = None
    ) -> SyncReport:
        report = SyncReport()
        synced: dict[tuple[int, int], set[int]] = defaultdict(set)
        folders: dict[tuple[int, int], str] = {}
        for prompt in prompts:
            folder = await self._folder(prompt)
            synced[folder.ids].add(prompt.run_part)
            folders[folder.ids] = prompt.source.rsplit("/", 1)[0]
            await self._sync_one(folder, prompt, origin, report)
        for ids, parts in synced.items():
            await self._retire_missing(ids, parts, folders[ids], report)
        await self.db.flush()
        if report.touched and self.audits is not None:
            await self.audits.log(
                "prompts.sync",
                user_id=user_id,
                resource_type="analysis_prompts",
                details={
                    "origin": origin,
                    "added": report.added,
                    "changed": report.changed,
                    "retired": report.retired,
                },
            )
        return report

    async def _folder(self, prompt: PromptFile) -> _Folder:
        scenario_key, report_type_key, building_type_key = prompt.folder
        scenario_name, report_type_name, building_type_name = describe_folder(prompt)
        scenario = await self.dictionaries.get_or_create(Scenario, scenario_name, key=scenario_key)
        report_type = await self.dictionaries.get_or_create(
            ReportType, report_type_name, key=report_type_key, parent={"scenario_id": scenario.id}
        )
        building_type = await self.dictionaries.get_or_create(
            BuildingType, building_type_name, key=building_type_key
        )
        return _Folder(report_type, building_type)

    async def _sync_one(
        self, folder: _Folder, prompt: PromptFile, origin: str, report: SyncReport
    ) -> None:
        stored = await self.registry.get_or_create_prompt(
            *folder.ids, prompt.run_part, prompt.title
        )
        if stored.title != prompt.title:
            stored.title = prompt.title
            report.retitled.append(prompt.source)
        if not stored.is_active:
            stored.is_active = True
            report.restored.append(prompt.source)
        latest = await self.registry.latest_version(stored.id)
        if latest is not None and latest.sha256 == prompt.sha256:
            report.unchanged.append(prompt.source)
            return
        await self._add_version(stored, prompt, latest, origin)
        (report.added if latest is None else report.changed).append(prompt.source)

    async def _add_version(
        self, stored: Prompt, prompt: PromptFile, latest: PromptVersion | None, origin: str
    ) -> None:
        version = PromptVersion(
            prompt_id=stored.id,
            version=1 if latest is None else latest.version + 1,
            text=prompt.text,
            returns_json=prompt.returns_json,
            json_schema=prompt.json_schema,
            sha256=prompt.sha256,
            source=f"{origin}: {prompt.source}"[:500],
        )
        try:
            await self.registry.add_version(version)
        except IntegrityError as exc:
            raise Conflict(
                f"{prompt.source}: another sync added version {version.version} at the same "
                "time; nothing was stored, run the sync again"
            ) from exc

    async def _retire_missing(
        self, ids: tuple[int, int], parts: set[int], folder: str, report: SyncReport
    ) -> None:
        report_type_id, building_type_id = ids
        for stored in await self.registry.prompts(
            report_type_id=report_type_id, building_type_id=building_type_id
        ):
            if stored.is_active and stored.run_part not in parts:
                stored.is_active = False
                report.retired.append(f"{folder}/part {stored.run_part} {stored.title}")


@dataclass(frozen=True)
class VersionDiff:
    prompt_id: int
    from_version: int
    to_version: int
    unified_diff: str
    schema_changed: bool


@dataclass(frozen=True)
class CatalogueEntry:
    """A prompt with its scenario, report type, building type and latest version."""

    prompt: Prompt
    scenario: Scenario
    report_type: ReportType
    building_type: BuildingType
    latest: PromptVersion | None


@dataclass(frozen=True)
class CatalogueFilter:
    """Keys to narrow the catalogue to (None: any); retired prompts only when asked."""

    scenario: str | None = None
    report_type: str | None = None
    building_type: str | None = None
    include_retired: bool = False


class PromptRegistry:
    """Reading the registry: prompts, their versions, and what changed between two versions."""

    def __init__(self, db: AsyncSession) -> None:
        self.registry = PromptRegistryRepository(db)

    async def catalogue(self, wanted: CatalogueFilter | None = None) -> list[CatalogueEntry]:
        """Prompts in (scenario, report type, building type, run_part) order."""
        wanted = wanted or CatalogueFilter()
        scenarios = {row.id: row for row in await self.registry.scenarios()}
        report_types = {row.id: row for row in await self.registry.report_types()}
        building_types = {row.id: row for row in await self.registry.building_types()}
        prompts = await self.registry.prompts()
        latest = await self.registry.latest_versions([prompt.id for prompt in prompts])
        entries = [
            CatalogueEntry(
                prompt,
                scenarios[report_types[prompt.report_type_id].scenario_id],
                report_types[prompt.report_type_id],
                building_types[prompt.building_type_id],
                latest.get(prompt.id),
            )
            for prompt in prompts
        ]
        entries = [entry for entry in entries if _wanted(entry, wanted)]
        return sorted(entries, key=_catalogue_order)

    async def prompt(self, prompt_id: int) -> Prompt:
        prompt = await self.registry.get_prompt(prompt_id)
        if prompt is None:
            raise NotFound(f"prompt {prompt_id} does not exist")
        return prompt

    async def versions(self, prompt_id: int) -> list[PromptVersion]:
        await self.prompt(prompt_id)
        return await self.registry.versions(prompt_id)

    async def version(self, prompt_id: int, number: int) -> PromptVersion:
        version = await self.registry.version(prompt_id, number)
        if version is None:
            await self.prompt(prompt_id)
            raise NotFound(f"prompt {prompt_id} has no version {number}")
        return version

    async def diff(self, prompt_id: int, from_version: int, to_version: int) -> VersionDiff:
        """A unified diff of the two versions' texts (either order)."""
        old = await self.version(prompt_id, from_version)
        new = await self.version(prompt_id, to_version)
        lines = difflib.unified_diff(
            old.text.splitlines(keepends=True),
            new.text.splitlines(keepends=True),
            fromfile=f"version {from_version}",
            tofile=f"version {to_version}",
        )
        return VersionDiff(
            prompt_id=prompt_id,
            from_version=from_version,
            to_version=to_version,
            unified_diff="".join(lines),
            schema_changed=old.json_schema != new.json_schema,
        )


def _wanted(entry: CatalogueEntry, wanted: CatalogueFilter) -> bool:
    return (
        (wanted.include_retired or entry.prompt.is_active)
        and _matches(entry.scenario, wanted.scenario)
        and _matches(entry.report_type, wanted.report_type)
        and _matches(entry.building_type, wanted.building_type)
    )


def _matches(row: Scenario | ReportType | BuildingType, key: str | None) -> bool:
    return key is None or row.key == dictionary_key(key)


def _catalogue_order(entry: CatalogueEntry) -> tuple[str, str, str, int]:
    return (
        entry.scenario.key,
        entry.report_type.key,
        entry.building_type.key,
        entry.prompt.run_part,
    )
