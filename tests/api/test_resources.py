"""Behaviour of the resources beyond who may call them: invitations, questions, sittings,
pagination and the error shape."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from newspeech.config import Settings, load_settings
from newspeech.errors import ConfigurationError
from newspeech.models import Answer, UserRole
from tests.fixtures.api import Api
from tests.fixtures.world import World, build_world


async def _world(api: Api) -> World:
    async with api.sessionmaker() as db:
        return await build_world(db)


def _redeem_body(code: str, n: int = 1) -> dict[str, str]:
    return {
        "code": code,
        "username": f"newcomer{n}",
        "email": f"newcomer{n}@example.org",
        "password": "a long enough passphrase",
    }


async def test_invitation_registers_once_with_its_role_and_college(api: Api) -> None:
    world = await _world(api)
    client = api.client()
    examiner = await api.headers_for(world.examiner.id)
    created = await client.post(
        "/invitations", json={"role": "student", "college_type": "medical"}, headers=examiner
    )
    assert created.status_code == 201
    invitation = created.json()
    expires = dt.datetime.fromisoformat(invitation["expires_at"])
    assert expires == api.clock() + dt.timedelta(hours=48)

    redeemed = await client.post("/invitations/redeem", json=_redeem_body(invitation["code"]))
    assert redeemed.status_code == 201
    assert redeemed.json()["role"] == "student"
    assert redeemed.json()["college_type"] == "medical"
    again = await client.post("/invitations/redeem", json=_redeem_body(invitation["code"], 2))
    assert again.status_code == 409
    login = await client.post(
        "/auth/login", json={"username": "newcomer1", "password": "a long enough passphrase"}
    )
    assert login.status_code == 200
    listed = await client.get("/invitations", headers=examiner)
    assert listed.json()["items"][0]["used_by"] == redeemed.json()["id"]
    assert "code" not in listed.json()["items"][0]


async def test_expired_invitation_is_refused(api: Api) -> None:
    world = await _world(api)
    client = api.client()
    admin = await api.headers_for(world.admin.id)
    created = await client.post(
        "/invitations", json={"role": "examiner", "college_type": "law"}, headers=admin
    )
    code = created.json()["code"]
    api.clock.advance(hours=48)
    expired = await client.post("/invitations/redeem", json=_redeem_body(code))
    assert expired.status_code == 422
    assert expired.json() == {"error": "validation_failed", "detail": "the invitation has expired"}
    unknown = await client.post("/invitations/redeem", json=_redeem_body("no-such-code"))
    assert unknown.status_code == 404


async def test_invited_examiner_is_assigned_the_invitations_college(api: Api) -> None:
    world = await _world(api)
    client = api.client()
    admin = await api.headers_for(world.admin.id)
    code = (
        await client.post(
            "/invitations", json={"role": "examiner", "college_type": "law"}, headers=admin
        )
    ).json()["code"]
    examiner = (await client.post("/invitations/redeem", json=_redeem_body(code))).json()
    assert examiner["role"] == UserRole.EXAMINER.value
    colleges = await client.get(f"/users/{examiner['id']}/colleges", headers=admin)
    assert colleges.json()["colleges"] == ["law"]
    headers = await api.headers_for(examiner["id"])
    sessions = (await client.get("/exam-sessions", headers=headers)).json()["items"]
    assert [s["id"] for s in sessions] == [world.other_exam_session.id]


async def test_examiners_cannot_invite_examiners(api: Api) -> None:
    world = await _world(api)
    examiner = await api.headers_for(world.examiner.id)
    response = await api.client().post(
        "/invitations", json={"role": "admin", "college_type": "medical"}, headers=examiner
    )
    assert response.status_code == 403


async def test_editing_a_question_keeps_the_text_answers_were_given_to(api: Api) -> None:
    world = await _world(api)
    client = api.client()
    examiner = await api.headers_for(world.examiner.id)
    original = world.question.question_text
    response = await client.patch(
        f"/questions/{world.question.id}",
        json={"question_text": "A reworded question?", "keywords": [{"term": "shock"}]},
        headers=examiner,
    )
    assert response.status_code == 200
    assert response.json()["question_text"] == "A reworded question?"
    assert response.json()["expected_keywords"] == ["shock"]
    detail = await client.get(f"/exam-sessions/{world.exam_session.id}", headers=examiner)
    asked = [
        a["question_text"]
        for a in detail.json()["answers"]
        if a["question_bank_id"] == world.question.id
    ]
    assert asked == [original]
    async with api.sessionmaker() as db:
        stored = (
            await db.scalars(
                select(Answer.question_text).where(Answer.question_bank_id == world.question.id)
            )
        ).all()
    assert stored == [original]
    deleting = await client.delete(f"/questions/{world.question.id}", headers=examiner)
    assert deleting.status_code == 409


async def test_session_detail_has_answers_evaluations_and_result(api: Api) -> None:
    world = await _world(api)
    headers = await api.headers_for(world.student.id)
    detail = (
        await api.client().get(f"/exam-sessions/{world.exam_session.id}", headers=headers)
    ).json()
    assert detail["user"]["id"] == world.student.id
    assert [a["question_number"] for a in detail["answers"]] == [1, 2, 3]
    assert all(a["evaluation"]["score_obtained"] == 7 for a in detail["answers"])
    assert detail["result"]["total_score"] == 21


async def test_session_list_filters_sorts_and_pages(api: Api) -> None:
    world = await _world(api)
    client = api.client()
    admin = await api.headers_for(world.admin.id)
    everything = (await client.get("/exam-sessions", params={"sort": "id"}, headers=admin)).json()
    assert [s["id"] for s in everything["items"]] == sorted(
        [world.exam_session.id, world.other_exam_session.id]
    )
    assert everything["total"] == 2
    page2 = (
        await client.get(
            "/exam-sessions", params={"sort": "-id", "size": 1, "page": 2}, headers=admin
        )
    ).json()
    assert [s["id"] for s in page2["items"]] == [
        min(world.exam_session.id, world.other_exam_session.id)
    ]
    assert page2["total"] == 2
    law = (await client.get("/exam-sessions", params={"college_type": "law"}, headers=admin)).json()
    assert [s["id"] for s in law["items"]] == [world.other_exam_session.id]
    by_user = await client.get(
        "/exam-sessions", params={"user_id": world.student.id, "status": "completed"}, headers=admin
    )
    assert [s["id"] for s in by_user.json()["items"]] == [world.exam_session.id]
    future = await client.get(
        "/exam-sessions", params={"created_from": "2999-01-01T00:00:00"}, headers=admin
    )
    assert future.json()["total"] == 0
    # A student asking for someone else's sittings gets none.
    student = await api.headers_for(world.student.id)
    theirs = await client.get(
        "/exam-sessions", params={"user_id": world.other_student.id}, headers=student
    )
    assert theirs.json()["items"] == []


async def test_session_list_names_the_candidate_of_each_sitting(api: Api) -> None:
    world = await _world(api)
    admin = await api.headers_for(world.admin.id)
    listed = await api.client().get("/exam-sessions", params={"sort": "id"}, headers=admin)
    assert listed.status_code == 200
    candidates = {s["id"]: s["user"] for s in listed.json()["items"]}
    for exam_session, student in (
        (world.exam_session, world.student),
        (world.other_exam_session, world.other_student),
    ):
        assert candidates[exam_session.id] == {
            "id": student.id,
            "username": student.username,
            "full_name": student.full_name,
        }


async def test_results_by_user_and_college_statistics(api: Api) -> None:
    world = await _world(api)
    client = api.client()
    admin = await api.headers_for(world.admin.id)
    mine = await client.get("/results", params={"user_id": world.student.id}, headers=admin)
    assert [r["id"] for r in mine.json()["items"]] == [world.result.id]
    stats = (await client.get("/results/statistics/medical", headers=admin)).json()
    assert stats == {
        "college_type": "medical",
        "attempts": 1,
        "passes": 0,
        "pass_rate": 0.0,
        "average_percentage": 17.5,
        "highest_score": 21,
        "lowest_score": 21,
    }


async def test_configuration_is_typed_and_validated(api: Api) -> None:
    world = await _world(api)
    client = api.client()
    admin = await api.headers_for(world.admin.id)
    ok = await client.put("/configuration/vad_sensitivity", json={"value": 0.7}, headers=admin)
    assert ok.json()["value"] == 0.7
    for body in (
        {"value": "loud"},
        {"value": 1.5},
        {"value": True},
        {"value": 1, "value_type": "string"},
    ):
        bad = await client.put("/configuration/vad_sensitivity", json=body, headers=admin)
        assert bad.status_code == 422, body
    new = await client.put(
        "/configuration/welcome_text",
        json={"value": "Hello", "value_type": "string"},
        headers=admin,
    )
    assert new.json() == new.json() | {"value": "Hello", "value_type": "string"}
    assert (await client.get("/configuration/nope", headers=admin)).status_code == 404


async def test_admin_manages_accounts(api: Api) -> None:
    world = await _world(api)
    client = api.client()
    admin = await api.headers_for(world.admin.id)
    body = {
        "username": "dr.new",
        "email": "New@Example.org",
        "password": "a long enough passphrase",
        "role": "examiner",
    }
    created = await client.post("/users", json=body, headers=admin)
    assert created.status_code == 201
    assert created.json()["email"] == "new@example.org"
    duplicate = await client.post("/users", json=body, headers=admin)
    assert duplicate.status_code == 409
    assert duplicate.json()["error"] == "conflict"
    examiners = await client.get(
        "/users", params={"role": "examiner", "sort": "-id"}, headers=admin
    )
    assert next(u["username"] for u in examiners.json()["items"]) == "dr.new"
    assert (
        await client.put(
            f"/users/{world.student.id}/colleges", json={"colleges": ["law"]}, headers=admin
        )
    ).status_code == 409
    itself = await client.delete(f"/users/{world.admin.id}", headers=admin)
    assert itself.status_code == 409


async def test_every_failure_has_the_one_error_shape(api: Api) -> None:
    world = await _world(api)
    client = api.client()
    headers = await api.headers_for(world.admin.id)
    cases = [
        ("GET", "/no-such-thing", None, 404, "not_found"),
        ("DELETE", "/exam-sessions", None, 405, "method_not_allowed"),
        ("GET", "/exam-sessions/abc", None, 422, "validation_failed"),
        ("POST", "/users", {"username": "x"}, 422, "validation_failed"),
        ("GET", "/exam-sessions/999999", None, 404, "not_found"),
        ("GET", "/questions", {"sort": "nope"}, 422, "validation_failed"),
    ]
    for method, path, payload, status, code in cases:
        if method == "GET":
            response = await client.request(method, path, headers=headers, params=payload)
        else:
            response = await client.request(method, path, headers=headers, json=payload)
        assert response.status_code == status, path
        body = response.json()
        assert set(body) == {"error", "detail"}
        assert body["error"] == code
    broken = await client.post(
        "/users", content=b"{not json", headers=headers | {"content-type": "application/json"}
    )
    assert broken.status_code == 422
    assert broken.json()["error"] == "validation_failed"


@pytest.mark.parametrize("environment", ["development", "test", "production"])
def test_every_environment_refuses_a_public_or_short_secret(environment: str) -> None:
    public = "newspeech-development-secret-do-not-use-in-production"
    with pytest.raises(ConfigurationError, match="published development secret"):
        load_settings(environment=environment, secret_key=public)
    with pytest.raises(ConfigurationError, match="at least 32"):
        load_settings(environment=environment, secret_key="short")
    settings = load_settings(environment=environment, secret_key="x" * 40)
    assert isinstance(settings, Settings)
    assert settings.token_secret() == "x" * 40
