"""The result rules an admin configures hold together: a pass never prints as F."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fixtures.api import Api
from tests.fixtures.world import build_world


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("grade_thresholds", {"A": 90, "B": 80, "C": 70, "D": 60, "E": 55}),
        ("grade_thresholds", {"A": 90, "F": 55}),
    ],
)
async def test_rejects_a_configuration_that_would_print_a_pass_as_f(
    api: Api, key: str, value: Any
) -> None:
    async with api.sessionmaker() as db:
        world = await build_world(db)
    headers = await api.headers_for(world.admin.id)
    response = await api.client().put(
        f"/configuration/{key}", json={"value": value}, headers=headers
    )
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "validation_failed"
    assert "would print a pass as F" in body["detail"]
    kept = await api.client().get("/configuration/grade_thresholds", headers=headers)
    assert kept.json()["value"] == {"A": 90, "B": 80, "C": 70, "D": 60}


async def test_accepts_a_pass_mark_that_moves_the_lowest_band(api: Api) -> None:
    async with api.sessionmaker() as db:
        world = await build_world(db)
    headers = await api.headers_for(world.admin.id)
    for value in (60, 45, 50):
        response = await api.client().put(
            "/configuration/pass_percentage", json={"value": value}, headers=headers
        )
        assert response.status_code == 200, response.text
