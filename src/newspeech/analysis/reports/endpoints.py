"""Reports API: list and filter reports, read one with its runs, download a run as Markdown or
PDF, see a run's LLM calls, re-run a report. Analysts and admins."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, BackgroundTasks, Depends, Path, Query, Response, status

from newspeech.analysis.jobs.deps import JobKickerDep
from newspeech.analysis.keys import dictionary_key
from newspeech.analysis.recordings.endpoints import AudioStoreDep
from newspeech.analysis.reports.repository import ReportFilter
from newspeech.analysis.reports.schemas import (
    LLMCallRead,
    ReportDetail,
    ReportRead,
    ReportRunRead,
    ReportTypesRead,
    RerunRead,
)
from newspeech.analysis.reports.service import ReportDesk
from newspeech.auth.deps import AnalystUser, AuditorDep
from newspeech.db.deps import DbSession, SettingsDep
from newspeech.enums import ReportStatus
from newspeech.kit.ids import MAX_INT32, Id
from newspeech.kit.pagination import Page, PageRequest, fetch_page, order_by
from newspeech.kit.responses import COMMON_ERRORS
from newspeech.models import Report

router = APIRouter(prefix="/analysis/reports", tags=["analysis"], responses=COMMON_ERRORS)

NameQuery = Annotated[str | None, Query(min_length=1, max_length=200)]
RunNumber = Annotated[int, Query(ge=1, le=MAX_INT32)]


def get_desk(
    db: DbSession,
    _user: AnalystUser,
    auditor: AuditorDep,
    settings: SettingsDep,
    store: AudioStoreDep,
) -> ReportDesk:
    return ReportDesk(
        db,
        store,
        llm_model=settings.llm_model if settings.llm_api_url else None,
        auditor=auditor if settings.enable_audit_logs else None,
    )


DeskDep = Annotated[ReportDesk, Depends(get_desk)]


@router.get("")
async def list_reports(
    desk: DeskDep,
    page: Annotated[PageRequest, Query()],
    place: NameQuery = None,
    city: NameQuery = None,
    zone: NameQuery = None,
    building_type: NameQuery = None,
    scenario: NameQuery = None,
    report_type: NameQuery = None,
    employee: NameQuery = None,
    client: NameQuery = None,
    report_status: Annotated[ReportStatus | None, Query(alias="status")] = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    recording_id: Id | None = None,
) -> Page[ReportRead]:
    """Reports matching every filter given. Names (place, city, zone, building type,
    employee, client) match whatever their case and spacing; scenario and report type are
    registry keys (``interview``, ``client-brief``, ``transcript``); the dates bound the
    report's date, both included. Sortable by ``created_at``, ``report_date``, ``id``."""

    def key(name: str | None) -> str | None:
        return dictionary_key(name) if name is not None else None

    wanted = ReportFilter(
        place=key(place),
        city=key(city),
        zone=key(zone),
        building_type=key(building_type),
        scenario=key(scenario),
        report_type=key(report_type),
        employee=key(employee),
        client=key(client),
        status=report_status,
        date_from=date_from,
        date_to=date_to,
        recording_id=recording_id,
    )
    allowed = {"created_at": Report.created_at, "report_date": Report.report_date, "id": Report.id}
    query = desk.reports.filtered(wanted).order_by(
        *order_by(page.sort, allowed, ["-created_at", "-id"])
    )
    rows, total = await fetch_page(desk.db, query, page)
    items = [await desk.describe(row) for row in rows]
    return Page(items=items, total=total, page=page.page, size=page.size)


@router.get("/types")
async def list_report_types(desk: DeskDep) -> ReportTypesRead:
    """Every report type, whether it runs prompts (and so needs ``NEWSPEECH_LLM_API_URL``),
    and whether this installation can make it now."""
    return await desk.report_types()


@router.get("/{report_id}")
async def get_report(report_id: Id, desk: DeskDep) -> ReportDetail:
    """The report with its runs, oldest first, and its latest finished Markdown and JSON."""
    return await desk.detail(report_id)


@router.get("/{report_id}/download")
async def download_report(
    report_id: Id,
    desk: DeskDep,
    format: Literal["pdf", "md"] = "pdf",
    run: RunNumber | None = None,
) -> Response:
    """The report as PDF or Markdown: run ``run``, or the latest finished one."""
    download = await desk.download(report_id, run, format)
    return Response(
        download.content,
        media_type=download.media_type,
        headers={"Content-Disposition": f'attachment; filename="{download.filename}"'},
    )


@router.get("/{report_id}/runs/{number}/calls")
async def list_run_calls(
    report_id: Id, number: Annotated[int, Path(ge=1, le=MAX_INT32)], desk: DeskDep
) -> list[LLMCallRead]:
    """Every LLM request the run made, failed ones and repairs included, in order: prompt
    version, hash of the input, models asked and answering, parameters, tokens, latency,
    raw and parsed answer, error."""
    return [LLMCallRead.model_validate(c) for c in await desk.calls(report_id, number)]


@router.post("/{report_id}/runs", status_code=status.HTTP_202_ACCEPTED)
async def rerun_report(
    report_id: Id,
    desk: DeskDep,
    user: AnalystUser,
    kicker: JobKickerDep,
    background: BackgroundTasks,
) -> RerunRead:
    """Run the report's chain again, with the prompts' latest versions, as a new run on a new
    job; earlier runs stay. 409 while the recording is not transcribed or has a job running,
    and when the report type needs an LLM and none is configured."""
    run, job_id = await desk.rerun(report_id, actor_id=user.id)
    background.add_task(kicker.kick, job_id)
    return RerunRead(report_id=report_id, run=ReportRunRead.model_validate(run), job_id=job_id)
