"""Queries of the recording intake."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from newspeech.models import Report, ReportType, Scenario, Transcription


class RecordingRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def scenario(self, key: str) -> Scenario | None:
        return await self.db.scalar(select(Scenario).where(Scenario.key == key))

    async def report_type(self, scenario_id: int, key: str) -> ReportType | None:
        return await self.db.scalar(
            select(ReportType).where(ReportType.scenario_id == scenario_id, ReportType.key == key)
        )

    async def add(self, transcription: Transcription, reports: list[Report]) -> Transcription:
        self.db.add(transcription)
        await self.db.flush()
        for report in reports:
            report.transcription_id = transcription.id
            self.db.add(report)
        await self.db.flush()
        return transcription

    async def get(self, transcription_id: int) -> Transcription | None:
        return await self.db.get(Transcription, transcription_id)

    async def report_type_keys(self, transcription_id: int) -> list[str]:
        query = (
            select(ReportType.key)
            .join(Report, Report.report_type_id == ReportType.id)
            .where(Report.transcription_id == transcription_id)
            .order_by(ReportType.key)
        )
        return list(await self.db.scalars(query))
