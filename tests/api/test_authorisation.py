"""The authorisation matrix: every API route x role x own / other's resource, from the route
table. A route without a rule in ``tests/api/rules.py`` fails ``test_every_route_has_a_rule``."""

from __future__ import annotations

import pytest
from fastapi.routing import APIRoute

from newspeech.app import API_PREFIX, API_ROUTERS, create_app
from newspeech.config import Settings
from tests.api.rules import RULES, Owner
from tests.fixtures.api import Api
from tests.fixtures.world import build_world

ROLES = ("anonymous", "student", "examiner", "admin", "analyst")


def api_routes() -> set[tuple[str, str]]:
    """(method, path) of every route of every API router (the route table)."""
    return {
        (method, API_PREFIX + route.path)
        for router in API_ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in route.methods or ()
    }


def test_every_route_has_a_rule() -> None:
    routes = api_routes()
    assert len(routes) > 30
    documented = create_app(Settings(environment="test", speech_enabled=False)).openapi()["paths"]
    served = {
        (method.upper(), path)
        for path, operations in documented.items()
        if path.startswith(API_PREFIX)
        for method in operations
    }
    assert served == routes, "the OpenAPI schema and the route table differ"
    assert routes - set(RULES) == set(), "routes without an authorisation rule"
    assert set(RULES) - routes == set(), "rules for routes that no longer exist"


CASES = [
    pytest.param(method, path, role, owner, id=f"{method} {path} {role} {owner}")
    for (method, path) in sorted(RULES)
    for role in ROLES
    for owner in ("own", "other")
]


@pytest.mark.parametrize(("method", "path", "role", "owner"), CASES)
async def test_authorisation(api: Api, method: str, path: str, role: str, owner: Owner) -> None:
    rule = RULES[(method, path)]
    async with api.sessionmaker() as db:
        world = await build_world(db)
    call = await rule.build(api, world, role, owner)
    user = world.user(role)
    headers = await api.headers_for(user.id) if user else {}
    response = await api.client().request(
        method,
        call.path,
        json=call.json,
        params=call.params,
        data=call.data,
        files=call.files,
        headers=headers,
    )
    expected = rule.expected(role, owner)
    assert response.status_code == expected, response.text
    if expected >= 400:
        body = response.json()
        assert set(body) == {"error", "detail"}
