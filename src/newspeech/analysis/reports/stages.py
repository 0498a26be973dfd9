"""The report stages of an analysis job: speaker roles, each prompt of a chain, each report's
assembly. ``perform_*`` run outside any transaction (reading what they need in a short one);
``store_*`` write the result in the runner's completing transaction."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from newspeech.analysis.jobs.repository import JobRepository
from newspeech.analysis.reports.chains import CallRecord, PromptChain, PromptSpec, clock
from newspeech.analysis.reports.render import (
    ReportDocument,
    ReportPart,
    report_markdown,
    report_pdf,
)
from newspeech.db.engine import unit_of_work
from newspeech.errors import ConfigurationError, InvalidState
from newspeech.kit.pdf import PdfFonts
from newspeech.models import (
    AnalysisStageKind,
    AnalysisStageStatus,
    BuildingType,
    City,
    Client,
    Employee,
    LLMCall,
    Place,
    Prompt,
    PromptVersion,
    Report,
    ReportRun,
    ReportRunStatus,
    ReportStatus,
    ReportType,
    Scenario,
    Transcription,
    Zone,
)
from newspeech.models.prompts import KeyedName
from newspeech.storage import AudioStore

REPORT_KINDS = (AnalysisStageKind.SPEAKERS, AnalysisStageKind.PROMPT, AnalysisStageKind.REPORT)


class ReportStages:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        store: AudioStore,
        chain: PromptChain | None,
        fonts: PdfFonts,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.store = store
        self.chain = chain
        self.fonts = fonts

    def _llm(self) -> PromptChain:
        if self.chain is None:
            raise ConfigurationError(
                "this stage asks an LLM and this node has none: set NEWSPEECH_LLM_API_URL"
            )
        return self.chain

    async def speakers(self, transcription_id: int, calls: list[CallRecord]) -> dict[str, Any]:
        async with unit_of_work(self.sessionmaker) as db:
            segments = await _segments(db, transcription_id)
        return {"roles": await self._llm().label_speakers(segments, calls)}

    async def prompt(
        self, transcription_id: int, prompt_version_id: int, calls: list[CallRecord]
    ) -> dict[str, Any]:
        async with unit_of_work(self.sessionmaker) as db:
            segments = await _segments(db, transcription_id)
            version = await db.get(PromptVersion, prompt_version_id)
            assert version is not None  # versions are never deleted
            prompt = await db.get(Prompt, version.prompt_id)
            assert prompt is not None
            spec = PromptSpec(
                version.id, prompt.title, version.text, version.returns_json, version.json_schema
            )
            head = {"run_part": prompt.run_part, "title": prompt.title, "version": version.version}
        answer = await self._llm().run_prompt(spec, segments, calls)
        return head | {"prompt_version_id": version.id} | answer

    async def report(self, job_id: int, run_id: int) -> dict[str, Any]:
        """The run's report as Markdown, and as a PDF put in the audio store under a key of
        its own (a second try writes the same object again; only the stored run names it)."""
        async with unit_of_work(self.sessionmaker) as db:
            doc = await _document(db, job_id, run_id)
        markdown = report_markdown(doc)
        pdf = await asyncio.to_thread(report_pdf, markdown, self.fonts, title=doc.title)
        key = f"analysis/reports/run-{run_id}.pdf"
        await self.store.put(key, pdf, "application/pdf")
        data = {"parts": [_json_part(p) for p in doc.parts if p.markdown is None]}
        return {"markdown": markdown, "data": data, "pdf_key": key, "pdf_bytes": len(pdf)}

    async def store_speakers(
        self, db: AsyncSession, transcription_id: int, roles: Sequence[str]
    ) -> None:
        transcription = await db.get(Transcription, transcription_id)
        assert transcription is not None
        segments = transcription.segments or []
        if len(roles) != len(segments):
            raise InvalidState("the transcript changed while its speakers were labelled")
        transcription.segments = [s | {"speaker": r} for s, r in zip(segments, roles, strict=True)]
        await db.flush()

    async def store_report(
        self, db: AsyncSession, run_id: int, output: dict[str, Any], now: dt.datetime
    ) -> None:
        run = await db.get(ReportRun, run_id)
        assert run is not None
        run.markdown, run.data = output["markdown"], output["data"]
        run.pdf_key, run.pdf_bytes = output["pdf_key"], output["pdf_bytes"]
        run.status, run.error, run.finished_at = ReportRunStatus.DONE, None, now
        newer = await db.scalar(
            select(func.count()).where(
                ReportRun.report_id == run.report_id,
                ReportRun.number > run.number,
                ReportRun.status == ReportRunStatus.DONE,
            )
        )
        report = await db.get(Report, run.report_id)
        if report is not None and not newer:
            report.body, report.data = run.markdown, run.data
            report.status, report.error = ReportStatus.READY, None
        await db.flush()

    async def store_calls(
        self,
        db: AsyncSession,
        stage_id: int,
        attempt: int,
        run_id: int | None,
        calls: Sequence[CallRecord],
    ) -> None:
        db.add_all(
            LLMCall(
                stage_id=stage_id,
                stage_attempt=attempt,
                sequence=index,
                run_id=run_id,
                **record.columns(),
            )
            for index, record in enumerate(calls)
        )
        await db.flush()

    async def run_failed(self, db: AsyncSession, run_id: int, error: str) -> None:
        run = await db.get(ReportRun, run_id)
        if run is None:
            return
        run.status, run.error = ReportRunStatus.FAILED, error
        report = await db.get(Report, run.report_id)
        if report is not None:
            report.status, report.error = ReportStatus.FAILED, error
        await db.flush()


async def _segments(db: AsyncSession, transcription_id: int) -> list[dict[str, Any]]:
    transcription = await db.get(Transcription, transcription_id)
    assert transcription is not None
    return list(transcription.segments or [])


async def _document(db: AsyncSession, job_id: int, run_id: int) -> ReportDocument:
    run = await db.get(ReportRun, run_id)
    assert run is not None
    report = await db.get(Report, run.report_id)
    assert report is not None
    transcription = await db.get(Transcription, report.transcription_id)
    report_type = await db.get(ReportType, report.report_type_id)
    assert transcription is not None
    assert report_type is not None
    parts = [
        ReportPart(
            s.output["run_part"],
            s.output["title"],
            s.output["version"],
            markdown=s.output.get("markdown"),
            data=s.output.get("data"),
        )
        for s in await JobRepository(db).stages(job_id, fresh=True)
        if s.kind is AnalysisStageKind.PROMPT
        and s.run_id == run_id
        and s.status is AnalysisStageStatus.DONE
        and s.output is not None
    ]
    place = await _name(db, Place, report.place_id)
    facts = [
        ("Scenario", await _name(db, Scenario, transcription.scenario_id)),
        ("Report", report_type.name),
        ("Building type", await _name(db, BuildingType, transcription.building_type_id)),
        ("Place", place),
        ("City", await _name(db, City, transcription.city_id)),
        ("Zone", await _name(db, Zone, transcription.zone_id)),
        ("Employee", await _name(db, Employee, report.employee_id)),
        ("Client", await _name(db, Client, report.client_id)),
        ("Date", report.report_date.isoformat() if report.report_date else None),
        ("Recording", _recording(transcription)),
        ("Run", str(run.number)),
        ("Model", run.model),
        ("Prompts", "; ".join(f"{p.run_part} {p.title} v{p.version}" for p in parts) or None),
    ]
    return ReportDocument(
        title=f"{report_type.name}: {place or transcription.original_filename or 'recording'}",
        facts=[(label, value) for label, value in facts if value],
        parts=sorted(parts, key=lambda p: p.run_part),
        segments=(transcription.segments or []) if not parts else None,
    )


def _recording(transcription: Transcription) -> str:
    name = transcription.original_filename or f"recording {transcription.id}"
    if transcription.duration_seconds is None:
        return name
    return f"{name} ({clock(transcription.duration_seconds)})"


def _json_part(part: ReportPart) -> dict[str, Any]:
    return {"run_part": part.run_part, "title": part.title, "version": part.version} | {
        "data": part.data
    }


async def _name(db: AsyncSession, model: type[KeyedName], entry_id: int | None) -> str | None:
    if entry_id is None:
        return None
    row = await db.get(model, entry_id)
    return row.name if row is not None else None
