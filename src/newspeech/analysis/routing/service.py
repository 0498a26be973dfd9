"""Routing: which scenario, report types and building type a recording goes through, checked
against the prompt registry in one place (:class:`RouteFinder`, used by the upload and by
``PUT /analysis/routing``), and each analyst's last choice. One row per user, written race-free
on every backend: an insert that ignores a duplicate key, then an update of that row, so two
uploads at once both succeed and the later one wins."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from newspeech.analysis.keys import dictionary_key
from newspeech.analysis.recordings.repository import RecordingRepository
from newspeech.analysis.repository import DictionaryRepository
from newspeech.analysis.routing.schemas import RoutingRead
from newspeech.errors import NotFound
from newspeech.kit.upsert import insert_if_absent
from newspeech.models import BuildingType, ReportType, RoutingChoice, Scenario


@dataclass(frozen=True)
class Route:
    """A checked choice: the scenario, its report types (each once, in the order named) and the
    building type's id (``None`` when none was named)."""

    scenario: Scenario
    report_types: tuple[ReportType, ...]
    building_type_id: int | None

    @property
    def report_type_keys(self) -> list[str]:
        return [report_type.key for report_type in self.report_types]


class RouteFinder:
    """Looks a choice made by names up in the prompt registry."""

    def __init__(self, db: AsyncSession) -> None:
        self.db = db
        self.recordings = RecordingRepository(db)

    async def find(
        self,
        scenario: str,
        report_types: Sequence[str],
        building_type: str | None,
        *,
        create_building_type: bool,
    ) -> Route:
        """The scenario and report types must exist (404 naming the one that does not). A
        building type is created on first use when ``create_building_type`` (an upload names
        it), otherwise it must exist too (a default set without uploading)."""
        found = await self.recordings.scenario(dictionary_key(scenario))
        if found is None:
            raise NotFound(f"no scenario {scenario!r}")
        chosen = []
        for key in dict.fromkeys(dictionary_key(name) for name in report_types):
            report_type = await self.recordings.report_type(found.id, key)
            if report_type is None:
                raise NotFound(f"scenario {found.key!r} has no report type {key!r}")
            chosen.append(report_type)
        return Route(
            found, tuple(chosen), await self._building_type(building_type, create_building_type)
        )

    async def _building_type(self, name: str | None, create: bool) -> int | None:
        if name is None:
            return None
        if create:
            if not name.strip():  # an upload form's blank field names nothing
                return None
            return (await DictionaryRepository(self.db).get_or_create(BuildingType, name)).id
        found: int | None = await self.db.scalar(
            select(BuildingType.id).where(BuildingType.key == dictionary_key(name))
        )
        if found is None:
            raise NotFound(f"no building type {name!r}")
        return found


class RoutingDesk:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def get(self, user_id: int) -> RoutingRead:
        """The user's last choice; report types the registry no longer has are left out."""
        row = await self.db.get(RoutingChoice, user_id, populate_existing=True)
        if row is None:
            return RoutingRead(scenario=None, report_types=[], building_type=None, updated_at=None)
        scenario = await self.db.get(Scenario, row.scenario_id)
        assert scenario is not None  # a foreign key with ON DELETE CASCADE
        known = set(
            await self.db.scalars(
                select(ReportType.key).where(ReportType.scenario_id == scenario.id)
            )
        )
        building = (
            None
            if row.building_type_id is None
            else await self.db.get(BuildingType, row.building_type_id)
        )
        return RoutingRead(
            scenario=scenario.key,
            report_types=[key for key in row.report_types if key in known],
            building_type=None if building is None else building.name,
            updated_at=row.updated_at,
        )

    async def choose(
        self, user_id: int, scenario: str, report_types: Sequence[str], building_type: str | None
    ) -> RoutingRead:
        """Record a choice by names, each checked against the registry (404 naming the one
        that is unknown)."""
        route = await RouteFinder(self.db).find(
            scenario, report_types, building_type, create_building_type=False
        )
        await self.record(
            user_id, route.scenario.id, route.report_type_keys, route.building_type_id
        )
        return await self.get(user_id)

    async def record(
        self,
        user_id: int,
        scenario_id: int,
        report_type_keys: Sequence[str],
        building_type_id: int | None,
    ) -> None:
        """Store the choice (ids and keys already checked, as an upload has them)."""
        values = {
            "scenario_id": scenario_id,
            "report_types": list(report_type_keys),
            "building_type_id": building_type_id,
        }
        table = RoutingChoice.metadata.tables[RoutingChoice.__tablename__]
        await insert_if_absent(self.db, table, {"user_id": user_id, **values}, key="user_id")
        await self.db.execute(
            update(RoutingChoice).where(RoutingChoice.user_id == user_id).values(**values)
        )
