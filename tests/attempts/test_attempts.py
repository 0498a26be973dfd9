"""The attempt policy over the API: examiners allow another attempt, audited; nobody allows
themselves one. (Who may call which route is in the authorisation matrix.)"""

from __future__ import annotations

from sqlalchemy import select

from newspeech.models import AuditLog
from tests.fixtures.api import Api
from tests.fixtures.world import World, build_world


async def _world(api: Api) -> World:
    async with api.sessionmaker() as db:
        return await build_world(db)


async def test_an_examiner_allows_a_student_another_attempt(api: Api) -> None:
    world = await _world(api)
    client = api.client()
    path = f"/attempts/medical/{world.student.id}"
    student = await api.headers_for(world.student.id)

    mine = await client.get(path, headers=student)
    assert mine.status_code == 200
    assert {k: mine.json()[k] for k in ("max_attempts", "granted", "used", "remaining")} == {
        "max_attempts": 1,
        "granted": 0,
        "used": 1,  # the world's finished sitting
        "remaining": 0,
    }

    examiner = await api.headers_for(world.examiner.id)
    granted = await client.post(
        path + "/grants", json={"reason": "the fire alarm went off"}, headers=examiner
    )
    assert granted.status_code == 201, granted.text
    body = granted.json()
    assert (body["allowed"], body["remaining"], body["unfinished_session_code"]) == (2, 1, None)
    [grant] = body["grants"]
    assert (grant["granted_by"], grant["reason"]) == (world.examiner.id, "the fire alarm went off")

    async with api.sessionmaker() as db:
        rows = list(await db.scalars(select(AuditLog).where(AuditLog.action == "attempt.grant")))
    assert [(r.user_id, r.resource_id) for r in rows] == [(world.examiner.id, grant["id"])]
    assert rows[0].details is not None
    assert rows[0].details["user_id"] == world.student.id
    assert rows[0].details["allowed"] == 2


async def test_a_student_cannot_allow_themselves_another_attempt(api: Api) -> None:
    world = await _world(api)
    client = api.client()
    student = await api.headers_for(world.student.id)
    refused = await client.post(
        f"/attempts/medical/{world.student.id}/grants", json={}, headers=student
    )
    assert refused.status_code == 403
    assert refused.json()["error"] == "permission_denied"
    after = await client.get(f"/attempts/medical/{world.student.id}", headers=student)
    assert after.json()["allowed"] == 1
    async with api.sessionmaker() as db:
        rows = list(await db.scalars(select(AuditLog).where(AuditLog.action == "attempt.grant")))
    assert rows == []


async def test_an_examiner_of_another_college_cannot_allow_an_attempt(api: Api) -> None:
    world = await _world(api)
    examiner = await api.headers_for(world.examiner.id)
    refused = await api.client().post(
        f"/attempts/law/{world.other_student.id}/grants", json={}, headers=examiner
    )
    assert refused.status_code == 404
    unknown = await api.client().post("/attempts/medical/987654/grants", json={}, headers=examiner)
    assert unknown.status_code == 404
