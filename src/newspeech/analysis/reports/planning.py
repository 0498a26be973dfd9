"""Which stages make a job's reports: a run per report, one stage per prompt of its chain (in
``run_part`` order, each fixed to the prompt's latest version now), and one stage that
assembles the report. Used when a transcript is assembled and when a report is re-run; flushes
in the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from newspeech.analysis.jobs.service import PROMPT_PHASE, REPORT_PHASE, SPEAKERS_PHASE
from newspeech.analysis.repository import DictionaryRepository, PromptRegistryRepository
from newspeech.errors import Conflict
from newspeech.models import (
    AnalysisJobStage,
    AnalysisStageKind,
    Prompt,
    Report,
    ReportRun,
    ReportStatus,
    ReportType,
    Transcription,
)

TRANSCRIPT_REPORT = "transcript"
"""The report type every recording gets: its metadata and timed transcript, no prompts."""
NEEDS_LLM = (
    "this report type runs prompts and no LLM server is configured: set NEWSPEECH_LLM_API_URL "
    "and re-run the report"
)


@dataclass(frozen=True)
class Planned:
    runs: list[ReportRun]
    stages: int


async def transcript_report_type(db: AsyncSession, scenario_id: int) -> ReportType:
    """The scenario's ``transcript`` report type, created on first use (race-free)."""
    return await DictionaryRepository(db).get_or_create(
        ReportType, "Transcript", key=TRANSCRIPT_REPORT, parent={"scenario_id": scenario_id}
    )


async def reports_to_make(db: AsyncSession, transcription: Transcription) -> list[Report]:
    """The recording's reports, with its transcript report added if it was not asked for."""
    kind = await transcript_report_type(db, transcription.scenario_id)
    reports = list(
        await db.scalars(
            select(Report).where(Report.transcription_id == transcription.id).order_by(Report.id)
        )
    )
    if not any(r.report_type_id == kind.id for r in reports):
        report = Report(
            transcription_id=transcription.id,
            report_type_id=kind.id,
            employee_id=transcription.employee_id,
            client_id=transcription.client_id,
            place_id=transcription.place_id,
            report_date=transcription.recorded_on,
            status=ReportStatus.PENDING,
        )
        db.add(report)
        await db.flush()
        reports.insert(0, report)
    return reports


async def report_type_has_prompts(db: AsyncSession, report_type_id: int) -> bool:
    query = select(func.count()).where(
        Prompt.report_type_id == report_type_id, Prompt.is_active.is_(True)
    )
    return bool(await db.scalar(query))


async def plan_reports(
    db: AsyncSession,
    job_id: int,
    transcription: Transcription,
    reports: Sequence[Report],
    *,
    model: str | None,
    requested_by: int | None,
    label_speakers: bool,
) -> Planned:
    """Add the runs and stages that make ``reports`` to the job. A report whose type needs an
    LLM when ``model`` is None, or has no prompts for the recording's building type, is marked
    failed with the reason instead."""
    registry = PromptRegistryRepository(db)
    stages: list[AnalysisJobStage] = []
    if label_speakers and model is not None and transcription.segments:
        stages.append(_stage(job_id, SPEAKERS_PHASE, 0, AnalysisStageKind.SPEAKERS))
    runs: list[ReportRun] = []
    prompt_chunk = report_chunk = 0
    for report in reports:
        prompts = []
        if transcription.building_type_id is not None:
            prompts = [
                p
                for p in await registry.prompts(
                    report_type_id=report.report_type_id,
                    building_type_id=transcription.building_type_id,
                )
                if p.is_active
            ]
        reason = None
        if await report_type_has_prompts(db, report.report_type_id):
            if model is None:
                reason = NEEDS_LLM
            elif not prompts:
                reason = "this report type has no prompts for the recording's building type"
        if reason is not None:
            report.status, report.error = ReportStatus.FAILED, reason
            continue
        run = await _new_run(db, report, job_id, model if prompts else None, requested_by)
        runs.append(run)
        versions = await registry.latest_versions([p.id for p in prompts])
        for prompt in sorted(prompts, key=lambda p: p.run_part):
            stage = _stage(job_id, PROMPT_PHASE, prompt_chunk, AnalysisStageKind.PROMPT)
            stage.run_id, stage.prompt_version_id = run.id, versions[prompt.id].id
            stages.append(stage)
            prompt_chunk += 1
        stage = _stage(job_id, REPORT_PHASE, report_chunk, AnalysisStageKind.REPORT)
        stage.run_id = run.id
        stages.append(stage)
        report_chunk += 1
        report.status, report.error = ReportStatus.PENDING, None
    db.add_all(stages)
    await db.flush()
    return Planned(runs, len(stages))


async def _new_run(
    db: AsyncSession, report: Report, job_id: int, model: str | None, requested_by: int | None
) -> ReportRun:
    number = await db.scalar(
        select(func.coalesce(func.max(ReportRun.number), 0)).where(ReportRun.report_id == report.id)
    )
    run = ReportRun(
        report_id=report.id,
        number=int(number or 0) + 1,
        job_id=job_id,
        model=model,
        requested_by=requested_by,
    )
    db.add(run)
    try:
        await db.flush()
    except IntegrityError as exc:
        raise Conflict(
            f"run {run.number} of report {report.id} was made at the same time; nothing was "
            "stored, try again"
        ) from exc
    return run


def _stage(job_id: int, phase: int, chunk: int, kind: AnalysisStageKind) -> AnalysisJobStage:
    return AnalysisJobStage(job_id=job_id, phase=phase, chunk=chunk, kind=kind, attempts=0)
