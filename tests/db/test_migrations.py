from __future__ import annotations

import datetime as dt
from typing import Any, cast

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Table, insert, inspect, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from newspeech.analysis.search.service import SearchFilter, search_transcripts
from newspeech.configuration.repository import ConfigurationRepository
from newspeech.db.base import Base
from newspeech.db.migrations import (
    current_revision,
    downgrade,
    head_revision,
    include_object,
    upgrade,
)
from newspeech.errors import Conflict
from newspeech.exams.repository import ExamSessionRepository
from newspeech.models import (
    Answer,
    Evaluation,
    EvaluatorType,
    ExamSession,
    Result,
    Scenario,
    Transcription,
    User,
    UserRole,
)
from newspeech.results.rules import ResultPolicy
from newspeech.results.service import calculate_result
from newspeech.seed import seed_reference_data
from tests.fixtures.factories import (
    answer_and_evaluate,
    make_questions,
    make_session,
    make_user,
)

REVIEW_STATE_REVISION = "211c97026998"
OVERRIDE_PROVENANCE_REVISION = "0d217c5d6a87"
GRADE_BAND_REVISION = "0124cc238b10"

# Every index the seed's schema lists, by table and columns. Most are named ix_<table>_<cols>
# here (the seed reused names like idx_user_id across tables); email, session_code, answer_id
# and config_key are served by their unique constraints' indexes.
SEED_INDEXES: dict[str, list[tuple[str, ...]]] = {
    "users": [("email",), ("role",), ("college_type",)],
    "sessions": [("user_id",), ("session_code",), ("status",), ("created_at",)],
    "question_banks": [
        ("college_type", "scenario_id", "question_number"),
        ("college_type",),
        ("scenario_id",),
        ("difficulty_level",),
    ],
    "answers": [("session_id",), ("question_bank_id",), ("question_number",), ("created_at",)],
    "evaluations": [("answer_id",), ("session_id",), ("feedback_type",), ("score_obtained",)],
    "results": [("user_id",), ("college_type",), ("pass_status",), ("generated_at",)],
    "audit_logs": [
        ("user_id",),
        ("session_id",),
        ("action",),
        ("created_at",),
        ("resource_type", "resource_id"),
    ],
    "configuration": [("config_key",)],
}


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection,
        opts={
            "include_object": include_object,
            "compare_type": True,
            "target_metadata": Base.metadata,
        },
    )
    return list(compare_metadata(context, Base.metadata))


async def test_migrations_reach_head_and_match_the_models(engine: AsyncEngine) -> None:
    assert await current_revision(engine) == head_revision()
    async with engine.connect() as connection:
        assert await connection.run_sync(_diff) == []


def _indexed_columns(connection: Connection) -> dict[str, set[tuple[str | None, ...]]]:
    inspector = inspect(connection)
    found: dict[str, set[tuple[str | None, ...]]] = {}
    names: list[str] = []
    for table in SEED_INDEXES:
        columns = {tuple(ix["column_names"]) for ix in inspector.get_indexes(table)}
        columns |= {tuple(uq["column_names"]) for uq in inspector.get_unique_constraints(table)}
        names += [str(ix["name"]) for ix in inspector.get_indexes(table)]
        found[table] = columns
    assert len(names) == len(set(names)), "index names must be unique database-wide"
    return found


