"""The input contract at the edge: each bad input that once answered 500 now gets a clear 4xx
with the usual error body, and nothing already stored changes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from newspeech.app import create_app
from newspeech.config import Settings
from newspeech.kit.http_range import parse_range
from newspeech.models import AuditLog, ConfigEntry, Question
from newspeech.system.input_contract import JSON_LIMIT, UPLOAD_LIMIT
from tests.fixtures.api import Api
from tests.fixtures.world import PASSWORD, World, build_world

TOO_BIG = 2**63
QUESTION: dict[str, Any] = {
    "college_type": "medical",
    "scenario_id": 7,
    "question_number": 1,
    "scenario_name": "Chest pain",
    "question_text": "What is the first investigation?",
    "keywords": [{"term": "ecg", "synonyms": ["electrocardiogram"], "weight": 2}],
}


async def _world(api: Api) -> World:
    async with api.sessionmaker() as db:
        return await build_world(db)


def _refused(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"] == code


def test_every_integer_parameter_and_body_field_is_bounded(settings: Settings) -> None:
    """Ids (path and filter) and every integer a request carries have a maximum, so no value
    reaches the database outside its column's range."""
    spec = create_app(settings).openapi()
    schemas = spec["components"]["schemas"]
    unbounded: list[str] = []

    def walk(schema: dict[str, Any], where: str, seen: frozenset[str]) -> None:
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            if name not in seen:
                walk(schemas[name], f"{where}.{name}", seen | {name})
            return
        if schema.get("type") == "integer" and "maximum" not in schema:
            unbounded.append(where)
        for key in ("anyOf", "oneOf", "allOf"):
            for child in schema.get(key, []):
                walk(child, where, seen)
        for name, child in schema.get("properties", {}).items():
            walk(child, f"{where}.{name}", seen)
        if isinstance(schema.get("items"), dict):
            walk(schema["items"], f"{where}[]", seen)

    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                walk(parameter["schema"], f"{method} {path} {parameter['name']}", frozenset())
            for content in operation.get("requestBody", {}).get("content", {}).values():
                walk(content["schema"], f"{method} {path} body", frozenset())
    assert unbounded == []


@pytest.mark.parametrize(
    "path",
    [
        f"/users/{TOO_BIG}",
        f"/questions/{TOO_BIG}",
        f"/results/{TOO_BIG}",
        f"/exam-sessions/{TOO_BIG}",
        f"/answers/{TOO_BIG}/audio",
        f"/results?user_id={TOO_BIG}",
        f"/audit-logs?resource_id={TOO_BIG}",
        f"/questions?scenario_id={2**31}",
        "/users/0",
    ],
)
async def test_ids_outside_their_columns_range_are_422(api: Api, path: str) -> None:
    world = await _world(api)
    client = api.client()
    response = await client.get(path, headers=await api.headers_for(world.admin.id))
    _refused(response, 422, "validation_failed")


@pytest.mark.parametrize(
    "text", [r"nul\u0000byte", r"bell\u0007", r"escape\u001b[0m", r"c1\u0085", r"lone \ud800"]
)
async def test_unauthenticated_login_with_control_characters_is_422(api: Api, text: str) -> None:
    await _world(api)
    body = f'{{"username": "{text}", "password": "{PASSWORD}"}}'.encode()
    response = await api.client().post(
        "/auth/login", content=body, headers={"content-type": "application/json"}
    )
    _refused(response, 422, "validation_failed")
    assert response.json()["detail"][0]["loc"] == ["body", "username"]


async def test_control_characters_anywhere_in_a_request_are_422(api: Api) -> None:
    world = await _world(api)
    client = api.client()
    headers = await api.headers_for(world.admin.id)
    nested = QUESTION | {"keywords": [{"term": "ecg", "synonyms": ["a\x00b"]}]}
    for response in (
        await client.post(
            "/questions", json=QUESTION | {"question_text": "x\x00y"}, headers=headers
        ),
        await client.post("/questions", json=nested, headers=headers),
        await client.post("/questions", json=QUESTION | {"bad\x01key": 1}, headers=headers),
        await client.get("/users", params={"q": "a\x00"}, headers=headers),
        await client.get("/users/%00", headers=headers),
    ):
        _refused(response, 422, "validation_failed")
    async with api.sessionmaker() as db:
        assert await db.scalar(select(Question).where(Question.scenario_id == 7)) is None


async def test_a_refused_change_with_a_nul_in_its_path_is_audited_printably(api: Api) -> None:
    world = await _world(api)
    response = await api.client().put(
        "/configuration/pass%00percentage",
        json={"value": 60},
        headers=await api.headers_for(world.admin.id),
    )
    _refused(response, 422, "validation_failed")
    async with api.sessionmaker() as db:
        refused = await db.scalar(
            select(AuditLog).where(AuditLog.action == "request.refused").order_by(AuditLog.id)
        )
    assert refused is not None
    assert refused.details is not None
    assert refused.details["path"] == "/api/v1/configuration/pass\ufffdpercentage"


async def test_text_with_tabs_and_newlines_is_kept(api: Api) -> None:
    world = await _world(api)
    created = await api.client().post(
        "/questions",
        json=QUESTION | {"model_answer": "First:\tECG\r\nThen: troponin"},
        headers=await api.headers_for(world.admin.id),
    )
    assert created.status_code == 201, created.text
    assert created.json()["model_answer"] == "First:\tECG\r\nThen: troponin"


