"""Analysis jobs API: progress, cancel, retry. Analysts and admins."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends

from newspeech.analysis.jobs.deps import JobKickerDep
from newspeech.analysis.jobs.schemas import JobRead, StageRead
from newspeech.analysis.jobs.service import JobBoard
from newspeech.auth.deps import AnalystUser, AuditorDep
from newspeech.db.deps import DbSession, SettingsDep
from newspeech.kit.ids import Id
from newspeech.kit.responses import COMMON_ERRORS

router = APIRouter(prefix="/analysis/jobs", tags=["analysis"], responses=COMMON_ERRORS)


def get_board(
    db: DbSession, _user: AnalystUser, auditor: AuditorDep, settings: SettingsDep
) -> JobBoard:
    return JobBoard(db, auditor=auditor if settings.enable_audit_logs else None)


BoardDep = Annotated[JobBoard, Depends(get_board)]


@router.get("/{job_id}")
async def get_job(job_id: Id, board: BoardDep) -> JobRead:
    """The job's stages in order, how many are done, and an estimate of the time left."""
    return await _read(board, job_id)


@router.post("/{job_id}/cancel")
async def cancel_job(job_id: Id, board: BoardDep, user: AnalystUser) -> JobRead:
    """Stop a queued or running job; what its stages stored is kept, a stage running now is
    discarded when it ends. 409 for a finished job."""
    await board.cancel(job_id, actor_id=user.id)
    return await _read(board, job_id)


@router.post("/{job_id}/retry")
async def retry_job(
    job_id: Id,
    board: BoardDep,
    user: AnalystUser,
    kicker: JobKickerDep,
    background: BackgroundTasks,
) -> JobRead:
    """Run a failed or cancelled job again from its first unfinished stage (stages done are
    not run again). 409 for a job that is queued, running or done."""
    await board.retry(job_id, actor_id=user.id)
    background.add_task(kicker.kick, job_id)
    return await _read(board, job_id)


async def _read(board: JobBoard, job_id: int) -> JobRead:
    progress = await board.progress(job_id)
    job = progress.job
    return JobRead(
        id=job.id,
        transcription_id=job.transcription_id,
        status=job.status,
        error=job.error,
        stages_done=progress.stages_done,
        stages_total=progress.stages_total,
        eta_seconds=progress.eta_seconds,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        stages=[StageRead.model_validate(stage) for stage in progress.stages],
    )
