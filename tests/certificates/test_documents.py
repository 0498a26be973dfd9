"""Certificate and session report downloads: real PDFs, text checked with pypdf."""

from __future__ import annotations

import io

from pypdf import PdfReader
from sqlalchemy import select

from newspeech.models import Result
from tests.fixtures.api import Api
from tests.fixtures.factories import make_questions
from tests.fixtures.sittings import result_of, sit, students
from tests.fixtures.world import World, build_world


def pdf_text(data: bytes) -> str:
    return " ".join(
        " ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages).split()
    )


async def _world(api: Api) -> World:
    async with api.sessionmaker() as db:
        return await build_world(db)


async def test_certificate_is_rendered_on_demand_and_follows_overrides(api: Api) -> None:
    world = await _world(api)
    async with api.sessionmaker() as db:
        [student] = await students(db, 1)
        sitting = await sit(db, student, await make_questions(db, "medical"), [8] * 12)
        await db.commit()
    assert sitting.result is not None
    client = api.client()
    own = await api.headers_for(student.id)

    response = await client.get(f"/results/{sitting.result.id}/certificate", headers=own)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert "certificate.pdf" in response.headers["content-disposition"]
    text = pdf_text(response.content)
    assert student.full_name
    assert student.full_name in text
    assert "Score 96 / 120 (80.0%) Grade B" in text
    async with api.sessionmaker() as db:
        stored = await result_of(db, sitting.exam_session.id)
    assert stored.certificate_path is not None
    assert (api.settings.data_dir / stored.certificate_path).is_file()

    examiner = await api.headers_for(world.examiner.id)
    overridden = await client.post(
        f"/answers/{sitting.answers[0].id}/override",
        json={"score": 0, "comment": "read from notes"},
        headers=examiner,
    )
    assert overridden.json()["result"]["certificate_path"] is None
    again = await client.get(f"/results/{sitting.result.id}/certificate", headers=examiner)
    assert again.status_code == 200
    assert "Score 88 / 120 (73.3%) Grade C" in pdf_text(again.content)

    report = await client.get(f"/exam-sessions/{sitting.exam_session.id}/report", headers=own)
    assert report.status_code == 200
    assert report.headers["content-type"] == "application/pdf"
    text = pdf_text(report.content)
    assert student.full_name
    assert student.full_name in text
    assert "88" in text


async def test_failed_or_unscored_sittings_and_other_people(api: Api) -> None:
    world = await _world(api)
    client = api.client()
    student = await api.headers_for(world.student.id)
    async with api.sessionmaker() as db:
        result = (
            await db.scalars(select(Result).where(Result.session_id == world.exam_session.id))
        ).one()
        unscored = await sit(
            db, world.student, (await make_questions(db, "medical"))[:1], [5], finish=False
        )
        await db.commit()

    failed = await client.get(f"/results/{result.id}/certificate", headers=student)
    assert failed.status_code == 409
    assert "did not pass" in failed.json()["detail"]
    report = await client.get(f"/exam-sessions/{world.exam_session.id}/report", headers=student)
    assert report.status_code == 200
    assert world.student.full_name
    assert world.student.full_name in pdf_text(report.content)
    pending = await client.get(f"/exam-sessions/{unscored.exam_session.id}/report", headers=student)
    assert pending.status_code == 409
    other = await client.get(
        f"/exam-sessions/{world.other_exam_session.id}/report", headers=student
    )
    assert other.status_code == 404
    examiner = await api.headers_for(world.examiner.id)
    hidden = await client.get(f"/results/{world.other_result.id}/certificate", headers=examiner)
    assert hidden.status_code == 404