async def test_every_seed_index_exists_with_a_unique_name(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        found = await connection.run_sync(_indexed_columns)
    for table, wanted in SEED_INDEXES.items():
        missing = [cols for cols in wanted if cols not in found[table]]
        assert not missing, f"{table} lacks indexes on {missing}"


def _fulltext_names(connection: Connection) -> set[str]:
    return {str(ix["name"]) for ix in inspect(connection).get_indexes("question_banks")}


async def test_question_text_has_a_full_text_index_where_the_backend_has_one(
    engine: AsyncEngine, backend: str
) -> None:
    async with engine.connect() as connection:
        names = await connection.run_sync(_fulltext_names)
    has_fulltext = "ft_question_banks_question_text" in names
    assert has_fulltext is (backend != "sqlite")


async def test_review_state_revision_downgrades_and_upgrades_over_stored_evaluations(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    async with sessionmaker() as db:
        exam_session = await make_session(db)
        [question, *_] = await make_questions(db, scenarios=1, per_scenario=1)
        _answer, evaluation = await answer_and_evaluate(db, exam_session, question, 1, 7)
        await db.commit()
    await downgrade(engine, REVIEW_STATE_REVISION + "-1")
    try:
        async with engine.connect() as connection:
            columns = await connection.run_sync(
                lambda sync: {c["name"] for c in inspect(sync).get_columns("evaluations")}
            )
        assert "needs_review" not in columns
    finally:
        await upgrade(engine)
    async with sessionmaker() as db:
        stored = await db.get(Evaluation, evaluation.id)
        assert stored is not None
        assert (stored.score_obtained, stored.needs_review, stored.review_reasons) == (
            7,
            False,
            None,
        )


async def test_override_provenance_revision_copies_who_overrode_existing_marks(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    moment = dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC)
    async with sessionmaker() as db:
        exam_session = await make_session(db)
        [question, *_] = await make_questions(db, scenarios=1, per_scenario=2)
        _a, overridden = await answer_and_evaluate(db, exam_session, question, 1, 8)
        _b, machine = await answer_and_evaluate(db, exam_session, question, 2, 3)
        overridden.evaluator_type = EvaluatorType.MANUAL
        overridden.reviewed_by = exam_session.user_id
        overridden.reviewed_at = moment
        machine.needs_review = True
        await db.commit()
    await downgrade(engine, OVERRIDE_PROVENANCE_REVISION + "-1")
    await upgrade(engine)
    async with sessionmaker() as db:
        first = await db.get(Evaluation, overridden.id)
        second = await db.get(Evaluation, machine.id)
    assert first is not None
    assert second is not None
    assert (first.overridden_by, first.overridden_at) == (exam_session.user_id, moment)
    assert (second.overridden_by, second.overridden_at) == (None, None)


async def test_a_stored_pass_graded_f_takes_the_lowest_passing_band(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    async with sessionmaker() as db:
        questions = await make_questions(db, scenarios=1, per_scenario=2)
        ids = []
        # 11/20 = 55 % passed (F under the old rules); 4/20 = 20 % failed (F either way).
        for scores in ((6, 5), (2, 2)):
            exam_session = await make_session(db)
            for number, (question, score) in enumerate(zip(questions, scores, strict=True), 1):
                await answer_and_evaluate(db, exam_session, question, number, score)
            await ExamSessionRepository(db).complete(exam_session.id)
            result = await calculate_result(
                db, exam_session, ResultPolicy(total_questions=2, pass_percentage=50.0)
            )
            ids.append(result.id)
        passed = await db.get(Result, ids[0])
        assert passed is not None
        assert passed.grade == "E"
        # As the old rules stored it.
        passed.grade = "F"
        passed.result_json = {**(passed.result_json or {}), "grade": "F"}
        passed.certificate_path = "certificates/old.pdf"
        await db.commit()
    await downgrade(engine, GRADE_BAND_REVISION + "-1")
    await upgrade(engine)
    async with sessionmaker() as db:
        stored = {r.id: r for r in await db.scalars(select(Result).where(Result.id.in_(ids)))}
    assert stored[ids[0]].grade == "E"
    assert (stored[ids[0]].result_json or {})["grade"] == "E"
    assert stored[ids[0]].certificate_path is None
    assert (stored[ids[1]].grade, stored[ids[1]].pass_status) == ("F", False)


FORM_REVISION = "cea640681fbb"


async def test_attempts_revision_keeps_every_answer_and_numbers_earlier_sittings(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    async with sessionmaker() as db:
        first = await make_session(db)
        await make_session(db, await db.get(User, first.user_id))  # the second attempt
        [question, *_] = await make_questions(db, scenarios=1, per_scenario=1)
        answer, _evaluation = await answer_and_evaluate(db, first, question, 1, 7)
        await db.commit()
    await downgrade(engine, FORM_REVISION + "-1")
    try:
        async with engine.connect() as connection:
            columns = await connection.run_sync(
                lambda sync: {c["name"] for c in inspect(sync).get_columns("sessions")}
            )
        assert "attempt_number" not in columns
    finally:
        await upgrade(engine)
    async with sessionmaker() as db:
        assert await db.get(Answer, answer.id) is not None  # no sitting was copied away
        query = select(ExamSession.attempt_number, ExamSession.exam_form).order_by(ExamSession.id)
        assert [tuple(row) for row in await db.execute(query)] == [(1, None), (2, None)]


CONFIG_SNAPSHOT_REVISION = "b7c41e2d9f05"


async def test_configuration_revision_drops_the_unread_keys_and_keeps_every_sitting(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    async with sessionmaker() as db:
        await seed_reference_data(db, banks=[])
        sitting = await make_session(db)
        await db.commit()
    await downgrade(engine, CONFIG_SNAPSHOT_REVISION + "-1")
    try:
        async with sessionmaker() as db:
            old = await ConfigurationRepository(db).values()
        assert (old["voice_threshold"], old["latency_target_ms"]) == (45, 400)
        assert (old["tts_max_buffer_size"], old["llm_temperature"]) == (16000, 0.7)
        async with sessionmaker() as db:  # an admin's own temperature is kept
            await ConfigurationRepository(db).set("llm_temperature", 0.3)
            await db.commit()
    finally:
        await upgrade(engine)
    async with sessionmaker() as db:
        values = await ConfigurationRepository(db).values()
        snapshot = await ExamSessionRepository(db).config_of(sitting.id)
    assert not {"voice_threshold", "latency_target_ms", "tts_max_buffer_size"} & set(values)
    assert values["llm_temperature"] == 0.3
    assert snapshot is None  # taken from the configuration at its first resume

    async with sessionmaker() as db:
        await ConfigurationRepository(db).set("llm_temperature", 0.7)
        await db.commit()
    await downgrade(engine, CONFIG_SNAPSHOT_REVISION + "-1")
    await upgrade(engine)
    async with sessionmaker() as db:
        assert (await ConfigurationRepository(db).values())["llm_temperature"] == 0.0


ANALYST_SEARCH_REVISION = "d4e8a1c3f5b7"


async def test_analyst_and_search_revision_backfills_segments_and_guards_its_downgrade(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    # Later revisions first: a refused downgrade should leave nothing of theirs half undone.
    await downgrade(engine, ANALYST_SEARCH_REVISION)
    async with sessionmaker() as db:
        analyst = await make_user(db, role=UserRole.ANALYST, college_type=None)
        await db.commit()
    with pytest.raises(RuntimeError, match="analyst rows"):
        await downgrade(engine, ANALYST_SEARCH_REVISION + "-1")
    async with sessionmaker() as db:
        assert (await db.get(User, analyst.id)) is not None
        await db.delete(await db.get(User, analyst.id))
        await db.commit()

    await downgrade(engine, ANALYST_SEARCH_REVISION + "-1")
    try:
        async with sessionmaker() as db:
            with pytest.raises((Conflict, DBAPIError)):  # the old constraint is back
                await make_user(db, role=UserRole.ANALYST, college_type=None)
        async with sessionmaker() as db:
            scenario = Scenario(key="design", name="Design")
            db.add(scenario)
            await db.flush()
            await db.execute(
                insert(cast(Table, Transcription.__table__)).values(
                    recording_key="analysis/old.wav",
                    size_bytes=1,
                    scenario_id=scenario.id,
                    status="transcribed",
                    segments=[
                        {"start": 1.0, "end": 2.0, "speaker": None, "text": "", "words": []},
                        {
                            "start": 3.0,
                            "end": 4.0,
                            "speaker": None,
                            "text": "Wet floor.",
                            "words": [
                                {"start": 3.0, "end": 3.4, "word": "Wet"},
                                {"start": 3.5, "end": 4.0, "word": "floor."},
                            ],
                        },
                    ],
                    created_at=dt.datetime.now(dt.UTC),
                    updated_at=dt.datetime.now(dt.UTC),
                )
            )
            await db.commit()
    finally:
        await upgrade(engine)
    async with sessionmaker() as db:
        [hit] = (await search_transcripts(db, "floor", SearchFilter(), offset=0, limit=5)).items
        assert (hit.segment, hit.hit_seconds, hit.text) == (
            1,
            3.5,
            "Wet floor.",
        )  # its index in the transcript
        await make_user(db, role=UserRole.ANALYST, college_type=None)
        await db.commit()
