"""The API's side of analysis jobs: creating one, its progress, cancelling it, retrying a
failed stage. Flushes; the request commits (and only then is the job kicked)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from newspeech.analysis.jobs.repository import UNFINISHED_JOBS, JobRepository
from newspeech.audits.service import Auditor
from newspeech.errors import InvalidState, NotFound
from newspeech.models import (
    AnalysisJob,
    AnalysisJobStage,
    AnalysisJobStatus,
    AnalysisStageKind,
    AnalysisStageStatus,
    ReportRun,
    ReportRunStatus,
    Transcription,
    TranscriptionStatus,
)

CUT_PHASE, TRANSCRIBE_PHASE, ASSEMBLE_PHASE = 1, 2, 3
SPEAKERS_PHASE, PROMPT_PHASE, REPORT_PHASE = 4, 5, 6
"""Added by the assembly (or by re-running a report): speaker roles, each prompt of each
report's chain, each report's assembly."""


def first_stages() -> list[AnalysisJobStage]:
    """A new job's stages; the cut adds one transcription stage per piece between them."""
    return [
        AnalysisJobStage(phase=CUT_PHASE, chunk=0, kind=AnalysisStageKind.CUT, attempts=0),
        AnalysisJobStage(
            phase=ASSEMBLE_PHASE, chunk=0, kind=AnalysisStageKind.ASSEMBLE, attempts=0
        ),
    ]


@dataclass(frozen=True)
class JobProgress:
    job: AnalysisJob
    stages: list[AnalysisJobStage]
    stages_done: int
    stages_total: int
    eta_seconds: float | None
    """Time left, from the pace of the pieces transcribed so far (none before the first)."""


class JobBoard:
    def __init__(self, db: AsyncSession, *, auditor: Auditor | None = None) -> None:
        self.db = db
        self.jobs = JobRepository(db)
        self.auditor = auditor

    async def create(self, transcription_id: int, *, requested_by: int | None) -> AnalysisJob:
        job = AnalysisJob(transcription_id=transcription_id, requested_by=requested_by)
        return await self.jobs.add(job, first_stages())

    async def latest(self, transcription_id: int) -> AnalysisJob | None:
        return await self.jobs.latest_for(transcription_id)

    async def counts(self, job_id: int) -> tuple[int, int]:
        return await self.jobs.counts(job_id)

    async def get(self, job_id: int) -> AnalysisJob:
        job = await self.jobs.get(job_id)
        if job is None:
            raise NotFound(f"no analysis job {job_id}")
        return job

    async def progress(self, job_id: int) -> JobProgress:
        job = await self.get(job_id)
        stages = await self.jobs.stages(job_id)
        done = sum(stage.status is AnalysisStageStatus.DONE for stage in stages)
        return JobProgress(job, stages, done, len(stages), _eta(stages))

    async def cancel(self, job_id: int, *, actor_id: int | None) -> AnalysisJob:
        """Stop the job: no further stage starts, and a stage running now has its output
        thrown away when it ends."""
        job = await self.get(job_id)
        changed = await self.jobs.change_job(
            job_id,
            UNFINISHED_JOBS,
            {"status": AnalysisJobStatus.CANCELLED, "finished_at": dt.datetime.now(dt.UTC)},
        )
        if not changed:
            raise InvalidState(
                f"the job is {job.status.value}; only a running job can be cancelled"
            )
        await self._set_transcription(job.transcription_id, TranscriptionStatus.UPLOADED)
        await self.db.execute(
            update(ReportRun)
            .where(ReportRun.job_id == job_id, ReportRun.status == ReportRunStatus.PENDING)
            .values(status=ReportRunStatus.FAILED, error="the job was cancelled")
            .execution_options(synchronize_session=False)
        )
        await self._audit("analysis.job.cancel", job_id, actor_id)
        return await self._fresh(job_id)

    async def retry(self, job_id: int, *, actor_id: int | None) -> AnalysisJob:
        """Run a failed (or cancelled) job again from its first unfinished stage; stages done
        are kept, a failed stage gets its tries back."""
        job = await self.get(job_id)
        ended = (AnalysisJobStatus.FAILED, AnalysisJobStatus.CANCELLED)
        if not await self.jobs.change_job(
            job_id, ended, {"status": AnalysisJobStatus.QUEUED, "error": None, "finished_at": None}
        ):
            raise InvalidState(
                f"the job is {job.status.value}; only a failed or cancelled job can be retried"
            )
        for stage in await self.jobs.stages(job_id):
            if stage.status is not AnalysisStageStatus.DONE:
                await self.jobs.change_stage(
                    stage.id,
                    {"status": stage.status},
                    {"status": AnalysisStageStatus.PENDING, "attempts": 0, "lease_until": None},
                )
        await self._set_transcription(job.transcription_id, TranscriptionStatus.UPLOADED)
        await self._audit("analysis.job.retry", job_id, actor_id)
        return await self._fresh(job_id)

    async def _fresh(self, job_id: int) -> AnalysisJob:
        job = await self.jobs.get(job_id)
        assert job is not None
        await self.db.refresh(job)
        return job

    async def _set_transcription(self, transcription_id: int, status: TranscriptionStatus) -> None:
        transcription = await self.db.get(Transcription, transcription_id)
        if (
            transcription is not None
            and transcription.status is not TranscriptionStatus.TRANSCRIBED
        ):
            transcription.status = status
            await self.db.flush()

    async def _audit(self, action: str, job_id: int, actor_id: int | None) -> None:
        if self.auditor is not None:
            await self.auditor.record(
                action, actor_id=actor_id, resource_type="analysis_jobs", resource_id=job_id
            )


def _eta(stages: list[AnalysisJobStage]) -> float | None:
    pieces = [s for s in stages if s.kind is AnalysisStageKind.TRANSCRIBE]
    spans = [
        (s, s.finished_at - s.started_at)
        for s in pieces
        if s.status is AnalysisStageStatus.DONE and s.started_at and s.finished_at
    ]
    if not spans:
        return None
    done = [s for s, _ in spans]
    spent = sum(span.total_seconds() for _, span in spans)
    heard = sum((s.end_seconds or 0.0) - (s.start_seconds or 0.0) for s in done)
    left = sum(
        (s.end_seconds or 0.0) - (s.start_seconds or 0.0)
        for s in pieces
        if s.status is not AnalysisStageStatus.DONE
    )
    return round(spent / heard * left, 1) if heard > 0 else None
