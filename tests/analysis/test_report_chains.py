"""Report chains as job stages (issue 17) against the wire-faithful fake OpenAI-compatible
server, on every database: speaker roles, a Markdown and a JSON prompt, invalid JSON sent back
once then failing the stage, 429s and a timeout, no LLM at all, a long transcript read in parts,
and every call stored once."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pypdf
import pytest
from sqlalchemy import func, inspect, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from newspeech.analysis.jobs.runner import JobRunner, StagePolicy
from newspeech.analysis.jobs.service import JobBoard
from newspeech.analysis.reports.chains import (
    CallRecord,
    ChainLimits,
    PromptChain,
    PromptSpec,
)
from newspeech.db.migrations import downgrade, upgrade
from newspeech.kit.http_retry import Backoff
from newspeech.llm import OpenAIChatClient
from newspeech.models import (
    AnalysisJob,
    AnalysisJobStage,
    AnalysisJobStatus,
    AnalysisStageKind,
    LLMCall,
    Report,
    ReportRun,
    ReportRunStatus,
    ReportStatus,
    ReportType,
    Transcription,
)
from newspeech.storage.local import LocalAudioStore
from tests.fixtures.analysis_chains import (
    FACTS,
    FACTS_SCHEMA,
    SUMMARY,
    model_answer,
    sync_prompts,
    transcribed_piece,
    write_prompt_tree,
)
from tests.fixtures.openai_chat_server import ChatServerScript, create_chat_app
from tests.fixtures.openai_tts_server import serving

API_KEY = "sk-analysis-test-0123456789"
MODEL = "analysis-model"


@pytest.fixture(scope="module")
def script() -> ChatServerScript:
    return ChatServerScript(api_key=API_KEY)


@pytest.fixture(scope="module")
async def base_url(script: ChatServerScript) -> AsyncIterator[str]:
    async with serving(create_chat_app(script)) as url:
        yield url


@pytest.fixture
async def chain(script: ChatServerScript, base_url: str) -> AsyncIterator[PromptChain]:
    script.reset()
    script.answer = model_answer
    async with httpx.AsyncClient() as http:
        client = OpenAIChatClient(
            base_url,
            model=MODEL,
            api_key=API_KEY,
            client=http,
            timeout_seconds=1.0,
            retries=2,
            backoff=Backoff(base_seconds=0.01, max_seconds=0.01),
        )
        yield PromptChain(client)


@pytest.fixture
async def prompts(db: AsyncSession, tmp_path: Path) -> None:
    await sync_prompts(db, write_prompt_tree(tmp_path / "prompts"))


def _runner(
    sessionmaker: async_sessionmaker[AsyncSession],
    tmp_path: Path,
    chain: PromptChain | None,
    **kwargs: Any,
) -> JobRunner:
    # Report stages put their PDFs in the audio store; they do not use the speech engines.
    return JobRunner(
        sessionmaker,
        LocalAudioStore(tmp_path / "store"),
        None,  # type: ignore[arg-type]
        work_dir=tmp_path / "work",
        policy=StagePolicy(attempts=2, retry_seconds=0.0, timeout_seconds=60.0),
        chain=chain,
        **kwargs,
    )


async def _reports(db: AsyncSession, transcription_id: int) -> dict[str, Report]:
    rows = await db.execute(
        select(ReportType.key, Report)
        .join(ReportType, ReportType.id == Report.report_type_id)
        .where(Report.transcription_id == transcription_id)
    )
    return dict(rows.all())


async def _calls(db: AsyncSession) -> list[LLMCall]:
    query = select(LLMCall).order_by(LLMCall.stage_id, LLMCall.stage_attempt, LLMCall.sequence)
    return list(await db.scalars(query))


@pytest.mark.usefixtures("prompts")
async def test_a_job_labels_speakers_runs_the_chain_and_stores_every_call(
    sessionmaker: async_sessionmaker[AsyncSession],
    chain: PromptChain,
    script: ChatServerScript,
    tmp_path: Path,
) -> None:
    async with sessionmaker() as db:
        recording_id, job_id = await transcribed_piece(db)

    await _runner(sessionmaker, tmp_path, chain).run_to_end(job_id)

    async with sessionmaker() as db:
        job = await db.get(AnalysisJob, job_id)
        stages = list(
            await db.scalars(
                select(AnalysisJobStage)
                .where(AnalysisJobStage.job_id == job_id)
                .order_by(AnalysisJobStage.phase, AnalysisJobStage.chunk)
            )
        )
        transcription = await db.get(Transcription, recording_id)
        reports = await _reports(db, recording_id)
        runs = list(await db.scalars(select(ReportRun).order_by(ReportRun.report_id)))
        calls = await _calls(db)
        brief_pdf_key = await db.scalar(
            select(ReportRun.pdf_key).where(ReportRun.report_id == reports["client-brief"].id)
        )
    assert job is not None
    assert job.status is AnalysisJobStatus.DONE
    assert [(s.kind.value, s.chunk, s.status.value, s.attempts) for s in stages] == [
        ("transcribe", 0, "done", 1),
        ("assemble", 0, "done", 1),
        ("speakers", 0, "done", 1),
        ("prompt", 0, "done", 1),
        ("prompt", 1, "done", 1),
        ("report", 0, "done", 1),
        ("report", 1, "done", 1),
    ]
    assert transcription is not None
    assert [s["speaker"] for s in transcription.segments or []] == [
        "interviewer",
        "respondent",
        "interviewer",
        "respondent",
    ]
    assert set(reports) == {"client-brief", "transcript"}
    assert all(r.status is ReportStatus.READY for r in reports.values())
    brief = reports["client-brief"]
    assert brief.body is not None
    assert "## 1. Summary" in brief.body
    assert "### Goals" in brief.body
    assert "the lobby needs more light" in brief.body
    assert brief.data == {"parts": [{"run_part": 2, "title": "Facts", "version": 1, "data": FACTS}]}
    transcript = reports["transcript"].body or ""
    assert "**[00:00] Interviewer:** What would you like to change in the lobby?" in transcript
    assert "Grand Hotel" in transcript
    assert "Lyon" in transcript
    assert [(r.number, r.status, r.model) for r in runs] == [
        (1, ReportRunStatus.DONE, MODEL),
        (1, ReportRunStatus.DONE, None),
    ] or [(r.number, r.status, r.model) for r in runs] == [
        (1, ReportRunStatus.DONE, None),
        (1, ReportRunStatus.DONE, MODEL),
    ]
    assert brief_pdf_key is not None
    brief_pdf = await LocalAudioStore(tmp_path / "store").get(brief_pdf_key)
    text = pypdf.PdfReader(io.BytesIO(brief_pdf)).pages[0].extract_text()
    assert "Client brief: Grand Hotel" in text
    assert "the lobby needs more light" in text
    # Every call: one speaker pass, one per prompt; each as sent and as answered.
    assert [(c.purpose, c.part, c.parts, c.stage_attempt, c.sequence) for c in calls] == [
        ("speakers", 1, 1, 1, 0),
        ("part", 1, 1, 1, 0),
        ("part", 1, 1, 1, 0),
    ]
    assert len(script.requests) == 3
    for call, sent in zip(calls, script.requests, strict=True):
        assert call.model_requested == MODEL == sent["model"]
        assert call.model_answered == "fake-examiner-1"
        assert (call.prompt_tokens, call.completion_tokens, call.total_tokens) == (100, 20, 120)
        assert call.parameters == {
            "temperature": 0.0,
            "max_tokens": 1500,
            "json_schema": "response_format" in sent,
        }
        assert len(call.input_sha256) == 64
        assert call.latency_seconds > 0
        assert call.error is None
    speakers, summary, facts = calls
    assert speakers.prompt_version_id is None
    assert speakers.run_id is None
    assert summary.raw_output == SUMMARY
    assert summary.parsed is None
    assert facts.parsed == FACTS
    assert json.loads(facts.raw_output or "") == FACTS
    assert summary.run_id == facts.run_id is not None
    assert script.requests[2]["response_format"]["json_schema"]["schema"] == FACTS_SCHEMA
    assert "[00:06] Respondent: We need more light" in script.requests[2]["messages"][1]["content"]


@pytest.mark.usefixtures("prompts")
async def test_an_invalid_json_answer_is_sent_back_once_with_the_error(
    sessionmaker: async_sessionmaker[AsyncSession],
    chain: PromptChain,
    script: ChatServerScript,
    tmp_path: Path,
) -> None:
    async with sessionmaker() as db:
        recording_id, job_id = await transcribed_piece(db)
    roles = json.dumps({"roles": ["interviewer", "respondent"] * 2})
    script.replies += [roles, SUMMARY, '{"facts": [], "budget_eur": "lots"}']

    await _runner(sessionmaker, tmp_path, chain).run_to_end(job_id)

    async with sessionmaker() as db:
        job = await db.get(AnalysisJob, job_id)
        calls = await _calls(db)
        brief = (await _reports(db, recording_id))["client-brief"]
    assert job is not None
    assert job.status is AnalysisJobStatus.DONE
    assert brief.status is ReportStatus.READY
    assert [(c.purpose, c.stage_attempt, c.sequence) for c in calls][2:] == [
        ("part", 1, 0),
        ("repair", 1, 1),
    ]
    bad, repaired = calls[2:]
    assert bad.error == "invalid answer: at facts: [] should be non-empty"
    assert bad.parsed == {"facts": [], "budget_eur": "lots"}  # parsed, though not valid
    assert repaired.error is None
    assert repaired.parsed == FACTS
    repair = script.requests[-1]["messages"]
    assert [m["role"] for m in repair] == ["system", "user", "assistant", "user"]
    assert repair[2]["content"] == '{"facts": [], "budget_eur": "lots"}'
    assert "not valid: at facts: [] should be non-empty" in repair[3]["content"]


@pytest.mark.usefixtures("prompts")
async def test_json_still_invalid_after_the_repair_fails_its_stage_and_report_not_the_job(
    sessionmaker: async_sessionmaker[AsyncSession],
    chain: PromptChain,
    script: ChatServerScript,
    tmp_path: Path,
) -> None:
    async with sessionmaker() as db:
        recording_id, job_id = await transcribed_piece(db)
    roles = json.dumps({"roles": ["interviewer", "respondent"] * 2})
    script.replies += [roles, SUMMARY, "Sure! Here are the facts: the lobby.", "```json\n{]\n```"]

    await _runner(sessionmaker, tmp_path, chain).run_to_end(job_id)

    async with sessionmaker() as db:
        job = await db.get(AnalysisJob, job_id)
        stage = await db.scalar(
            select(AnalysisJobStage).where(
                AnalysisJobStage.job_id == job_id,
                AnalysisJobStage.chunk == 1,
                AnalysisJobStage.kind == AnalysisStageKind.PROMPT,
            )
        )
        calls = await _calls(db)
        reports = await _reports(db, recording_id)
        run = await db.scalar(
            select(ReportRun).where(ReportRun.report_id == reports["client-brief"].id)
        )
        assert run is not None
        assembly = await db.scalar(
            select(AnalysisJobStage).where(
                AnalysisJobStage.run_id == run.id,
                AnalysisJobStage.kind == AnalysisStageKind.REPORT,
            )
        )
        transcription = await db.get(Transcription, recording_id)
    assert job is not None
    assert job.status is AnalysisJobStatus.DONE  # the other report was made
    assert reports["transcript"].status is ReportStatus.READY
    assert assembly is not None
    assert (assembly.status.value, assembly.attempts) == ("failed", 0)
    assert assembly.error == "an earlier stage of this report failed"
    assert stage is not None
    assert (stage.status.value, stage.attempts) == ("failed", 1)  # not retried: it would not help
    assert stage.error is not None
    assert "not valid JSON" in stage.error
    assert run.status is ReportRunStatus.FAILED
    assert reports["client-brief"].status is ReportStatus.FAILED
    assert "not valid JSON" in (reports["client-brief"].error or "")
    assert transcription is not None
    assert transcription.status.value == "transcribed"
    assert [(c.purpose, c.raw_output) for c in calls][2:] == [
        ("part", "Sure! Here are the facts: the lobby."),
        ("repair", "```json\n{]\n```"),
    ]
    assert all("it is not JSON" in (c.error or "") for c in calls[2:])
    assert all(c.parsed is None for c in calls[2:])


@pytest.mark.usefixtures("prompts")
async def test_a_failed_speaker_pass_leaves_speakers_unlabelled_and_the_reports_are_made(
    sessionmaker: async_sessionmaker[AsyncSession],
    chain: PromptChain,
    script: ChatServerScript,
    tmp_path: Path,
) -> None:
    async with sessionmaker() as db:
        recording_id, job_id = await transcribed_piece(db)
    script.replies += ['{"roles": ["interviewer"]}', '{"roles": ["chair"] }']

    await _runner(sessionmaker, tmp_path, chain).run_to_end(job_id)

    async with sessionmaker() as db:
        job = await db.get(AnalysisJob, job_id)
        transcription = await db.get(Transcription, recording_id)
        reports = await _reports(db, recording_id)
        calls = await _calls(db)
    assert job is not None
    assert job.status is AnalysisJobStatus.DONE
    assert transcription is not None
    assert [s["speaker"] for s in transcription.segments or []] == [None] * 4
    assert all(r.status is ReportStatus.READY for r in reports.values())
    assert [(c.purpose, c.error) for c in calls][:2] == [
        ("speakers", "invalid answer: `roles` has 1 entries for 4 utterances"),
        (
            "repair",
            "invalid answer: at roles/0: 'chair' is not one of ['interviewer', 'respondent']",
        ),
    ]


@pytest.mark.usefixtures("prompts")
async def test_429s_are_retried_by_the_client_and_a_timeout_by_the_stage(
    sessionmaker: async_sessionmaker[AsyncSession],
    chain: PromptChain,
    script: ChatServerScript,
    tmp_path: Path,
) -> None:
    async with sessionmaker() as db:
        recording_id, job_id = await transcribed_piece(db)
    chain.client.retries = 0  # type: ignore[attr-defined]
    script.fail_with += [429]  # the speaker pass: refused once ...
    runner = _runner(sessionmaker, tmp_path, chain)
    assert await runner.advance(job_id) == 0.0  # assembled

    assert await runner.advance(job_id) == 0.0  # ... fails, to be tried again at once
    chain.client.retries = 2  # type: ignore[attr-defined]
    script.fail_with += [429, 429]  # refused twice, answered on the client's third try
    assert await runner.advance(job_id) == 0.0
    script.stall_seconds, script.stalls = 3.0, 3  # the summary times out on every try
    assert await runner.advance(job_id) == 0.0
    await runner.run_to_end(job_id)

    async with sessionmaker() as db:
        job = await db.get(AnalysisJob, job_id)
        calls = await _calls(db)
        brief = (await _reports(db, recording_id))["client-brief"]
    assert job is not None
    assert job.status is AnalysisJobStatus.DONE
    assert brief.status is ReportStatus.READY
    summary = [(c.purpose, c.stage_attempt, c.error is None) for c in calls]
    assert summary == [
        ("speakers", 1, False),
        ("speakers", 2, True),
        ("part", 1, False),
        ("part", 2, True),
        ("part", 1, True),
    ]
    assert "429" in (calls[0].error or "")
    assert "did not answer within 1 s" in (calls[2].error or "")
    assert calls[2].raw_output is None
    assert calls[2].latency_seconds >= 1.0


@pytest.mark.usefixtures("prompts")
async def test_without_an_llm_the_job_ends_with_a_transcript_report(
    sessionmaker: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    async with sessionmaker() as db:
        recording_id, job_id = await transcribed_piece(db)

    await _runner(sessionmaker, tmp_path, None).run_to_end(job_id)

    async with sessionmaker() as db:
        job = await db.get(AnalysisJob, job_id)
        reports = await _reports(db, recording_id)
        kinds = list(
            await db.scalars(select(AnalysisJobStage.kind).where(AnalysisJobStage.job_id == job_id))
        )
        calls = await db.scalar(select(func.count()).select_from(LLMCall))
    assert job is not None
    assert job.status is AnalysisJobStatus.DONE
    assert sorted(k.value for k in kinds) == ["assemble", "report", "transcribe"]
    assert reports["transcript"].status is ReportStatus.READY
    assert "**[00:00] Speaker:** What would you like" in (reports["transcript"].body or "")
    assert reports["client-brief"].status is ReportStatus.FAILED
    assert "NEWSPEECH_LLM_API_URL" in (reports["client-brief"].error or "")
    assert calls == 0


@pytest.mark.usefixtures("prompts")
async def test_a_stage_done_twice_stores_its_calls_once(
    sessionmaker: async_sessionmaker[AsyncSession],
    chain: PromptChain,
    script: ChatServerScript,
    tmp_path: Path,
) -> None:
    class StoppedClock:
        now = dt.datetime.now(dt.UTC)

        def __call__(self) -> dt.datetime:
            return self.now

    clock = StoppedClock()
    async with sessionmaker() as db:
        _, job_id = await transcribed_piece(db)
    first = _runner(sessionmaker, tmp_path, chain, clock=clock)
    second = _runner(sessionmaker, tmp_path, chain, clock=clock)
    assert await first.advance(job_id) == 0.0  # assembled

    # The first worker asks the LLM for the speakers, then is presumed dead before it commits.
    stale = await first.claim(job_id)
    assert stale is not None
    assert stale.kind is AnalysisStageKind.SPEAKERS
    stale_calls: list[CallRecord] = []
    stale_output = await first.perform(stale, stale_calls)
    clock.now += dt.timedelta(seconds=3600)
    assert await second.advance(job_id) == 0.0  # the lease ran out: done again, stored
    assert await first.complete(stale, stale_output, stale_calls) is False

    async with sessionmaker() as db:
        calls = await _calls(db)
    assert len(script.requests) == 2
    assert [(c.purpose, c.stage_attempt) for c in calls] == [("speakers", 2)]


async def test_a_long_transcript_is_read_in_parts_and_the_answers_combined(
    chain: PromptChain, script: ChatServerScript
) -> None:
    segments = [
        {"start": 4.0 * i, "speaker": None, "text": f"Saying number {i} about the lobby lights."}
        for i in range(400)
    ]
    small = PromptChain(chain.client, ChainLimits(context_tokens=2048, answer_tokens=100))
    spec = PromptSpec(1, "facts", "List the facts.", True, FACTS_SCHEMA)
    log: list[CallRecord] = []

    answer = await small.run_prompt(spec, segments, log)

    parts = [c for c in log if c.purpose == "part"]
    assert len(parts) >= 3
    assert [c.part for c in parts] == list(range(1, len(parts) + 1))
    assert [c.purpose for c in log] == ["part"] * len(parts) + ["combine"]
    assert answer == {"data": FACTS, "parts": len(parts)}
    sent = [r["messages"][1]["content"] for r in script.requests]
    assert f"This is part 2 of {len(parts)} of the transcript" in sent[1]
    assert all(len(text) < 2048 * 3.5 for text in sent)
    # Every saying was read once, in order, across the parts.
    read = [line for text in sent[:-1] for line in text.splitlines() if "Saying number" in line]
    assert [line.split("number ")[1].split()[0] for line in read] == [str(i) for i in range(400)]
    assert f"### Answer for part {len(parts)}" in sent[-1]


@pytest.mark.usefixtures("prompts")
async def test_the_report_runs_revision_downgrades_and_upgrades_over_stored_runs(
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
    chain: PromptChain,
    tmp_path: Path,
) -> None:
    async with sessionmaker() as db:
        _, job_id = await transcribed_piece(db)
    await _runner(sessionmaker, tmp_path, chain).run_to_end(job_id)

    await downgrade(engine, "c3e5a7b9d1f2-1")
    try:
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
            columns = await connection.run_sync(
                lambda sync: {c["name"] for c in inspect(sync).get_columns("analysis_job_stages")}
            )
            kinds = set(
                (await connection.execute(text("SELECT kind FROM analysis_job_stages"))).scalars()
            )
        assert not tables & {"analysis_report_runs", "analysis_llm_calls"}
        assert not columns & {"run_id", "prompt_version_id"}
        assert kinds == {"transcribe", "assemble"}  # the report stages went with their runs
    finally:
        await upgrade(engine)

    async with sessionmaker() as db:
        _, again = await transcribed_piece(db)
    await _runner(sessionmaker, tmp_path, chain).run_to_end(again)
    async with sessionmaker() as db:
        job = await db.get(AnalysisJob, again)
        assert job is not None
        assert job.status is AnalysisJobStatus.DONE


@pytest.mark.usefixtures("prompts")
async def test_a_cancelled_job_fails_its_pending_runs_and_drops_the_running_prompt(
    sessionmaker: async_sessionmaker[AsyncSession],
    chain: PromptChain,
    script: ChatServerScript,
    tmp_path: Path,
) -> None:
    async with sessionmaker() as db:
        _, job_id = await transcribed_piece(db)
    runner = _runner(sessionmaker, tmp_path, chain)
    assert await runner.advance(job_id) == 0.0  # assembled
    assert await runner.advance(job_id) == 0.0  # speakers
    claimed = await runner.claim(job_id)
    assert claimed is not None
    assert claimed.kind is AnalysisStageKind.PROMPT
    calls: list[CallRecord] = []
    output = await runner.perform(claimed, calls)

    async with sessionmaker() as db:
        await JobBoard(db).cancel(job_id, actor_id=None)
        await db.commit()
    stored = await runner.complete(claimed, output, calls)

    async with sessionmaker() as db:
        runs = list(await db.scalars(select(ReportRun).order_by(ReportRun.id)))
        stored_calls = await _calls(db)
    assert stored is False
    assert {(r.status, r.error) for r in runs} == {
        (ReportRunStatus.FAILED, "the job was cancelled")
    }
    assert [c.purpose for c in stored_calls] == ["speakers"]  # the dropped prompt's call too


@pytest.mark.usefixtures("prompts")
async def test_a_report_whose_job_is_cancelled_while_it_renders_leaves_no_pdf(
    sessionmaker: async_sessionmaker[AsyncSession],
    chain: PromptChain,
    tmp_path: Path,
) -> None:
    """The PDF is put in the store before the run is stored; a cancel in between drops the
    output, and the PDF with it. Retried, the job renders it again and the run names it."""
    async with sessionmaker() as db:
        _, job_id = await transcribed_piece(db)
    runner = _runner(sessionmaker, tmp_path, chain)
    while (claimed := await runner.claim(job_id)) is not None:
        if claimed.kind is AnalysisStageKind.REPORT:
            break
        assert await runner.complete(claimed, await runner.perform(claimed))
    assert claimed is not None
    output = await runner.perform(claimed)
    store = LocalAudioStore(tmp_path / "store")
    assert await store.exists(output["pdf_key"])

    async with sessionmaker() as db:
        await JobBoard(db).cancel(job_id, actor_id=None)
        await db.commit()
    assert await runner.complete(claimed, output) is False

    assert not await store.exists(output["pdf_key"])
    assert not list((tmp_path / "store").rglob("*.pdf"))

    async with sessionmaker() as db:
        await JobBoard(db).retry(job_id, actor_id=None)
        await db.commit()
    await runner.run_to_end(job_id)
    async with sessionmaker() as db:
        keys = set(await db.scalars(select(ReportRun.pdf_key)))
    assert None not in keys
    assert {
        p.relative_to(tmp_path / "store").as_posix() for p in (tmp_path / "store").rglob("*.pdf")
    } == keys
