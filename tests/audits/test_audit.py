"""Every mutating route records an audit row in the same transaction as its change, and a
refused change leaves a failure row."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from newspeech.models import AuditLog
from tests.api.rules import RULES
from tests.api.test_authorisation import api_routes
from tests.fixtures.api import Api
from tests.fixtures.world import build_world

MUTATING = sorted(
    (method, path) for method, path in RULES if method in {"POST", "PUT", "PATCH", "DELETE"}
)


def test_every_mutating_route_names_its_audit_action() -> None:
    mutating = {(m, p) for m, p in api_routes() if m in {"POST", "PUT", "PATCH", "DELETE"}}
    assert mutating == set(MUTATING)
    assert [key for key in MUTATING if RULES[key].audit is None] == []


@pytest.mark.parametrize(("method", "path"), MUTATING, ids=[f"{m} {p}" for m, p in MUTATING])
async def test_mutating_route_writes_its_audit_row(api: Api, method: str, path: str) -> None:
    rule = RULES[(method, path)]
    async with api.sessionmaker() as db:
        world = await build_world(db)
    role = {"public": "anonymous", "user": "student", "examiner": "examiner"}.get(
        rule.access, "admin"
    )
    call = await rule.build(api, world, role, "own")
    user = world.user(role)
    headers = await api.headers_for(user.id) if user else {}
    headers["User-Agent"] = "audit-test/1.0"
    response = await api.client("192.0.2.7").request(
        method,
        call.path,
        json=call.json,
        params=call.params,
        data=call.data,
        files=call.files,
        headers=headers,
    )
    assert response.status_code == rule.ok, response.text

    async with api.sessionmaker() as db:
        rows = list(
            await db.scalars(
                select(AuditLog).where(
                    AuditLog.action == rule.audit, AuditLog.ip_address == "192.0.2.7"
                )
            )
        )
    assert len(rows) == 1
    row = rows[0]
    assert row.status == "success"
    assert row.user_agent == "audit-test/1.0"
    assert row.resource_type is not None
    if user is not None:
        assert row.user_id == user.id


async def test_a_refused_change_leaves_a_failure_row_and_no_change(api: Api) -> None:
    async with api.sessionmaker() as db:
        world = await build_world(db)
    headers = await api.headers_for(world.admin.id)
    response = await api.client().put(
        "/configuration/pass_percentage", json={"value": 250}, headers=headers
    )
    assert response.status_code == 422
    assert response.json()["error"] == "validation_failed"
    async with api.sessionmaker() as db:
        failure = (
            await db.scalars(select(AuditLog).where(AuditLog.action == "request.refused"))
        ).one()
        writes = await db.scalar(
            select(func.count()).where(AuditLog.action == "configuration.write")
        )
    assert failure.status == "validation_failed"
    assert failure.details == {"method": "PUT", "path": "/api/v1/configuration/pass_percentage"}
    assert failure.user_id == world.admin.id
    assert writes == 0
    check = await api.client().get("/configuration/pass_percentage", headers=headers)
    assert check.json()["value"] == 50


async def test_audit_log_filters_by_user_action_and_time(api: Api) -> None:
    async with api.sessionmaker() as db:
        world = await build_world(db)
    admin = await api.headers_for(world.admin.id)
    client = api.client()
    await client.patch("/users/me", json={"full_name": "Admin A"}, headers=admin)
    student = await api.headers_for(world.student.id)
    await client.patch("/users/me", json={"full_name": "Student S"}, headers=student)

    mine = await client.get(
        "/audit-logs",
        params={"user_id": world.student.id, "action": "user.profile_update"},
        headers=admin,
    )
    assert mine.status_code == 200
    assert [row["user_id"] for row in mine.json()["items"]] == [world.student.id]
    everything = await client.get(
        "/audit-logs", params={"action": "user.profile_update", "sort": "id"}, headers=admin
    )
    assert [row["user_id"] for row in everything.json()["items"]] == [
        world.admin.id,
        world.student.id,
    ]
    future = await client.get(
        "/audit-logs", params={"since": "2999-01-01T00:00:00Z"}, headers=admin
    )
    assert future.json()["total"] == 0
    bad_sort = await client.get("/audit-logs", params={"sort": "password"}, headers=admin)
    assert bad_sort.status_code == 422
    assert bad_sort.json()["error"] == "validation_failed"
