"""The prompt registry's read API (recording analysis, issue 17)."""

from __future__ import annotations

import shutil
from pathlib import Path

from newspeech.analysis.cli import DEFAULT_PROMPTS
from newspeech.analysis.prompt_tree import read_prompt_tree
from newspeech.analysis.service import PromptSync
from newspeech.models import UserRole
from tests.fixtures.api import Api
from tests.fixtures.factories import make_user

SPA_FINDINGS = "design/site-audit/spa/part 1 findings by zone.md"


async def _sync(api: Api, folder: Path) -> None:
    async with api.sessionmaker() as db:
        await PromptSync(db).sync(read_prompt_tree(folder), origin=str(folder))
        await db.commit()


async def _admin_headers(api: Api) -> dict[str, str]:
    async with api.sessionmaker() as db:
        admin = await make_user(db, role=UserRole.ADMIN, college_type=None)
        await db.commit()
    return await api.headers_for(admin.id)


async def test_admin_lists_the_prompts_of_a_building_type_in_chain_order(api: Api) -> None:
    await _sync(api, DEFAULT_PROMPTS)
    client = api.client()
    headers = await _admin_headers(api)

    everything = await client.get("/analysis/prompts", headers=headers)
    spa_audit = await client.get(
        "/analysis/prompts",
        params={"scenario": "design", "building_type": "Spa"},
        headers=headers,
    )

    assert everything.status_code == 200
    assert len(everything.json()) == 18
    assert [
        (p["report_type"]["key"], p["run_part"], p["title"], p["returns_json"])
        for p in spa_audit.json()
    ] == [
        ("site-audit", 1, "Findings by zone", False),
        ("site-audit", 2, "Issues", True),
        ("site-audit", 3, "Recommendations", False),
    ]
    first = spa_audit.json()[0]
    assert first["scenario"] == {"key": "design", "name": "Design"}
    assert first["report_type"] == {"key": "site-audit", "name": "Site audit"}
    assert (first["latest_version"], first["is_active"]) == (1, True)


async def test_versions_and_diff_show_an_edit_made_by_a_sync(api: Api, tmp_path: Path) -> None:
    tree = Path(shutil.copytree(DEFAULT_PROMPTS, tmp_path / "prompts"))
    await _sync(api, tree)
    path = tree / SPA_FINDINGS
    path.write_text(path.read_text().replace("Staff remarks", "Staff and client remarks"))
    await _sync(api, tree)
    client = api.client()
    headers = await _admin_headers(api)
    listed = await client.get(
        "/analysis/prompts", params={"building_type": "spa", "scenario": "design"}, headers=headers
    )
    prompt = listed.json()[0]

    versions = await client.get(f"/analysis/prompts/{prompt['id']}/versions", headers=headers)
    diff = await client.get(
        f"/analysis/prompts/{prompt['id']}/diff",
        params={"from_version": 1, "to_version": 2},
        headers=headers,
    )

    assert prompt["latest_version"] == 2
    assert [v["version"] for v in versions.json()] == [1, 2]
    assert "**Staff remarks**" in versions.json()[0]["text"]
    assert "**Staff and client remarks**" in versions.json()[1]["text"]
    assert versions.json()[1]["source"].endswith(SPA_FINDINGS)
    assert diff.status_code == 200
    body = diff.json()
    assert body["unified_diff"].startswith("--- version 1\n+++ version 2\n")
    assert "+- **Staff and client remarks**" in body["unified_diff"]
    assert body["schema_changed"] is False


async def test_retired_prompts_are_listed_only_when_asked(api: Api, tmp_path: Path) -> None:
    tree = Path(shutil.copytree(DEFAULT_PROMPTS, tmp_path / "prompts"))
    await _sync(api, tree)
    (tree / "design/site-audit/spa/part 3 recommendations.md").unlink()
    await _sync(api, tree)
    client = api.client()
    headers = await _admin_headers(api)
    query = {"building_type": "spa", "report_type": "site-audit"}

    active = await client.get("/analysis/prompts", params=query, headers=headers)
    every = await client.get(
        "/analysis/prompts", params={**query, "include_retired": True}, headers=headers
    )

    assert [p["run_part"] for p in active.json()] == [1, 2]
    assert [(p["run_part"], p["is_active"]) for p in every.json()] == [
        (1, True),
        (2, True),
        (3, False),
    ]


async def test_unknown_prompts_and_versions_are_not_found(api: Api) -> None:
    await _sync(api, DEFAULT_PROMPTS)
    client = api.client()
    headers = await _admin_headers(api)
    prompt_id = (await client.get("/analysis/prompts", headers=headers)).json()[0]["id"]

    missing_prompt = await client.get("/analysis/prompts/999999/versions", headers=headers)
    missing_version = await client.get(
        f"/analysis/prompts/{prompt_id}/diff",
        params={"from_version": 1, "to_version": 7},
        headers=headers,
    )
    unknown_key = await client.get(
        "/analysis/prompts", params={"building_type": "castle"}, headers=headers
    )

    assert missing_prompt.status_code == 404
    assert missing_prompt.json() == {"error": "not_found", "detail": "prompt 999999 does not exist"}
    assert missing_version.status_code == 404
    assert missing_version.json()["detail"] == f"prompt {prompt_id} has no version 7"
    assert unknown_key.json() == []
