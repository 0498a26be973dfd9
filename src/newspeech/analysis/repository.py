"""Queries of recording analysis: dictionary get-or-create and the prompt registry."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import Select, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from newspeech.analysis.keys import clean_name, dictionary_key
from newspeech.kit.upsert import insert_if_absent
from newspeech.models import (
    BuildingType,
    KeyedName,
    Prompt,
    PromptVersion,
    ReportType,
    Scenario,
)

Entry = TypeVar("Entry", bound=KeyedName)
Row = TypeVar("Row")


class DictionaryRepository:
    """Get-or-create of named values (employees, clients, places, zones, cities, building
    types, scenarios, report types), safe when many requests name a new value at once."""

    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def get_or_create(
        self,
        model: type[Entry],
        name: str,
        *,
        key: str | None = None,
        parent: dict[str, int] | None = None,
    ) -> Entry:
        """The row whose key is ``name``'s key (or the ``key`` given, normalised the same way;
        within ``parent``, e.g. ``{"scenario_id": 3}`` for a report type), inserted with this
        spelling of the name if there was none.

        Racing callers never see an IntegrityError: one insert wins (insert-if-absent on the
        unique key) and everyone reads that row.
        """
        key = dictionary_key(name if key is None else key)
        scope = parent or {}
        values: dict[str, Any] = {"key": key, "name": clean_name(name), **scope}
        await insert_if_absent(self.db, model.__table__, values, key="key")  # type: ignore[attr-defined]
        query = select(model).where(model.key == key, *_matching(model, scope))
        entry = await self.db.scalar(latest_committed(self.db, query))
        assert entry is not None  # inserted above or already present
        return entry


def latest_committed(db: AsyncSession, query: Select[Row]) -> Select[Row]:
    """``query`` reading the latest committed row, not the transaction's snapshot.

    MariaDB's REPEATABLE READ keeps a snapshot from the transaction's first read: a row another
    transaction committed after it (the winner of a race) is invisible to a plain SELECT, though
    the insert saw it. A locking read (FOR SHARE) reads the latest version. PostgreSQL (READ
    COMMITTED) and SQLite (one writer at a time) see it anyway; SQLite has no FOR SHARE.
    """
    query = query.execution_options(populate_existing=True)
    if db.get_bind().dialect.name in ("mysql", "mariadb"):
        query = query.with_for_update(read=True)
    return query


def _matching(model: type[KeyedName], scope: dict[str, int]) -> list[Any]:
    return [getattr(model, column) == value for column, value in scope.items()]


class PromptRegistryRepository:
    """Scenarios, report types, building types, prompts and their versions."""

    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def scenarios(self) -> list[Scenario]:
        return list(await self.db.scalars(select(Scenario).order_by(Scenario.key)))

    async def report_types(self) -> list[ReportType]:
        query = select(ReportType).order_by(ReportType.scenario_id, ReportType.key)
        return list(await self.db.scalars(query))

    async def building_types(self) -> list[BuildingType]:
        return list(await self.db.scalars(select(BuildingType).order_by(BuildingType.key)))

    async def get_prompt(self, prompt_id: int) -> Prompt | None:
        return await self.db.get(Prompt, prompt_id)

    async def prompts(
        self, *, report_type_id: int | None = None, building_type_id: int | None = None
    ) -> list[Prompt]:
        query = select(Prompt).order_by(
            Prompt.report_type_id, Prompt.building_type_id, Prompt.run_part
        )
        if report_type_id is not None:
            query = query.where(Prompt.report_type_id == report_type_id)
        if building_type_id is not None:
            query = query.where(Prompt.building_type_id == building_type_id)
        return list(await self.db.scalars(query))

    async def get_or_create_prompt(
        self, report_type_id: int, building_type_id: int, run_part: int, title: str
    ) -> Prompt:
        """Part ``run_part`` of (report type, building type), created with ``title`` if absent
        (race-free, like the dictionaries)."""
        values = {
            "report_type_id": report_type_id,
            "building_type_id": building_type_id,
            "run_part": run_part,
            "title": title,
            "is_active": True,
        }
        await insert_if_absent(self.db, Prompt.__table__, values, key="run_part")  # type: ignore[arg-type]
        query = select(Prompt).where(
            Prompt.report_type_id == report_type_id,
            Prompt.building_type_id == building_type_id,
            Prompt.run_part == run_part,
        )
        prompt = await self.db.scalar(latest_committed(self.db, query))
        assert prompt is not None  # inserted above or already present
        return prompt

    async def latest_version(self, prompt_id: int) -> PromptVersion | None:
        return await self.db.scalar(
            select(PromptVersion)
            .where(PromptVersion.prompt_id == prompt_id)
            .order_by(PromptVersion.version.desc())
            .limit(1)
        )

    async def versions(self, prompt_id: int) -> list[PromptVersion]:
        query = (
            select(PromptVersion)
            .where(PromptVersion.prompt_id == prompt_id)
            .order_by(PromptVersion.version)
        )
        return list(await self.db.scalars(query))

    async def version(self, prompt_id: int, version: int) -> PromptVersion | None:
        return await self.db.scalar(
            select(PromptVersion).where(
                PromptVersion.prompt_id == prompt_id, PromptVersion.version == version
            )
        )

    async def latest_versions(self, prompt_ids: Sequence[int]) -> dict[int, PromptVersion]:
        """Each prompt's latest version, by prompt id."""
        if not prompt_ids:
            return {}
        latest = (
            select(PromptVersion.prompt_id, func.max(PromptVersion.version).label("version"))
            .where(PromptVersion.prompt_id.in_(prompt_ids))
            .group_by(PromptVersion.prompt_id)
            .subquery()
        )
        query = select(PromptVersion).join(
            latest,
            and_(
                PromptVersion.prompt_id == latest.c.prompt_id,
                PromptVersion.version == latest.c.version,
            ),
        )
        return {version.prompt_id: version for version in await self.db.scalars(query)}

    async def add_version(self, version: PromptVersion) -> PromptVersion:
        self.db.add(version)
        await self.db.flush()
        return version
