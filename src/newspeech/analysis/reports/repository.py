"""Queries of reports, their runs and the LLM calls behind them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from newspeech.models import (
    BuildingType,
    City,
    Client,
    Employee,
    LLMCall,
    Place,
    Report,
    ReportRun,
    ReportRunStatus,
    ReportStatus,
    ReportType,
    Scenario,
    Transcription,
    Zone,
)


@dataclass(frozen=True)
class ReportFilter:
    """Each is a dictionary key (names are normalised by the caller) or a registry key."""

    place: str | None = None
    city: str | None = None
    zone: str | None = None
    building_type: str | None = None
    scenario: str | None = None
    report_type: str | None = None
    employee: str | None = None
    client: str | None = None
    status: ReportStatus | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    recording_id: int | None = None


class ReportRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    def filtered(self, wanted: ReportFilter) -> Select[Any]:
        """Reports matching every given filter. Employee, client, place and date are the
        report's own (copied when it was asked for); city, zone and building type the
        recording's."""
        query = (
            select(Report)
            .join(Transcription, Transcription.id == Report.transcription_id)
            .join(ReportType, ReportType.id == Report.report_type_id)
            .join(Scenario, Scenario.id == ReportType.scenario_id)
        )
        keyed: list[tuple[Any, Any, str | None]] = [
            (Place, Report.place_id, wanted.place),
            (Employee, Report.employee_id, wanted.employee),
            (Client, Report.client_id, wanted.client),
            (City, Transcription.city_id, wanted.city),
            (Zone, Transcription.zone_id, wanted.zone),
            (BuildingType, Transcription.building_type_id, wanted.building_type),
        ]
        for model, column, key in keyed:
            if key is not None:
                query = query.where(column.in_(select(model.id).where(model.key == key)))
        if wanted.scenario is not None:
            query = query.where(Scenario.key == wanted.scenario)
        if wanted.report_type is not None:
            query = query.where(ReportType.key == wanted.report_type)
        if wanted.status is not None:
            query = query.where(Report.status == wanted.status)
        if wanted.date_from is not None:
            query = query.where(Report.report_date >= wanted.date_from)
        if wanted.date_to is not None:
            query = query.where(Report.report_date <= wanted.date_to)
        if wanted.recording_id is not None:
            query = query.where(Report.transcription_id == wanted.recording_id)
        return query

    async def get(self, report_id: int) -> Report | None:
        return await self.db.get(Report, report_id)

    async def runs(self, report_id: int) -> list[ReportRun]:
        query = select(ReportRun).where(ReportRun.report_id == report_id)
        return list(await self.db.scalars(query.order_by(ReportRun.number)))

    async def run(self, report_id: int, number: int | None) -> ReportRun | None:
        """Run ``number`` of the report, or its latest finished run."""
        query = select(ReportRun).where(ReportRun.report_id == report_id)
        if number is None:
            query = query.where(ReportRun.status == ReportRunStatus.DONE)
            query = query.order_by(ReportRun.number.desc()).limit(1)
        else:
            query = query.where(ReportRun.number == number)
        return await self.db.scalar(query)

    async def calls(self, run_id: int) -> list[LLMCall]:
        query = select(LLMCall).where(LLMCall.run_id == run_id)
        return list(
            await self.db.scalars(
                query.order_by(LLMCall.stage_id, LLMCall.stage_attempt, LLMCall.sequence)
            )
        )
