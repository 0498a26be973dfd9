"""Regrade with dry run: the dry run stores nothing, applying stores scores, results and audit
rows together, and manual overrides are never touched."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from newspeech.configuration.repository import ConfigurationRepository
from newspeech.grading import GradingThresholds, KeywordGrader
from newspeech.models import AuditLog, Evaluation, Question, Result
from newspeech.review.regrade import grading_question
from tests.fixtures.api import Api
from tests.fixtures.cli import Newspeech
from tests.fixtures.factories import make_questions
from tests.fixtures.sittings import Sitting, evaluation_of, graded_sitting, students
from tests.fixtures.world import World, build_world

TRANSCRIPTS = [
    "It is sepsis.",
    "Give fluids and antibiotics straight away.",
    "Sepsis, so fluids first.",
    "Sepsis.",  # overridden by hand below
]
NEW_KEYWORDS = [
    {"term": "fluids", "synonyms": ["saline"], "weight": 1},
    {"term": "antibiotics", "synonyms": [], "weight": 1},
]


async def _setup(api: Api) -> tuple[World, Question, list[Sitting]]:
    async with api.sessionmaker() as db:
        world = await build_world(db)
        question = (await make_questions(db, "medical"))[5]  # nobody in the world answered it
        sittings = [
            await graded_sitting(db, student, question, text)
            for student, text in zip(await students(db, 4), TRANSCRIPTS, strict=True)
        ]
        await db.commit()
    return world, question, sittings


async def _snapshot(db: AsyncSession) -> tuple[list[tuple[int, int, str]], list[tuple[int, int]]]:
    evaluations = await db.execute(
        select(Evaluation.answer_id, Evaluation.score_obtained, Evaluation.evaluator_type)
        .order_by(Evaluation.answer_id)
        .execution_options(populate_existing=True)
    )
    results = await db.execute(select(Result.session_id, Result.total_score).order_by(Result.id))
    return (
        [(a, s, e.value) for a, s, e in evaluations],
        [(s, t) for s, t in results],
    )


async def _count(db: AsyncSession, action: str) -> int:
    query = select(func.count(AuditLog.id)).where(AuditLog.action == action)
    return int((await db.execute(query)).scalar_one())


async def test_dry_run_stores_nothing_and_apply_stores_everything(api: Api) -> None:
    world, question, sittings = await _setup(api)
    client = api.client()
    headers = await api.headers_for(world.examiner.id)
    manual = sittings[3].answers[0].id
    response = await client.post(
        f"/answers/{manual}/override", json={"score": 3, "comment": "vague"}, headers=headers
    )
    assert response.status_code == 200
    patched = await client.patch(
        f"/questions/{question.id}", json={"keywords": NEW_KEYWORDS}, headers=headers
    )
    assert patched.status_code == 200

    async with api.sessionmaker() as db:
        before = await _snapshot(db)
        updated = await db.get(Question, question.id)
        assert updated is not None
        thresholds = GradingThresholds.from_config(await ConfigurationRepository(db).values())
    grader = KeywordGrader(thresholds)
    expected = {
        sitting.answers[0].id: grader.grade(grading_question(updated), text, asr_confidence=0.9)
        for sitting, text in zip(sittings[:3], TRANSCRIPTS[:3], strict=True)
    }
    old = {a: s for a, s, _e in before[0]}
    changed = {a for a, grade in expected.items() if grade.score != old[a]}
    assert changed, "the new keywords must change some scores"

    dry = await client.post(f"/questions/{question.id}/regrade", json={}, headers=headers)
    assert dry.status_code == 200, dry.text
    report = dry.json()
    assert (report["applied"], report["graded"], report["skipped_manual"]) == (False, 3, 1)
    assert {c["answer_id"] for c in report["changes"]} == changed
    for change in report["changes"]:
        assert change["old_score"] == old[change["answer_id"]]
        assert change["new_score"] == expected[change["answer_id"]].score
    sessions = {c["session_id"]: c for c in report["changes"]}
    assert {r["session_id"] for r in report["results"]} == set(sessions)
    for result in report["results"]:
        change = sessions[result["session_id"]]
        delta = change["new_score"] - change["old_score"]
        assert result["new_total"] - result["old_total"] == delta
    async with api.sessionmaker() as db:
        assert await _snapshot(db) == before
        assert await _count(db, "evaluation.regrade") == 0
        assert await _count(db, "question.regrade") == 0

    applied = await client.post(
        f"/questions/{question.id}/regrade", json={"apply": True}, headers=headers
    )
    assert applied.status_code == 200, applied.text
    assert applied.json()["changes"] == report["changes"]
    assert applied.json()["results"] == report["results"]

    async with api.sessionmaker() as db:
        for answer_id, grade in expected.items():
            evaluation = await evaluation_of(db, answer_id)
            assert (evaluation.score_obtained, evaluation.feedback_type) == (
                grade.score,
                grade.feedback_type,
            )
        untouched = await evaluation_of(db, manual)
        assert (untouched.score_obtained, untouched.evaluator_type.value) == (3, "manual")
        for result in await db.scalars(select(Result).execution_options(populate_existing=True)):
            total = int(  # MariaDB sums to a Decimal
                await db.scalar(
                    select(func.sum(Evaluation.score_obtained)).where(
                        Evaluation.session_id == result.session_id
                    )
                )
                or 0
            )
            assert result.total_score == total
            assert result.percentage_correct == round(100 * total / 120, 2)
        assert await _count(db, "evaluation.regrade") == len(changed)
        assert await _count(db, "question.regrade") == 1
        row = (
            await db.scalars(select(AuditLog).where(AuditLog.action == "evaluation.regrade"))
        ).first()
        assert row is not None
        assert row.details is not None
        assert row.details["before"]["score"] == old[row.details["answer_id"]]

    again = await client.post(
        f"/questions/{question.id}/regrade", json={"apply": True}, headers=headers
    )
    assert again.json()["changes"] == []


async def test_regrade_of_another_colleges_question_is_hidden(api: Api) -> None:
    world, _question, _sittings = await _setup(api)
    response = await api.client().post(
        f"/questions/{world.other_question.id}/regrade",
        json={"apply": True},
        headers=await api.headers_for(world.examiner.id),
    )
    assert response.status_code == 404


async def test_cli_regrade_prints_the_change_table(api: Api, newspeech: Newspeech) -> None:
    _world, question, _sittings = await _setup(api)
    async with api.sessionmaker() as db:
        stored = await db.get(Question, question.id)
        assert stored is not None
        stored.keywords = NEW_KEYWORDS
        stored.expected_keywords = ["fluids", "antibiotics"]
        await db.commit()
    env = {"NEWSPEECH_DATABASE_URL": api.settings.database_url, "NEWSPEECH_GRADER": "keyword"}
    run = newspeech.from_a_coroutine
    dry = await run("questions", "regrade", str(question.id), env=env)
    assert dry.returncode == 0, dry.stderr
    assert "dry run (nothing stored" in dry.stdout
    assert "answer session" in " ".join(dry.stdout.split())
    real = await run("questions", "regrade", str(question.id), "--apply", env=env)
    assert real.returncode == 0, real.stderr
    assert "; applied" in real.stdout
    again = await run("questions", "regrade", str(question.id), "--apply", env=env)
    assert "0 scores change" in again.stdout


async def test_a_regrade_and_an_override_use_the_configuration_stored_now(api: Api) -> None:
    """Both are decisions taken now: an admin's edit made after the sittings applies to them
    (docs/operations.md, "Exam configuration")."""
    world, question, sittings = await _setup(api)
    client = api.client()
    admin = await api.headers_for(world.admin.id)
    examiner = await api.headers_for(world.examiner.id)
    edited = await client.put(
        "/configuration/keyword_matching_threshold", json={"value": 0.95}, headers=admin
    )
    assert edited.status_code == 200, edited.text

    override = await client.post(
        f"/answers/{sittings[3].answers[0].id}/override",
        json={"score": 9, "comment": "nearly all of it"},
        headers=examiner,
    )
    assert override.status_code == 200, override.text
    async with api.sessionmaker() as db:
        overridden = await evaluation_of(db, sittings[3].answers[0].id)
        assert overridden.feedback_type.value == "partial"  # 9/10 is below the new 0.95
        before = {a: s for a, s, _e in (await _snapshot(db))[0]}
        stored = {a: (await evaluation_of(db, a)).feedback_type.value for a in before}
        current = await db.get(Question, question.id)
        assert current is not None
    grader = KeywordGrader(GradingThresholds(correct=0.95))
    expected = {
        sitting.answers[0].id: grader.grade(grading_question(current), text, asr_confidence=0.9)
        for sitting, text in zip(sittings[:3], TRANSCRIPTS[:3], strict=True)
    }

    dry = await client.post(f"/questions/{question.id}/regrade", json={}, headers=examiner)
    assert dry.status_code == 200, dry.text
    changes = {c["answer_id"]: c for c in dry.json()["changes"]}
    for answer_id, grade in expected.items():
        if (grade.score, grade.feedback_type.value) == (before[answer_id], stored[answer_id]):
            assert answer_id not in changes
        else:
            assert changes[answer_id]["new_feedback_type"] == grade.feedback_type.value
