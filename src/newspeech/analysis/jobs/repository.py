"""Queries of analysis jobs and their stages. Every state change is a conditional UPDATE (the
row must still be in the state the caller saw), so two workers racing for one stage, or a
stage finishing twice, change it once."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import CursorResult, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from newspeech.analysis.repository import latest_committed
from newspeech.models import (
    AnalysisJob,
    AnalysisJobStage,
    AnalysisJobStatus,
    AnalysisStageStatus,
)

UNFINISHED_JOBS = (AnalysisJobStatus.QUEUED, AnalysisJobStatus.RUNNING)


class JobRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def add(self, job: AnalysisJob, stages: list[AnalysisJobStage]) -> AnalysisJob:
        self.db.add(job)
        await self.db.flush()
        for stage in stages:
            stage.job_id = job.id
            self.db.add(stage)
        await self.db.flush()
        return job

    async def get(self, job_id: int, *, fresh: bool = False) -> AnalysisJob | None:
        query = select(AnalysisJob).where(AnalysisJob.id == job_id)
        if fresh:
            query = latest_committed(self.db, query)
        return await self.db.scalar(query)

    async def hold(self, job_id: int) -> None:
        """Lock the job's row until the transaction ends (``FOR UPDATE``; SQLite, which
        ignores it, has one writer at a time anyway)."""
        await self.db.execute(
            select(AnalysisJob.id).where(AnalysisJob.id == job_id).with_for_update()
        )

    async def latest_for(self, transcription_id: int) -> AnalysisJob | None:
        return await self.db.scalar(
            select(AnalysisJob)
            .where(AnalysisJob.transcription_id == transcription_id)
            .order_by(AnalysisJob.id.desc())
            .limit(1)
        )

    async def stages(self, job_id: int, *, fresh: bool = False) -> list[AnalysisJobStage]:
        query = (
            select(AnalysisJobStage)
            .where(AnalysisJobStage.job_id == job_id)
            .order_by(AnalysisJobStage.phase, AnalysisJobStage.chunk)
        )
        if fresh:
            query = latest_committed(self.db, query)
        return list(await self.db.scalars(query))

    async def counts(self, job_id: int) -> tuple[int, int]:
        """(stages done, stages in all)."""
        query = (
            select(AnalysisJobStage.status, func.count())
            .where(AnalysisJobStage.job_id == job_id)
            .group_by(AnalysisJobStage.status)
        )
        by_status = {status: int(n) for status, n in await self.db.execute(query)}
        return by_status.get(AnalysisStageStatus.DONE, 0), sum(by_status.values())

    async def unfinished_stages(self, job_id: int) -> int:
        """How many of the job's stages are pending or running."""
        query = select(func.count()).where(
            AnalysisJobStage.job_id == job_id,
            AnalysisJobStage.status.in_((AnalysisStageStatus.PENDING, AnalysisStageStatus.RUNNING)),
        )
        return int(await self.db.scalar(query) or 0)

    async def give_up_run(self, job_id: int, run_id: int, error: str, now: dt.datetime) -> None:
        """Fail the pending stages of a report run one of whose stages failed for good."""
        await self.db.execute(
            update(AnalysisJobStage)
            .where(
                AnalysisJobStage.job_id == job_id,
                AnalysisJobStage.run_id == run_id,
                AnalysisJobStage.status == AnalysisStageStatus.PENDING,
            )
            .values(status=AnalysisStageStatus.FAILED, error=error, finished_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        )

    async def unfinished_job_ids(self) -> list[int]:
        query = select(AnalysisJob.id).where(AnalysisJob.status.in_(UNFINISHED_JOBS))
        return list(await self.db.scalars(query.order_by(AnalysisJob.id)))

    async def change_stage(
        self, stage_id: int, expected: dict[str, Any], values: dict[str, Any]
    ) -> bool:
        """Set ``values`` on the stage if its columns still hold ``expected``; whether it did."""
        conditions = [getattr(AnalysisJobStage, name) == v for name, v in expected.items()]
        result = await self.db.execute(
            update(AnalysisJobStage)
            .where(AnalysisJobStage.id == stage_id, *conditions)
            .values(**values, updated_at=values.get("updated_at", _now()))
            .execution_options(synchronize_session=False)
        )
        return _changed(result)

    async def claim_stage(
        self, stage: AnalysisJobStage, now: dt.datetime, lease_until: dt.datetime
    ) -> bool:
        """Take the stage for this worker: pending and not waiting out a back-off, or running
        under a lease that has run out (its worker died or overran the time limit)."""
        result = await self.db.execute(
            update(AnalysisJobStage)
            .where(
                AnalysisJobStage.id == stage.id,
                AnalysisJobStage.attempts == stage.attempts,
                or_(
                    AnalysisJobStage.status == AnalysisStageStatus.PENDING,
                    AnalysisJobStage.status == AnalysisStageStatus.RUNNING,
                ),
                or_(AnalysisJobStage.lease_until.is_(None), AnalysisJobStage.lease_until <= now),
            )
            .values(
                status=AnalysisStageStatus.RUNNING,
                attempts=stage.attempts + 1,
                lease_until=lease_until,
                started_at=now,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        return _changed(result)

    async def change_job(
        self, job_id: int, expected: tuple[AnalysisJobStatus, ...], values: dict[str, Any]
    ) -> bool:
        result = await self.db.execute(
            update(AnalysisJob)
            .where(AnalysisJob.id == job_id, AnalysisJob.status.in_(expected))
            .values(**values, updated_at=values.get("updated_at", _now()))
            .execution_options(synchronize_session=False)
        )
        return _changed(result)


def _changed(result: Any) -> bool:
    assert isinstance(result, CursorResult)
    return bool(result.rowcount)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
