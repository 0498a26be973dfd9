"""The routing record: the scenario, report types and building type an analyst chose on their
last upload, offered as the default next time. Per user, written race-free, on every backend."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import func, select

from newspeech.analysis.cli import DEFAULT_PROMPTS
from newspeech.analysis.prompt_tree import read_prompt_tree
from newspeech.analysis.routing.service import RoutingDesk
from newspeech.analysis.service import PromptSync
from newspeech.models import RoutingChoice, Scenario, User, UserRole
from tests.fixtures.api import Api
from tests.fixtures.factories import make_user
from tests.fixtures.recordings import encode, shared_pcm


@pytest.fixture(scope="module")
def wav(shared_dir: Path) -> bytes:
    return encode(shared_pcm(shared_dir), "wav")


async def _analysts(api: Api, count: int) -> list[User]:
    async with api.sessionmaker() as db:
        await PromptSync(db).sync(read_prompt_tree(DEFAULT_PROMPTS), origin="test")
        users = [
            await make_user(db, role=UserRole.ANALYST, college_type=None) for _ in range(count)
        ]
        await db.commit()
    return users


async def _upload(api: Api, user: User, wav: bytes, **fields: object) -> None:
    response = await api.client().post(
        "/analysis/recordings",
        headers=await api.headers_for(user.id),
        data=fields,
        files={"file": ("visit.wav", wav, "audio/wav")},
    )
    assert response.status_code == 201, response.text


async def _routing(api: Api, user: User) -> dict[str, object]:
    response = await api.client().get("/analysis/routing", headers=await api.headers_for(user.id))
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


async def test_each_upload_becomes_that_analysts_next_default(api: Api, wav: bytes) -> None:
    ana, ben = await _analysts(api, 2)
    assert (await _routing(api, ana))["scenario"] is None

    await _upload(
        api, ana, wav, scenario="design", report_types=["site-audit"], building_type="SPA"
    )
    first = await _routing(api, ana)
    await _upload(api, ana, wav, scenario="interview", report_types=["client-brief"])
    second = await _routing(api, ana)

    assert (first["scenario"], first["report_types"], first["building_type"]) == (
        "design",
        ["site-audit"],
        "Spa",
    )
    assert (second["scenario"], second["report_types"], second["building_type"]) == (
        "interview",
        ["client-brief"],
        None,
    )
    # Another analyst's default is their own.
    assert (await _routing(api, ben))["scenario"] is None
    async with api.sessionmaker() as db:
        assert await db.scalar(select(func.count()).select_from(RoutingChoice)) == 1


async def test_a_choice_can_be_set_without_uploading(api: Api) -> None:
    [ana] = await _analysts(api, 1)
    headers = await api.headers_for(ana.id)

    response = await api.client().put(
        "/analysis/routing",
        headers=headers,
        json={"scenario": "Design", "report_types": ["site-audit"], "building_type": "hotel"},
    )

    assert response.status_code == 200, response.text
    assert response.json() | {"updated_at": None} == {
        "scenario": "design",
        "report_types": ["site-audit"],
        "building_type": "Hotel",
        "updated_at": None,
    }
    assert (await _routing(api, ana))["building_type"] == "Hotel"


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"scenario": "kitchen"}, "no scenario 'kitchen'"),
        (
            {"scenario": "design", "report_types": ["client-brief"]},
            "scenario 'design' has no report type 'client-brief'",
        ),
        ({"scenario": "design", "building_type": "castle"}, "no building type 'castle'"),
    ],
)
async def test_an_unknown_name_is_404_and_the_last_choice_stays(
    api: Api, body: dict[str, object], detail: str
) -> None:
    [ana] = await _analysts(api, 1)
    headers = await api.headers_for(ana.id)
    kept = {"scenario": "interview", "report_types": ["client-brief"], "building_type": None}
    assert (await api.client().put("/analysis/routing", headers=headers, json=kept)).is_success

    response = await api.client().put("/analysis/routing", headers=headers, json=body)

    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "detail": detail}
    now = await _routing(api, ana)
    assert (now["scenario"], now["report_types"]) == ("interview", ["client-brief"])


async def test_a_bad_body_is_422(api: Api) -> None:
    [ana] = await _analysts(api, 1)
    headers = await api.headers_for(ana.id)
    for body in ({}, {"scenario": ""}, {"scenario": "design", "other": 1}):
        response = await api.client().put("/analysis/routing", headers=headers, json=body)
        assert response.status_code == 422, body


async def test_choices_written_at_once_leave_one_row_and_no_error(api: Api) -> None:
    """Two uploads of one analyst finishing together: the first write inserts the row, and
    neither sees a duplicate key (the insert ignores it, then both update)."""
    [ana] = await _analysts(api, 1)
    async with api.sessionmaker() as db:
        scenarios = dict((await db.execute(select(Scenario.key, Scenario.id))).all())

    async def write(scenario: str, keys: list[str]) -> None:
        async with api.sessionmaker() as db:
            await RoutingDesk(db).record(ana.id, scenarios[scenario], keys, None)
            await db.commit()

    for _ in range(3):
        await asyncio.gather(write("design", ["site-audit"]), write("interview", ["client-brief"]))

    async with api.sessionmaker() as db:
        rows = list(await db.scalars(select(RoutingChoice)))
    assert len(rows) == 1
    assert (rows[0].scenario_id, rows[0].report_types) in [
        (scenarios["design"], ["site-audit"]),
        (scenarios["interview"], ["client-brief"]),
    ]
