"""Question bank import and export over the API, on the Moodle fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from newspeech.models import AuditLog, Question
from newspeech.questions.interchange.endpoints import MAX_IMPORT_BYTES
from tests.fixtures.api import Api
from tests.fixtures.world import World, build_world

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "research-data" / "moodle-fixtures"


async def _world(api: Api) -> World:
    async with api.sessionmaker() as db:
        return await build_world(db)


async def _questions(api: Api) -> int:
    async with api.sessionmaker() as db:
        return int((await db.execute(select(func.count(Question.id)))).scalar_one())


async def test_invalid_grade_fixture_is_refused_with_its_line_and_nothing_stored(api: Api) -> None:
    world = await _world(api)
    stored = await _questions(api)
    data = (FIXTURES / "error_invalid_grades.xml").read_bytes()
    response = await api.client().post(
        "/question-banks/import",
        data={"college_type": "medical"},
        files={"file": ("error_invalid_grades.xml", data, "application/xml")},
        headers=await api.headers_for(world.examiner.id),
    )
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "validation_failed"
    errors = [i for i in body["detail"]["issues"] if i["kind"] == "error"]
    assert [i["line"] for i in errors] == [38]
    assert errors[0]["message"].startswith("answer grade 33% is not an allowed Moodle grade")
    assert body["detail"]["applied"] is False
    assert await _questions(api) == stored
    async with api.sessionmaker() as db:
        row = (
            await db.scalars(select(AuditLog).where(AuditLog.action == "questions.import"))
        ).one()
    assert row.status == "failure"
    assert row.user_id == world.examiner.id


async def test_dry_run_then_import_of_a_moodle_fixture(api: Api) -> None:
    world = await _world(api)
    headers = await api.headers_for(world.examiner.id)
    client = api.client()
    stored = await _questions(api)
    data = (FIXTURES / "shortanswer_testquestion.moodle.xml").read_bytes()

    async def upload(dry_run: bool) -> dict[str, object]:
        response = await client.post(
            "/question-banks/import",
            data={"college_type": "medical", "dry_run": str(dry_run).lower()},
            files={"file": ("shortanswer.xml", data, "application/xml")},
            headers=headers,
        )
        assert response.status_code == 200, response.text
        body: dict[str, object] = response.json()
        timing = response.headers["server-timing"].split(", ")
        body["stages"] = [entry.partition(";dur=")[0] for entry in timing]
        return body

    dry = await upload(True)
    assert (dry["dry_run"], dry["applied"], dry["new"], dry["errors"]) == (True, False, 1, 0)
    assert dry["stages"] == ["parse", "read", "plan"]
    assert await _questions(api) == stored
    real = await upload(False)
    assert (real["applied"], real["new"]) == (True, 1)
    assert real["stages"] == ["parse", "read", "plan", "write"]
    assert await _questions(api) == stored + 1
    again = await upload(False)
    assert (again["new"], again["updated"], again["unchanged"]) == (0, 0, 1)


@pytest.mark.parametrize("fmt", ["gift", "moodle_xml", "csv"])
async def test_export_round_trips_through_the_api(api: Api, fmt: str) -> None:
    world = await _world(api)
    headers = await api.headers_for(world.examiner.id)
    client = api.client()
    exported = await client.get(
        "/question-banks/medical/export", params={"format": fmt}, headers=headers
    )
    assert exported.status_code == 200
    disposition = exported.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="medical.')
    # No file name: the format is told from the content.
    response = await client.post(
        "/question-banks/import",
        files={"file": ("upload", exported.content, "application/octet-stream")},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["new"], report["updated"], report["errors"]) == (0, 0, 0)
    assert report["unchanged"] == 12


async def test_import_limits_and_scope(api: Api) -> None:
    world = await _world(api)
    client = api.client()
    examiner = await api.headers_for(world.examiner.id)
    too_big = await client.post(
        "/question-banks/import",
        files={"file": ("big.gift.txt", b"x" * (MAX_IMPORT_BYTES + 1), "text/plain")},
        headers=examiner,
    )
    assert too_big.status_code == 413
    assert too_big.json()["error"] == "payload_too_large"
    law = b"$CATEGORY: $course$/law/1. Contract\n\n::Q1:: What is an offer? {}\n"
    foreign = await client.post(
        "/question-banks/import", files={"file": ("law.gift", law, "text/plain")}, headers=examiner
    )
    assert foreign.status_code == 403
    student = await client.get(
        "/question-banks/medical/export", headers=await api.headers_for(world.student.id)
    )
    assert student.status_code == 403
    hidden = await client.get("/question-banks/law/export", headers=examiner)
    assert hidden.status_code == 404
