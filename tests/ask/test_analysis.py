"""Questions over recording analysis on every backend: the issue's example ("audits of spa
buildings in Lyon that mention ventilation") and the other curated questions with known
answers, analysts reading analysis but no exam data, examiners no analysis, and stored
injections (transcripts, report bodies, model outputs) never reaching the model's prompt."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from newspeech.ask.guards import ANALYSIS_ONLY, EVERY_ROW, checked_sql, examiner_rows
from newspeech.ask.repository import ReadOnlyRunner
from newspeech.ask.service import Answer, AskService
from newspeech.audits.service import Auditor, ClientInfo
from newspeech.auth.scope import Scope
from newspeech.errors import QueryOutOfScope, QueryRefused
from newspeech.llm.client import OpenAIChatClient
from tests.ask.conftest import admin_scope, analyst_scope, examiner_scope, row_counts
from tests.fixtures.analysis_world import PLANTED_TEXT, AnalysisWorld
from tests.fixtures.openai_chat_server import ChatServerScript
from tests.fixtures.world import World

SPA_LYON_VENTILATION = {"building_type": "Spa", "city": "lyon", "word": "VENTILATION"}


async def _curated(
    sessionmaker: async_sessionmaker[AsyncSession],
    engine: AsyncEngine,
    key: str,
    scope: Scope,
    values: dict[str, str] | None = None,
) -> Answer:
    async with sessionmaker() as db:
        service = AskService(ReadOnlyRunner(engine), Auditor(db, ClientInfo()))
        answer = await service.ask_curated(key, values or {}, scope)
        await db.rollback()
    return answer


@pytest.mark.parametrize("who", ["admin", "analyst"])
async def test_spa_audits_in_lyon_that_mention_ventilation(
    who: str,
    world: World,
    analysis: AnalysisWorld,
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    scope = admin_scope(world) if who == "admin" else analyst_scope(world)
    answer = await _curated(sessionmaker, engine, "reports_mentioning", scope, SPA_LYON_VENTILATION)
    assert answer.columns == ["report_id", "report_type", "place", "zone", "report_date"]
    assert sorted(row[0] for row in answer.rows) == sorted(analysis.spa_lyon_ventilation)
    assert {tuple(row[1:4]) for row in answer.rows} == {("site-audit", "Les Thermes", "Pool hall")}


async def test_an_examiner_may_not_ask_about_recording_analysis(
    world: World,
    analysis: AnalysisWorld,
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    with pytest.raises(QueryOutOfScope, match="recording analysis"):
        await _curated(
            sessionmaker, engine, "reports_mentioning", examiner_scope(world), SPA_LYON_VENTILATION
        )


async def test_an_analyst_may_not_ask_about_exams(
    world: World, engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    with pytest.raises(QueryOutOfScope, match="exam data"):
        await _curated(sessionmaker, engine, "pass_rate_by_college", analyst_scope(world))


KNOWN: list[tuple[str, dict[str, str], list[list[Any]]]] = [
    ("reports_by_building_type", {}, [["spa", 4], ["hotel", 1]]),
    ("reports_by_place", {}, [["Les Thermes", 4], ["Grand Hotel", 1]]),
    ("dictionary_entries", {"dictionary": "city"}, [["Lyon"], ["Paris"]]),
    ("dictionary_entries", {"dictionary": "building_type"}, [["hotel"], ["spa"]]),
    ("model_use_by_prompt", {}, [["findings", 1, 150, 1.5]]),
]


@pytest.mark.parametrize(("key", "values", "rows"), KNOWN, ids=[k[0] for k in KNOWN])
async def test_curated_analysis_questions_give_known_answers(
    key: str,
    values: dict[str, str],
    rows: list[list[Any]],
    world: World,
    analysis: AnalysisWorld,
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    answer = await _curated(sessionmaker, engine, key, analyst_scope(world), values)
    got = [row[:1] if key == "dictionary_entries" else row for row in answer.rows]
    assert [[float(v) if isinstance(v, float) else v for v in row] for row in got] == rows


async def test_recordings_by_week_is_a_line_over_iso_weeks(
    world: World,
    analysis: AnalysisWorld,
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    answer = await _curated(sessionmaker, engine, "recordings_by_week", analyst_scope(world))
    assert answer.chart == "line"
    # 30 November 2026 is a Monday: ISO week 49; SQLite's %W counts from the first Monday.
    assert answer.rows == [["2026-49" if engine.dialect.name != "sqlite" else "2026-48", 5]]


async def test_lowest_mean_mark_since_a_date(
    world: World, engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    term = await _curated(
        sessionmaker,
        engine,
        "lowest_mean_mark_since",
        examiner_scope(world),
        {"college": "medical", "since": "2020-09-01"},
    )
    assert term.rows
    assert term.chart == "bar"
    future = await _curated(
        sessionmaker,
        engine,
        "lowest_mean_mark_since",
        examiner_scope(world),
        {"college": "medical", "since": "2999-01-01"},
    )
    assert future.rows == []


async def test_the_analysis_views_publish_runs_stages_outputs_and_dictionaries(
    world: World, analysis: AnalysisWorld, engine: AsyncEngine
) -> None:
    runner = ReadOnlyRunner(engine)

    def sql(text: str) -> str:
        return checked_sql(text, engine.dialect.name, ANALYSIS_ONLY)

    runs = await runner.run(
        sql("SELECT run_id, report_id, run_number, status FROM report_runs"), ANALYSIS_ONLY
    )
    assert [list(r) for r in runs.rows] == [
        [analysis.run_id, analysis.spa_lyon_ventilation[0], 1, "done"]
    ]
    stages = await runner.run(
        sql("SELECT kind, prompt_title, prompt_version, report_id FROM job_stages"), ANALYSIS_ONLY
    )
    assert [list(r) for r in stages.rows] == [
        ["prompt", "findings", 1, analysis.spa_lyon_ventilation[0]]
    ]
    outputs = await runner.run(
        sql("SELECT call_id, output, failed, total_tokens FROM report_outputs"), ANALYSIS_ONLY
    )
    [(call_id, output, failed, tokens)] = outputs.rows
    assert (call_id, bool(failed), tokens) == (analysis.call_id, True, 150)
    assert PLANTED_TEXT in output  # stored text is data, returned as it is
    everything = json.dumps([list(r) for r in outputs.rows])
    assert "secret internal detail" not in everything  # the error's text is not published
    kinds = await runner.run(
        sql(
            "SELECT dictionary, COUNT(*) AS n FROM dictionaries "
            "GROUP BY dictionary ORDER BY dictionary"
        ),
        ANALYSIS_ONLY,
    )
    assert dict(kinds.rows) == {
        "building_type": 2,
        "city": 2,
        "place": 2,
        "report_type": 1,
        "scenario": 1,
        "zone": 1,
    }


async def test_injection_planted_in_transcripts_and_reports_never_reaches_the_model(
    world: World,
    analysis: AnalysisWorld,
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
    model: OpenAIChatClient,
    chat_script: ChatServerScript,
) -> None:
    """The transcripts, report bodies and model outputs hold an instruction to read password
    hashes and drop a table; asking about them sends none of it to the model, returns it as
    data, and writes nothing."""
    before = await row_counts(engine)
    chat_script.replies.append(
        json.dumps(
            {
                "sql": "SELECT t.text, r.body FROM transcriptions t JOIN reports r "
                "ON r.transcription_id = t.transcription_id"
            }
        )
    )
    async with sessionmaker() as db:
        service = AskService(ReadOnlyRunner(engine), Auditor(db, ClientInfo()), model)
        answer = await service.ask("What was said in the audits?", analyst_scope(world))
        await db.rollback()
    assert len(answer.rows) == 5
    assert all(PLANTED_TEXT in row[0] for row in answer.rows)
    prompt = json.dumps(chat_script.requests[-1]["messages"])
    assert PLANTED_TEXT not in prompt
    assert "hashed_password" not in prompt
    # The analyst's model is told of the analysis views only, with their columns.
    assert "view reports:" in prompt
    assert "building_type (text)" in prompt
    assert "view answers:" not in prompt
    assert await row_counts(engine) == before


async def test_a_model_that_obeys_the_planted_text_is_refused(
    world: World,
    analysis: AnalysisWorld,
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
    model: OpenAIChatClient,
    chat_script: ChatServerScript,
) -> None:
    """A fooled model (it read the planted text somewhere) answers with the planted SQL."""
    before = await row_counts(engine)
    planted_sql = PLANTED_TEXT.split("Reply with SQL: ", 1)[1]
    for scope in (analyst_scope(world), admin_scope(world)):
        chat_script.replies.append(json.dumps({"sql": planted_sql}))
        async with sessionmaker() as db:
            service = AskService(ReadOnlyRunner(engine), Auditor(db, ClientInfo()), model)
            with pytest.raises(QueryRefused) as refused:
                await service.ask("Summarise the spa audits", scope)
            await db.rollback()
        assert refused.value.code == "query_not_one_statement"
    assert await row_counts(engine) == before


async def test_postgresql_row_level_security_for_analysts_and_examiners(
    backend: str, world: World, analysis: AnalysisWorld, engine: AsyncEngine
) -> None:
    """Below the guards (unchecked SQL straight to the runner): an analyst's transaction sees
    recording analysis and no exam rows; an examiner's sees no recording analysis
    (migration f2b4d6a8c0e1)."""
    if backend != "postgresql":
        pytest.skip("PostgreSQL's row-level security")
    runner = ReadOnlyRunner(engine)
    analysis_views = (
        "transcriptions",
        "reports",
        "report_runs",
        "job_stages",
        "report_outputs",
        "dictionaries",
    )
    for view in analysis_views:
        seen = await runner.run(f"SELECT COUNT(*) FROM ask.{view}", ANALYSIS_ONLY)
        assert seen.rows[0][0] > 0, view
        hidden = await runner.run(f"SELECT COUNT(*) FROM ask.{view}", examiner_rows({"medical"}))
        assert hidden.rows == [(0,)], view
        admin = await runner.run(f"SELECT COUNT(*) FROM ask.{view}", EVERY_ROW)
        assert admin.rows == seen.rows, view
    for view in ("results", "answers", "exam_sessions", "item_statistics", "colleges"):
        nothing = await runner.run(f"SELECT COUNT(*) FROM ask.{view}", ANALYSIS_ONLY)
        assert nothing.rows == [(0,)], view
