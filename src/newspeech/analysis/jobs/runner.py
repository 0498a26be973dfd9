"""The worker's side of analysis jobs: take the next stage of a job, run it, checkpoint it.

``JobRunner.advance(job_id)`` is what one task-queue message does. In one short transaction it
claims the job's first unfinished stage (a conditional UPDATE: only one worker wins, and a stage
held by a live worker is left alone until its lease, the stage's time limit, runs out). It runs
the stage outside any transaction, then in one transaction stores the stage's output and marks
it done, only if this worker still holds it and the job was not cancelled meanwhile. So a
redelivered message, two workers, or a worker killed at any point store each output once: a
stage either committed (and is skipped from then on) or did not (and runs again).

A failed stage is tried again after a back-off that doubles (``retry_seconds``, 2x, 4x ...)
until it has had ``attempts`` tries; then the job fails, and an admin may retry it. A report's
stage that fails for good fails only that report (its run, and the run's stages left), and a
failed speaker pass leaves the speakers unlabelled: the job goes on with the rest, and a report
can be re-run.

The assembly adds the report stages (see ``analysis/reports/planning.py``); the job is done when
its last stage is. The LLM calls a stage made are stored with the transaction that ends its
try, done or failed, so a call is never stored twice.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from newspeech.analysis.jobs.repository import JobRepository
from newspeech.analysis.jobs.service import TRANSCRIBE_PHASE
from newspeech.analysis.jobs.stages import StageWork, assemble
from newspeech.analysis.reports.chains import CallRecord, PromptChain
from newspeech.analysis.reports.planning import plan_reports, reports_to_make
from newspeech.analysis.reports.stages import REPORT_KINDS, ReportStages
from newspeech.analysis.search.repository import SegmentRepository
from newspeech.db.engine import unit_of_work
from newspeech.errors import ValidationFailed
from newspeech.kit.clock import WallClock, system_clock
from newspeech.kit.pdf import PdfFonts
from newspeech.models import (
    AnalysisJobStage,
    AnalysisJobStatus,
    AnalysisStageKind,
    AnalysisStageStatus,
    Transcription,
    TranscriptionStatus,
)
from newspeech.storage import AudioStore

logger = logging.getLogger(__name__)

LEASE_MARGIN_SECONDS = 5.0
"""A stage's lease is its time limit and this: a live worker has given up on it by then."""


@dataclass(frozen=True)
class StagePolicy:
    attempts: int = 3
    retry_seconds: float = 5.0
    timeout_seconds: float = 1800.0


@dataclass(frozen=True)
class Claimed:
    job_id: int
    stage_id: int
    kind: AnalysisStageKind
    attempt: int
    start_seconds: float | None
    end_seconds: float | None
    transcription_id: int
    recording_key: str
    run_id: int | None = None
    prompt_version_id: int | None = None


