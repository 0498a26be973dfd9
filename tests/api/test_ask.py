"""POST /api/v1/ask and GET /api/v1/ask/catalogue on the real app and database: curated
questions without an LLM, plain-language ones through a fake model, the examiner's colleges
only, the SQL shown, and the audit row."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from newspeech.ask.deps import get_ask_llm
from newspeech.llm.client import OpenAIChatClient
from newspeech.models import AuditLog
from tests.ask.conftest import API_KEY
from tests.fixtures.analysis_world import build_analysis_world
from tests.fixtures.api import Api
from tests.fixtures.openai_chat_server import ChatServerScript, create_chat_app
from tests.fixtures.openai_tts_server import serving
from tests.fixtures.world import World, build_world


@pytest.fixture
async def world(api: Api) -> World:
    async with api.sessionmaker() as db:
        return await build_world(db)


@pytest.fixture
async def script(api: Api) -> AsyncIterator[ChatServerScript]:
    """A fake model the app asks (the ``get_ask_llm`` dependency overridden)."""
    script = ChatServerScript(api_key=API_KEY, model="fake-sql-writer")
    async with serving(create_chat_app(script)) as url:
        client = OpenAIChatClient(url, model=script.model, api_key=API_KEY, retries=0)
        api.app.dependency_overrides[get_ask_llm] = lambda: client
        try:
            yield script
        finally:
            api.app.dependency_overrides.pop(get_ask_llm, None)
            await client.aclose()


async def test_curated_question_answers_with_the_examiners_college_only(
    api: Api, world: World
) -> None:
    headers = await api.headers_for(world.examiner.id)
    body = {"curated": "pass_rate_by_college"}
    response = await api.client().post("/ask", json=body, headers=headers)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["columns"] == ["college", "results", "pass_rate"]
    assert [row[0] for row in answer["rows"]] == ["medical"]
    assert answer["row_count"] == 1
    assert answer["chart"] == "bar"
    assert "IN ('medical')" in answer["sql"]
    assert answer["source"] == "curated:pass_rate_by_college"


async def test_admin_sees_every_college_and_the_question_is_audited(api: Api, world: World) -> None:
    headers = await api.headers_for(world.admin.id)
    body = {"curated": "lowest_mean_mark_per_question", "parameters": {"college": "law"}}
    response = await api.client().post("/ask", json=body, headers=headers)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert [row[2] for row in answer["rows"]] == [7.0, 7.0, 7.0]
    async with api.sessionmaker() as db:
        row = await db.scalar(select(AuditLog).where(AuditLog.action == "ask.query"))
    assert row is not None
    assert row.user_id == world.admin.id
    assert row.details is not None
    assert row.details["sql"] == answer["sql"]
    assert row.details["rows"] == 3
    assert "college=law" in row.details["question"]


async def test_plain_question_without_an_llm_points_to_curated_questions(
    api: Api, world: World
) -> None:
    headers = await api.headers_for(world.examiner.id)
    response = await api.client().post("/ask", json={"question": "pass rate?"}, headers=headers)
    assert response.status_code == 422
    assert response.json()["error"] == "validation_failed"
    assert "curated" in response.json()["detail"]


async def test_plain_question_runs_the_models_checked_sql(
    api: Api, world: World, script: ChatServerScript
) -> None:
    script.replies.append(
        json.dumps({"sql": "SELECT college, COUNT(*) AS n FROM answers GROUP BY college"})
    )
    headers = await api.headers_for(world.examiner.id)
    question = {"question": "How many answers per college?"}
    response = await api.client().post("/ask", json=question, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["rows"] == [["medical", 3]]
    assert response.json()["source"] == "llm"
    assert "How many answers per college?" in json.dumps(script.requests[-1]["messages"])


async def test_refused_sql_answers_with_its_code_and_leaves_a_failure_row(
    api: Api, world: World, script: ChatServerScript
) -> None:
    script.replies.append(json.dumps({"sql": "SELECT email, hashed_password FROM users"}))
    headers = await api.headers_for(world.examiner.id)
    response = await api.client().post("/ask", json={"question": "who?"}, headers=headers)
    assert response.status_code == 422
    assert response.json()["error"] == "query_unknown_source"
    async with api.sessionmaker() as db:
        statuses = list(
            await db.scalars(select(AuditLog.status).where(AuditLog.action.like("%ask%")))
        )
    assert "success" not in statuses


async def test_catalogue_lists_views_columns_and_curated_questions(api: Api, world: World) -> None:
    headers = await api.headers_for(world.examiner.id)
    response = await api.client().get("/ask/catalogue", headers=headers)
    assert response.status_code == 200
    body = response.json()
    assert [view["name"] for view in body["views"]][:3] == ["colleges", "exam_sessions", "answers"]
    assert body["llm_configured"] is False
    assert "pass_rate_by_week" in {q["key"] for q in body["curated"]}


CATALOGUE_VIEWS = {
    "examiner": ["colleges", "exam_sessions", "answers", "results", "item_statistics"],
    "analyst": [
        "transcriptions",
        "reports",
        "report_runs",
        "job_stages",
        "report_outputs",
        "dictionaries",
    ],
}


@pytest.mark.parametrize("role", ["examiner", "analyst", "admin"])
async def test_catalogue_lists_what_each_role_may_ask(api: Api, world: World, role: str) -> None:
    user = world.user(role)
    assert user is not None
    response = await api.client().get("/ask/catalogue", headers=await api.headers_for(user.id))
    assert response.status_code == 200, response.text
    body = response.json()
    views = [view["name"] for view in body["views"]]
    expected = CATALOGUE_VIEWS.get(role, CATALOGUE_VIEWS["examiner"] + CATALOGUE_VIEWS["analyst"])
    assert views == expected
    keys = {q["key"] for q in body["curated"]}
    assert ("reports_mentioning" in keys) == (role != "examiner")
    assert ("pass_rate_by_week" in keys) == (role != "analyst")
    assert all(c["description"] for view in body["views"] for c in view["columns"])


async def test_a_student_may_not_ask(api: Api, world: World) -> None:
    headers = await api.headers_for(world.student.id)
    response = await api.client().post(
        "/ask", json={"curated": "pass_rate_by_college"}, headers=headers
    )
    assert response.status_code == 403


async def test_an_analyst_asks_about_spa_audits_and_is_audited(api: Api, world: World) -> None:
    async with api.sessionmaker() as db:
        analysis = await build_analysis_world(db)
    headers = await api.headers_for(world.analyst.id)
    body = {
        "curated": "reports_mentioning",
        "parameters": {"building_type": "spa", "city": "Lyon", "word": "ventilation"},
    }
    response = await api.client().post("/ask", json=body, headers=headers)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert sorted(row[0] for row in answer["rows"]) == sorted(analysis.spa_lyon_ventilation)
    assert "'%ventilation%'" in answer["sql"]
    async with api.sessionmaker() as db:
        row = await db.scalar(select(AuditLog).where(AuditLog.action == "ask.query"))
    assert row is not None
    assert row.user_id == world.analyst.id
    assert row.details is not None
    assert row.details["rows"] == 2


async def test_an_analysts_exam_question_is_refused_and_audited(api: Api, world: World) -> None:
    headers = await api.headers_for(world.analyst.id)
    body = {"curated": "pass_rate_by_college"}
    response = await api.client().post("/ask", json=body, headers=headers)
    assert response.status_code == 403
    assert response.json()["error"] == "query_out_of_scope"
    async with api.sessionmaker() as db:
        row = await db.scalar(select(AuditLog).where(AuditLog.action == "ask.refused"))
    assert row is not None
    assert row.user_id == world.analyst.id
    assert row.status == "query_out_of_scope"


@pytest.mark.parametrize(
    ("curated", "parameters", "message"),
    [
        ("lowest_mean_mark_since", {"college": "medical", "since": "last term"}, "date"),
        ("reports_mentioning", {"building_type": "spa", "city": "Lyon", "word": "50%"}, "letters"),
        ("dictionary_entries", {"dictionary": "users"}, "one of"),
        ("pass_rate_by_week", {"college": "med'ical"}, "college code"),
        ("pass_rate_by_week", {}, "needs"),
    ],
)
async def test_bad_curated_parameters_are_422(
    api: Api, world: World, curated: str, parameters: dict[str, str], message: str
) -> None:
    headers = await api.headers_for(world.admin.id)
    body = {"curated": curated, "parameters": parameters}
    response = await api.client().post("/ask", json=body, headers=headers)
    assert response.status_code == 422, response.text
    assert message in response.json()["detail"]