async def test_deeply_nested_json_is_refused(api: Api) -> None:
    await _world(api)
    client = api.client()
    deep = b'{"username": ' + b"[" * 40 + b"]" * 40 + b', "password": "x"}'
    response = await client.post(
        "/auth/login", content=deep, headers={"content-type": "application/json"}
    )
    _refused(response, 422, "validation_failed")
    abyss = b"[" * 200_000 + b"]" * 200_000
    response = await client.post(
        "/auth/login", content=abyss, headers={"content-type": "application/json"}
    )
    assert 400 <= response.status_code < 500


async def test_bodies_over_the_limit_are_413(api: Api) -> None:
    world = await _world(api)
    client = api.client()
    padding = "x" * JSON_LIMIT
    response = await client.post("/auth/login", json={"username": padding, "password": "p"})
    _refused(response, 413, "payload_too_large")

    async def chunks() -> Any:  # no Content-Length: counted as it arrives
        for _ in range(JSON_LIMIT // 65536 + 2):
            yield b" " * 65536

    streamed = await client.post(
        "/auth/login", content=chunks(), headers={"content-type": "application/json"}
    )
    _refused(streamed, 413, "payload_too_large")
    upload = await client.post(
        "/question-banks/import",
        files={"file": ("bank.csv", b"a" * (UPLOAD_LIMIT + 1), "text/csv")},
        headers=await api.headers_for(world.admin.id),
    )
    _refused(upload, 413, "payload_too_large")


@pytest.mark.parametrize(
    "value",
    [
        "A",
        [90, 80],
        {"A": "ninety"},
        {"A": True},
        {"A": 190},
        {"A": -5},
        {"AA": 90},
        {"A": 90, "B": 90},
        {"F": 60},
        {"1": 60},
    ],
)
async def test_a_bad_grade_thresholds_value_is_422_and_nothing_changes(
    api: Api, value: object
) -> None:
    world = await _world(api)
    response = await api.client().put(
        "/configuration/grade_thresholds",
        json={"value": value},
        headers=await api.headers_for(world.admin.id),
    )
    _refused(response, 422, "validation_failed")
    async with api.sessionmaker() as db:
        stored = await db.scalar(
            select(ConfigEntry.config_value).where(ConfigEntry.config_key == "grade_thresholds")
        )
    assert stored == '{"A": 90, "B": 80, "C": 70, "D": 60}'


async def test_nan_is_not_a_configuration_value(api: Api) -> None:
    world = await _world(api)
    response = await api.client().put(
        "/configuration/grade_thresholds",
        content=b'{"value": {"A": NaN}}',
        headers=await api.headers_for(world.admin.id) | {"content-type": "application/json"},
    )
    _refused(response, 422, "validation_failed")


async def test_grading_thresholds_must_stay_ordered(api: Api) -> None:
    world = await _world(api)
    client = api.client()
    headers = await api.headers_for(world.admin.id)
    response = await client.put(
        "/configuration/keyword_partial_threshold", json={"value": 0.9}, headers=headers
    )
    _refused(response, 422, "validation_failed")
    async with api.sessionmaker() as db:
        stored = await db.scalar(
            select(ConfigEntry.config_value).where(
                ConfigEntry.config_key == "keyword_partial_threshold"
            )
        )
    assert stored == "0.5"  # the seed's partial band (a mark of 5 of 10); unchanged
    fine = await client.put(
        "/configuration/keyword_partial_threshold", json={"value": 0.4}, headers=headers
    )
    assert fine.status_code == 200


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("min_answer_duration_seconds", 500),  # not below max_question_duration_seconds (120)
        ("silence_prompt_seconds", 0),
        ("session_time_limit_minutes", -5),
    ],
)
async def test_exam_clock_rules_every_sitting_would_refuse_are_422(
    api: Api, key: str, value: float
) -> None:
    world = await _world(api)
    response = await api.client().put(
        f"/configuration/{key}",
        json={"value": value},
        headers=await api.headers_for(world.admin.id),
    )
    _refused(response, 422, "validation_failed")


@pytest.mark.parametrize(
    "keyword",
    [
        {"term": "st; elevation"},
        {"term": "a = b"},
        {"term": "ecg", "synonyms": ["12|lead"]},
        {"term": "troponin (2)"},
        {"term": "x" * 101},
        {"term": "ecg", "weight": 1.5},
        {"term": "ecg", "weight": 4},
    ],
)
async def test_keywords_are_validated_on_every_write_like_the_importer(
    api: Api, keyword: dict[str, Any]
) -> None:
    world = await _world(api)
    client = api.client()
    headers = await api.headers_for(world.admin.id)
    created = await client.post(
        "/questions", json=QUESTION | {"keywords": [keyword]}, headers=headers
    )
    _refused(created, 422, "validation_failed")
    updated = await client.patch(
        f"/questions/{world.question.id}", json={"keywords": [keyword]}, headers=headers
    )
    _refused(updated, 422, "validation_failed")
    exported = await client.get("/question-banks/medical/export?format=csv", headers=headers)
    assert exported.status_code == 200


def test_a_long_range_header_is_ignored_not_a_500() -> None:
    assert parse_range("bytes=" + "9" * 5000 + "-", 100) is None
    assert parse_range("bytes=0-" + "1" * 19, 100) is None
    assert parse_range("bytes=10-19", 100) == (10, 19)