class JobRunner:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        store: AudioStore,
        work: StageWork,
        *,
        work_dir: Path,
        policy: StagePolicy | None = None,
        clock: WallClock = system_clock,
        chain: PromptChain | None = None,
        fonts: PdfFonts | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.store = store
        self.work = work
        self.work_dir = work_dir
        self.policy = policy or StagePolicy()
        self.clock = clock
        self.chain = chain
        """the LLM of the report prompts and speaker roles; None: transcript reports only"""
        self.reports = ReportStages(sessionmaker, store, chain, fonts or PdfFonts.discover())

    async def advance(self, job_id: int) -> float | None:
        """Run the job's next stage. Returns in how many seconds to advance it again: 0 after
        a stage was done, the back-off after a failed try, the rest of the lease when another
        worker holds the stage (it may have died), ``None`` when the job is finished, failed or
        cancelled."""
        claimed = await self.claim(job_id)
        if claimed is None:
            return await self.held_for(job_id)
        calls: list[CallRecord] = []
        try:
            output = await asyncio.wait_for(
                self.perform(claimed, calls), self.policy.timeout_seconds
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.warning("analysis job %s: %s stage failed: %s", job_id, claimed.kind, exc)
            return await self._failed(claimed, exc, calls)
        return 0.0 if await self.complete(claimed, output, calls) else None

    async def run_to_end(self, job_id: int) -> None:
        """Advance the job until nothing is left to do now, waiting out back-offs (the
        in-process broker and tests; a worker re-kicks through the queue instead)."""
        while (delay := await self.advance(job_id)) is not None:
            if delay:
                await asyncio.sleep(delay)

    async def held_for(self, job_id: int) -> float | None:
        """Seconds until the job's next stage may be taken (its back-off, or the lease of a
        worker running it, which a dead worker never gives back); ``None`` when the job has
        nothing left to run."""
        async with unit_of_work(self.sessionmaker) as db:
            jobs = JobRepository(db)
            job = await jobs.get(job_id, fresh=True)
            if job is None or job.status not in (
                AnalysisJobStatus.QUEUED,
                AnalysisJobStatus.RUNNING,
            ):
                return None
            waiting = [
                stage.lease_until
                for stage in await jobs.stages(job_id, fresh=True)
                if stage.status in (AnalysisStageStatus.PENDING, AnalysisStageStatus.RUNNING)
            ]
        if not waiting or waiting[0] is None:
            return None
        return max((waiting[0] - self.clock()).total_seconds(), 0.0) + LEASE_MARGIN_SECONDS

    async def unfinished(self) -> list[int]:
        async with unit_of_work(self.sessionmaker) as db:
            return await JobRepository(db).unfinished_job_ids()

    async def claim(self, job_id: int) -> Claimed | None:
        """Take the job's first unfinished stage (one transaction), or ``None``."""
        async with unit_of_work(self.sessionmaker) as db:
            jobs = JobRepository(db)
            job = await jobs.get(job_id, fresh=True)
            if job is None or job.status not in (
                AnalysisJobStatus.QUEUED,
                AnalysisJobStatus.RUNNING,
            ):
                return None
            stage = next(
                (
                    s
                    for s in await jobs.stages(job_id, fresh=True)
                    if s.status is not AnalysisStageStatus.DONE and not _given_up(s)
                ),
                None,
            )
            if stage is None or stage.status is AnalysisStageStatus.FAILED:
                return None
            now = self.clock()
            lease = now + dt.timedelta(seconds=self.policy.timeout_seconds + LEASE_MARGIN_SECONDS)
            if not await jobs.claim_stage(stage, now, lease):
                return None
            if job.status is AnalysisJobStatus.QUEUED:
                await jobs.change_job(
                    job_id,
                    (AnalysisJobStatus.QUEUED,),
                    {"status": AnalysisJobStatus.RUNNING, "started_at": now},
                )
            transcription = await db.get(Transcription, job.transcription_id)
            assert transcription is not None  # the job cascades with it
            if transcription.status is TranscriptionStatus.UPLOADED:
                transcription.status = TranscriptionStatus.TRANSCRIBING
            return Claimed(
                job_id,
                stage.id,
                stage.kind,
                stage.attempts + 1,
                stage.start_seconds,
                stage.end_seconds,
                transcription.id,
                transcription.recording_key,
                stage.run_id,
                stage.prompt_version_id,
            )

    async def perform(
        self, claimed: Claimed, calls: list[CallRecord] | None = None
    ) -> dict[str, Any]:
        """The stage's work, outside any transaction; its output. LLM calls are added to
        ``calls`` as they are made."""
        calls = [] if calls is None else calls
        if claimed.kind is AnalysisStageKind.ASSEMBLE:
            return {}  # built from the stored pieces inside the completing transaction
        if claimed.kind is AnalysisStageKind.SPEAKERS:
            return await self.reports.speakers(claimed.transcription_id, calls)
        if claimed.kind is AnalysisStageKind.PROMPT:
            assert claimed.prompt_version_id is not None
            return await self.reports.prompt(
                claimed.transcription_id, claimed.prompt_version_id, calls
            )
        if claimed.kind is AnalysisStageKind.REPORT:
            assert claimed.run_id is not None
            return await self.reports.report(claimed.job_id, claimed.run_id)
        path = await self._recording(claimed)
        if claimed.kind is AnalysisStageKind.CUT:
            return await self.work.cut(path)
        assert claimed.start_seconds is not None
        assert claimed.end_seconds is not None
        return await self.work.transcribe(path, claimed.start_seconds, claimed.end_seconds)

    async def complete(
        self, claimed: Claimed, output: dict[str, Any], calls: list[CallRecord] | None = None
    ) -> bool:
        """Store the output (and the LLM calls made) and mark the stage done (one
        transaction), unless the job was cancelled or another worker took the stage over
        meanwhile; whether it was stored."""
        report = output
        if claimed.kind is AnalysisStageKind.REPORT:  # the report itself goes in its run
            output = {"characters": len(report["markdown"]), "pdf_bytes": report["pdf_bytes"]}
        async with unit_of_work(self.sessionmaker) as db:
            jobs = JobRepository(db)
            job = await jobs.get(claimed.job_id, fresh=True)
            if job is None or job.status is not AnalysisJobStatus.RUNNING:
                if claimed.kind is AnalysisStageKind.REPORT:
                    await self._drop_pdf(jobs, claimed.job_id, report["pdf_key"])
                return False  # cancelled meanwhile: the output is dropped
            now = self.clock()
            if claimed.kind is AnalysisStageKind.ASSEMBLE:
                output = await self._assemble(db, claimed, job.requested_by)
            stored = await jobs.change_stage(
                claimed.stage_id,
                {"status": AnalysisStageStatus.RUNNING, "attempts": claimed.attempt},
                {
                    "status": AnalysisStageStatus.DONE,
                    "output": output,
                    "error": None,
                    "lease_until": None,
                    "finished_at": now,
                },
            )
            if not stored:
                await db.rollback()  # another worker took the stage over: its output counts
                return False
            if claimed.kind is AnalysisStageKind.CUT:
                for index, (start, end) in enumerate(output["chunks"]):
                    db.add(
                        AnalysisJobStage(
                            job_id=claimed.job_id,
                            phase=TRANSCRIBE_PHASE,
                            chunk=index,
                            kind=AnalysisStageKind.TRANSCRIBE,
                            attempts=0,
                            start_seconds=start,
                            end_seconds=end,
                        )
                    )
                await db.flush()
            await self.reports.store_calls(
                db, claimed.stage_id, claimed.attempt, claimed.run_id, calls or []
            )
            if claimed.kind is AnalysisStageKind.SPEAKERS:
                await self.reports.store_speakers(db, claimed.transcription_id, output["roles"])
            if claimed.kind is AnalysisStageKind.REPORT:
                assert claimed.run_id is not None
                await self.reports.store_report(db, claimed.run_id, report, now)
            if not await jobs.unfinished_stages(claimed.job_id):
                await jobs.change_job(
                    claimed.job_id,
                    (AnalysisJobStatus.RUNNING,),
                    {"status": AnalysisJobStatus.DONE, "finished_at": now},
                )
        if claimed.kind is AnalysisStageKind.ASSEMBLE:
            await asyncio.to_thread(self._cached(claimed).unlink, missing_ok=True)
        return True

    async def _drop_pdf(self, jobs: JobRepository, job_id: int, key: str) -> None:
        """The PDF of a report stage whose job was cancelled meanwhile: no run names it, so it
        goes, unless a retry has already started the job again (and renders it once more
        under the same key). The job's row is held meanwhile: a retry cannot start it then."""
        await jobs.hold(job_id)
        job = await jobs.get(job_id, fresh=True)
        if job is None or job.status is not AnalysisJobStatus.RUNNING:
            await self.store.delete(key)

    async def _assemble(
        self, db: AsyncSession, claimed: Claimed, requested_by: int | None
    ) -> dict[str, Any]:
        pieces = [
            stage.output or {}
            for stage in await JobRepository(db).stages(claimed.job_id, fresh=True)
            if stage.kind is AnalysisStageKind.TRANSCRIBE
        ]
        transcript = assemble(pieces)
        transcription = await db.get(Transcription, claimed.transcription_id)
        assert transcription is not None
        transcription.text = transcript.text
        transcription.segments = transcript.segments
        await SegmentRepository(db).replace(transcription.id, transcript.segments)
        transcription.language = transcript.language
        transcription.status = TranscriptionStatus.TRANSCRIBED
        transcription.error = None
        await db.flush()
        planned = await plan_reports(
            db,
            claimed.job_id,
            transcription,
            await reports_to_make(db, transcription),
            model=self.chain.model if self.chain is not None else None,
            requested_by=requested_by,
            label_speakers=True,
        )
        return {
            "report_stages": planned.stages,
            "segments": len(transcript.segments),
            "words": sum(len(s["words"]) for s in transcript.segments),
            "characters": len(transcript.text),
        }

    async def _failed(
        self, claimed: Claimed, exc: Exception, calls: list[CallRecord]
    ) -> float | None:
        final = claimed.attempt >= self.policy.attempts or isinstance(exc, ValidationFailed)
        delay = self.policy.retry_seconds * float(2 ** (claimed.attempt - 1))
        error = f"{type(exc).__name__}: {exc}"[:4000]
        async with unit_of_work(self.sessionmaker) as db:
            jobs = JobRepository(db)
            now = self.clock()
            values: dict[str, Any] = {"error": error, "finished_at": now}
            if final:
                values |= {"status": AnalysisStageStatus.FAILED, "lease_until": None}
            else:
                values |= {
                    "status": AnalysisStageStatus.PENDING,
                    "lease_until": now + dt.timedelta(seconds=delay),
                }
            expected = {"status": AnalysisStageStatus.RUNNING, "attempts": claimed.attempt}
            if not await jobs.change_stage(claimed.stage_id, expected, values):
                return None
            await self.reports.store_calls(
                db, claimed.stage_id, claimed.attempt, claimed.run_id, calls
            )
            if not final:
                return delay
            message = f"the {claimed.kind.value} stage failed {claimed.attempt} times: {error}"
            if claimed.kind in REPORT_KINDS:  # the job goes on without it
                if claimed.run_id is not None:  # that report failed
                    await self.reports.run_failed(db, claimed.run_id, message)
                    await jobs.give_up_run(
                        claimed.job_id,
                        claimed.run_id,
                        "an earlier stage of this report failed",
                        now,
                    )
                if await jobs.unfinished_stages(claimed.job_id):
                    return 0.0
                await jobs.change_job(
                    claimed.job_id,
                    (AnalysisJobStatus.RUNNING,),
                    {"status": AnalysisJobStatus.DONE, "finished_at": now},
                )
                return None
            await jobs.change_job(
                claimed.job_id,
                (AnalysisJobStatus.RUNNING, AnalysisJobStatus.QUEUED),
                {"status": AnalysisJobStatus.FAILED, "error": message, "finished_at": now},
            )
            transcription = await db.get(Transcription, claimed.transcription_id)
            if transcription is not None and claimed.kind not in REPORT_KINDS:
                transcription.status = TranscriptionStatus.FAILED
                transcription.error = message
        return None

    def _cached(self, claimed: Claimed) -> Path:
        return self.work_dir / f"recording-{claimed.transcription_id}"

    async def _recording(self, claimed: Claimed) -> Path:
        """The recording as a file on this machine: in place for the local store, else a copy
        downloaded once per worker and kept until the job is assembled."""
        local = self.store.local_path(claimed.recording_key)
        if local is not None:
            return local
        path = self._cached(claimed)
        if not await asyncio.to_thread(path.exists):
            part = await asyncio.to_thread(_new_file, self.work_dir)
            try:
                await self.store.download_to(claimed.recording_key, part)
                await asyncio.to_thread(os.replace, part, path)
            finally:
                await asyncio.to_thread(part.unlink, missing_ok=True)
        return path


def _given_up(stage: AnalysisJobStage) -> bool:
    """A failed stage of the reports: speaker roles (the transcript keeps unlabelled speakers)
    or a report run (that report failed); the job's other stages go on."""
    return stage.status is AnalysisStageStatus.FAILED and stage.kind in REPORT_KINDS


def _new_file(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=folder, prefix=".part-")
    os.close(fd)
    return Path(name)
