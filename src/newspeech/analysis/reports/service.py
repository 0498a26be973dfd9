"""The API's side of reports: list and filter them, read one with its runs, download a run's
Markdown or PDF, re-run a report (a new run on a new job; the runs before stay), and say which
report types need the LLM. Flushes; the request commits (and only then is a job kicked)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from newspeech.analysis.jobs.repository import UNFINISHED_JOBS, JobRepository
from newspeech.analysis.reports.planning import NEEDS_LLM, plan_reports, report_type_has_prompts
from newspeech.analysis.reports.render import report_html
from newspeech.analysis.reports.repository import ReportRepository
from newspeech.analysis.reports.schemas import (
    ReportDetail,
    ReportRead,
    ReportRunRead,
    ReportTypeRead,
    ReportTypesRead,
)
from newspeech.audits.service import Auditor
from newspeech.errors import InvalidState, NotFound
from newspeech.models import (
    AnalysisJob,
    BuildingType,
    City,
    Client,
    Employee,
    LLMCall,
    Place,
    Prompt,
    Report,
    ReportRun,
    ReportRunStatus,
    ReportType,
    Scenario,
    Transcription,
    TranscriptionStatus,
    Zone,
)
from newspeech.models.prompts import KeyedName
from newspeech.storage import AudioStore

Format = Literal["md", "pdf"]


@dataclass(frozen=True)
class Download:
    filename: str
    media_type: str
    content: bytes


class ReportDesk:
    def __init__(
        self,
        db: AsyncSession,
        store: AudioStore,
        *,
        llm_model: str | None,
        auditor: Auditor | None = None,
    ) -> None:
        self.db = db
        self.store = store
        self.reports = ReportRepository(db)
        self.llm_model = llm_model
        """the model jobs will ask (None: no LLM configured on this installation)"""
        self.auditor = auditor

    async def get(self, report_id: int) -> Report:
        report = await self.reports.get(report_id)
        if report is None:
            raise NotFound(f"no report {report_id}")
        return report

    async def describe(self, report: Report) -> ReportRead:
        transcription = await self.db.get(Transcription, report.transcription_id)
        report_type = await self.db.get(ReportType, report.report_type_id)
        assert transcription is not None
        assert report_type is not None
        scenario = await self.db.get(Scenario, report_type.scenario_id)
        assert scenario is not None
        return ReportRead(
            id=report.id,
            recording_id=report.transcription_id,
            scenario=scenario.key,
            report_type=report_type.key,
            report_type_name=report_type.name,
            needs_llm=await report_type_has_prompts(self.db, report_type.id),
            status=report.status,
            error=report.error,
            building_type=await self._name(BuildingType, transcription.building_type_id),
            place=await self._name(Place, report.place_id),
            city=await self._name(City, transcription.city_id),
            zone=await self._name(Zone, transcription.zone_id),
            employee=await self._name(Employee, report.employee_id),
            client=await self._name(Client, report.client_id),
            report_date=report.report_date,
            created_at=report.created_at,
            updated_at=report.updated_at,
            runs=[ReportRunRead.model_validate(r) for r in await self.reports.runs(report.id)],
        )

    async def detail(self, report_id: int) -> ReportDetail:
        report = await self.get(report_id)
        read = await self.describe(report)
        html = None if report.body is None else report_html(report.body)
        return ReportDetail(**read.model_dump(), markdown=report.body, html=html, data=report.data)

    async def download(self, report_id: int, number: int | None, fmt: Format) -> Download:
        """Run ``number`` (default: the latest finished) as Markdown or PDF."""
        await self.get(report_id)
        run = await self.reports.run(report_id, number)
        if run is None:
            which = f"run {number}" if number is not None else "finished run"
            raise NotFound(f"report {report_id} has no {which}")
        if run.status is not ReportRunStatus.DONE or run.markdown is None or run.pdf_key is None:
            raise NotFound(f"run {run.number} of report {report_id} is {run.status.value}")
        if fmt == "pdf":
            content = await self.store.get(run.pdf_key)
        else:
            content = run.markdown.encode()
        media = "application/pdf" if fmt == "pdf" else "text/markdown; charset=utf-8"
        return Download(f"report-{report_id}-run-{run.number}.{fmt}", media, content)

    async def calls(self, report_id: int, number: int) -> list[LLMCall]:
        await self.get(report_id)
        run = await self.reports.run(report_id, number)
        if run is None:
            raise NotFound(f"report {report_id} has no run {number}")
        return await self.reports.calls(run.id)

    async def rerun(self, report_id: int, *, actor_id: int | None) -> tuple[ReportRun, int]:
        """A new run of the report's chain (the prompts' latest versions) on a new job; the
        report's earlier runs stay. 409 while the recording is not transcribed or has a job
        running, and for a report type that needs an LLM when none is configured."""
        report = await self.get(report_id)
        transcription = await self.db.get(Transcription, report.transcription_id)
        assert transcription is not None
        if transcription.status is not TranscriptionStatus.TRANSCRIBED:
            raise InvalidState(f"the recording is {transcription.status.value}, not transcribed")
        jobs = JobRepository(self.db)
        latest = await jobs.latest_for(transcription.id)
        if latest is not None and latest.status in UNFINISHED_JOBS:
            raise InvalidState(f"job {latest.id} of this recording is still {latest.status.value}")
        if self.llm_model is None and await report_type_has_prompts(self.db, report.report_type_id):
            raise InvalidState(NEEDS_LLM)
        job = await jobs.add(
            AnalysisJob(transcription_id=transcription.id, requested_by=actor_id), []
        )
        planned = await plan_reports(
            self.db,
            job.id,
            transcription,
            [report],
            model=self.llm_model,
            requested_by=actor_id,
            label_speakers=False,
        )
        if not planned.runs:
            raise InvalidState(report.error or "the report cannot be made")
        if self.auditor is not None:
            await self.auditor.record(
                "analysis.report.rerun",
                actor_id=actor_id,
                resource_type="analysis_reports",
                resource_id=report.id,
                details={"run": planned.runs[0].number, "job_id": job.id},
            )
        return planned.runs[0], job.id

    async def report_types(self) -> ReportTypesRead:
        """Every report type, whether it needs the LLM, and for which building types it has
        prompts."""
        rows = await self.db.execute(
            select(ReportType, Scenario).join(Scenario, Scenario.id == ReportType.scenario_id)
        )
        covered: dict[int, set[str]] = {}
        prompts = await self.db.execute(
            select(Prompt.report_type_id, BuildingType.key)
            .join(BuildingType, BuildingType.id == Prompt.building_type_id)
            .where(Prompt.is_active.is_(True))
        )
        for report_type_id, building in prompts:
            covered.setdefault(report_type_id, set()).add(building)
        configured = self.llm_model is not None
        types = [
            ReportTypeRead(
                scenario=scenario.key,
                key=report_type.key,
                name=report_type.name,
                needs_llm=report_type.id in covered,
                available=configured or report_type.id not in covered,
                building_types=sorted(covered.get(report_type.id, ())),
            )
            for report_type, scenario in rows
        ]
        types.sort(key=lambda t: (t.scenario, t.key))
        return ReportTypesRead(llm_configured=configured, report_types=types)

    async def _name(self, model: type[KeyedName], entry_id: int | None) -> str | None:
        if entry_id is None:
            return None
        row = await self.db.get(model, entry_id)
        return row.name if row is not None else None
