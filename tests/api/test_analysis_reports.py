"""Reports API (issue 17) on every database: list and filter reports by their metadata,
download a run as PDF or Markdown, re-run a report (a new run; the old ones stay), see a run's
LLM calls, and which report types need the LLM. The LLM is the wire-faithful fake server."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pypdf
import pytest

from newspeech.analysis.jobs.broker import JobKicker
from newspeech.analysis.jobs.runner import JobRunner, StagePolicy
from newspeech.analysis.reports.chains import PromptChain
from newspeech.kit.http_retry import Backoff
from newspeech.llm import OpenAIChatClient
from newspeech.models import UserRole
from tests.fixtures.analysis_chains import (
    SUMMARY,
    model_answer,
    sync_prompts,
    transcribed_piece,
    write_prompt_tree,
)
from tests.fixtures.api import Api
from tests.fixtures.factories import make_user
from tests.fixtures.openai_chat_server import ChatServerScript, create_chat_app
from tests.fixtures.openai_tts_server import serving

API_KEY = "sk-reports-test-0123456789"
MODEL = "analysis-model"


@pytest.fixture(scope="module")
def script() -> ChatServerScript:
    return ChatServerScript(api_key=API_KEY)


@pytest.fixture(scope="module")
async def base_url(script: ChatServerScript) -> AsyncIterator[str]:
    async with serving(create_chat_app(script)) as url:
        yield url


@pytest.fixture
async def analyst(api: Api, tmp_path: Path) -> dict[str, str]:
    async with api.sessionmaker() as db:
        await sync_prompts(db, write_prompt_tree(tmp_path / "prompts"))
        user = await make_user(db, role=UserRole.ANALYST, college_type=None)
        await db.commit()
    return await api.headers_for(user.id)


@pytest.fixture
async def with_llm(
    api: Api, script: ChatServerScript, base_url: str, tmp_path: Path
) -> AsyncIterator[JobRunner]:
    """The app configured with the fake LLM, running jobs itself (the in-process broker)."""
    script.reset()
    script.answer = model_answer
    settings = api.app.state.settings
    api.app.state.settings = settings.model_copy(
        update={"llm_api_url": base_url, "llm_model": MODEL}
    )
    async with httpx.AsyncClient() as http:
        client = OpenAIChatClient(
            base_url,
            model=MODEL,
            api_key=API_KEY,
            client=http,
            backoff=Backoff(base_seconds=0.01, max_seconds=0.01),
        )
        runner = _runner(api, tmp_path, PromptChain(client))
        api.app.state.analysis_runner = runner
        try:
            yield runner
        finally:
            api.app.state.analysis_runner = None
            api.app.state.settings = settings


def _runner(api: Api, tmp_path: Path, chain: PromptChain | None) -> JobRunner:
    return JobRunner(
        api.sessionmaker,
        api.app.state.audio_store,
        None,  # type: ignore[arg-type]  # report stages need no speech engines
        work_dir=tmp_path / "work",
        policy=StagePolicy(attempts=2, retry_seconds=0.0, timeout_seconds=60.0),
        chain=chain,
    )


async def _settle(api: Api) -> None:
    kicker: JobKicker = api.app.state.analysis_jobs
    for _ in range(100):
        await kicker.broker.wait_all()  # type: ignore[attr-defined]
        if not kicker.broker._running_tasks:  # type: ignore[attr-defined]
            return
    raise AssertionError("the in-process broker never went quiet")


async def _recording(api: Api, runner: JobRunner, **metadata: Any) -> int:
    async with api.sessionmaker() as db:
        recording_id, job_id = await transcribed_piece(db, **metadata)
    await runner.run_to_end(job_id)
    return recording_id


async def _list(api: Api, headers: dict[str, str], **filters: str) -> list[tuple[int, str]]:
    response = await api.client().get("/analysis/reports", headers=headers, params=filters)
    assert response.status_code == 200, response.text
    return sorted((r["recording_id"], r["report_type"]) for r in response.json()["items"])


async def test_reports_are_listed_and_filtered_by_their_metadata(
    api: Api, analyst: dict[str, str], with_llm: JobRunner
) -> None:
    hotel = await _recording(api, with_llm)
    spa = await _recording(
        api,
        with_llm,
        building_type="Spa",
        place="Spa Bleu",
        city="Paris",
        zone="Pool",
        employee="Bob Stone",
        client="Wellness Co",
        recorded_on=dt.date(2026, 12, 2),
    )
    bare = await _recording(
        api,
        with_llm,
        report_types=(),
        building_type=None,
        place=None,
        city=None,
        zone=None,
        employee=None,
        client=None,
        recorded_on=dt.date(2026, 12, 5),
    )
    everything = [
        (hotel, "client-brief"),
        (hotel, "transcript"),
        (spa, "client-brief"),
        (spa, "transcript"),
        (bare, "transcript"),
    ]

    assert await _list(api, analyst) == everything
    assert await _list(api, analyst, scenario="Interview") == everything
    hotel_reports = [(hotel, "client-brief"), (hotel, "transcript")]
    spa_reports = [(spa, "client-brief"), (spa, "transcript")]
    assert await _list(api, analyst, place="grand  HOTEL") == hotel_reports
    assert await _list(api, analyst, city="paris") == spa_reports
    assert await _list(api, analyst, zone="Lobby") == hotel_reports
    assert await _list(api, analyst, building_type="spa") == spa_reports
    assert await _list(api, analyst, employee="Ada Field") == hotel_reports
    assert await _list(api, analyst, client="wellness co") == spa_reports
    assert await _list(api, analyst, report_type="transcript") == [
        (hotel, "transcript"),
        (spa, "transcript"),
        (bare, "transcript"),
    ]
    assert await _list(api, analyst, date_from="2026-12-01") == [
        *spa_reports,
        (bare, "transcript"),
    ]
    assert await _list(api, analyst, date_from="2026-12-01", date_to="2026-12-04") == spa_reports
    assert await _list(api, analyst, date_to="2026-11-30") == hotel_reports
    # The spa has no prompts in the registry: its brief failed, and says why.
    assert await _list(api, analyst, status="failed") == [(spa, "client-brief")]
    assert await _list(api, analyst, city="Paris", report_type="client-brief") == [
        (spa, "client-brief")
    ]
    assert await _list(api, analyst, place="Nowhere") == []
    listed = await api.client().get(
        "/analysis/reports", headers=analyst, params={"status": "failed"}
    )
    failed = listed.json()["items"][0]
    assert failed["error"] == "this report type has no prompts for the recording's building type"
    assert (failed["place"], failed["city"], failed["building_type"]) == (
        "Spa Bleu",
        "Paris",
        "Spa",
    )
    assert failed["needs_llm"] is True
    for bad in ({"date_from": "yesterday"}, {"status": "lost"}, {"sort": "place"}):
        response = await api.client().get("/analysis/reports", headers=analyst, params=bad)
        assert response.status_code == 422, bad
    async with api.sessionmaker() as db:
        student = await make_user(db, role=UserRole.STUDENT)
        await db.commit()
    denied = await api.client().get("/analysis/reports", headers=await api.headers_for(student.id))
    assert denied.status_code == 403


async def test_a_report_downloads_and_a_rerun_adds_a_run_keeping_the_old_one(
    api: Api,
    analyst: dict[str, str],
    with_llm: JobRunner,
    script: ChatServerScript,
    tmp_path: Path,
) -> None:
    hotel = await _recording(api, with_llm)
    client = api.client()
    (brief,) = (
        await client.get(
            "/analysis/reports",
            headers=analyst,
            params={"recording_id": hotel, "report_type": "client-brief"},
        )
    ).json()["items"]
    url = f"/analysis/reports/{brief['id']}"

    pdf = await client.get(f"{url}/download", headers=analyst)
    markdown = await client.get(f"{url}/download", headers=analyst, params={"format": "md"})
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"] == (
        f'attachment; filename="report-{brief["id"]}-run-1.pdf"'
    )
    assert "brighter lobby" in pypdf.PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
    assert markdown.headers["content-type"].startswith("text/markdown")
    assert "## 1. Summary" in markdown.text
    assert "brighter lobby" in markdown.text

    second = "## Goals\nA second reading: the client wants a new reception desk."

    def answer(body: dict[str, Any]) -> str:
        return second if not body.get("response_format") else model_answer(body)

    script.answer = answer
    # The summary prompt is edited in between: the re-run uses its new version.
    (tmp_path / "prompts/interview/client-brief/hotel/part 1 summary.md").write_text(
        "Summarise what the client wants, in three lines.\n"
    )
    async with api.sessionmaker() as db:
        await sync_prompts(db, tmp_path / "prompts")
    rerun = await client.post(f"{url}/runs", headers=analyst)
    assert rerun.status_code == 202, rerun.text
    assert rerun.json()["run"]["number"] == 2
    await _settle(api)

    detail = (await client.get(url, headers=analyst)).json()
    assert [(r["number"], r["status"], r["model"]) for r in detail["runs"]] == [
        (1, "done", MODEL),
        (2, "done", MODEL),
    ]
    assert detail["status"] == "ready"
    assert "new reception desk" in detail["markdown"]
    assert "<h3>Goals</h3>" in detail["html"]
    assert "new reception desk" in detail["html"]
    first = await client.get(f"{url}/download", headers=analyst, params={"format": "md", "run": 1})
    latest = await client.get(f"{url}/download", headers=analyst, params={"format": "md"})
    assert "brighter lobby" in first.text
    assert "reception desk" not in first.text
    assert "new reception desk" in latest.text
    calls = (await client.get(f"{url}/runs/2/calls", headers=analyst)).json()
    assert [(c["purpose"], c["stage_attempt"]) for c in calls] == [("part", 1), ("part", 1)]
    assert calls[0]["raw_output"] == second
    assert calls[1]["parsed"]["budget_eur"] == 200000
    assert json.loads(calls[1]["raw_output"]) == calls[1]["parsed"]
    first_calls = (await client.get(f"{url}/runs/1/calls", headers=analyst)).json()
    assert first_calls[0]["raw_output"] == SUMMARY
    # Run 2 names the summary's second version (sent in full); the facts prompt is unchanged.
    assert calls[0]["prompt_version_id"] != first_calls[0]["prompt_version_id"]
    assert calls[1]["prompt_version_id"] == first_calls[1]["prompt_version_id"]
    assert calls[0]["input_sha256"] != first_calls[0]["input_sha256"]
    assert "in three lines" in script.requests[-2]["messages"][1]["content"]
    missing = await client.get(f"{url}/download", headers=analyst, params={"run": 3})
    assert missing.status_code == 404


async def test_without_an_llm_the_api_says_which_report_types_need_it(
    api: Api, analyst: dict[str, str], tmp_path: Path
) -> None:
    runner = _runner(api, tmp_path, None)
    api.app.state.analysis_runner = runner
    try:
        hotel = await _recording(api, runner)
        client = api.client()
        types = (await client.get("/analysis/reports/types", headers=analyst)).json()
        reports = {
            r["report_type"]: r
            for r in (
                await client.get(
                    "/analysis/reports", headers=analyst, params={"recording_id": hotel}
                )
            ).json()["items"]
        }
        refused = await client.post(
            f"/analysis/reports/{reports['client-brief']['id']}/runs", headers=analyst
        )
        again = await client.post(
            f"/analysis/reports/{reports['transcript']['id']}/runs", headers=analyst
        )
        await _settle(api)
        transcript = (
            await client.get(f"/analysis/reports/{reports['transcript']['id']}", headers=analyst)
        ).json()
        no_run = await client.get(
            f"/analysis/reports/{reports['client-brief']['id']}/download", headers=analyst
        )
    finally:
        api.app.state.analysis_runner = None

    assert types["llm_configured"] is False
    by_key = {t["key"]: t for t in types["report_types"]}
    assert by_key["client-brief"] == {
        "scenario": "interview",
        "key": "client-brief",
        "name": "Client brief",
        "needs_llm": True,
        "available": False,
        "building_types": ["hotel"],
    }
    assert (by_key["transcript"]["needs_llm"], by_key["transcript"]["available"]) == (False, True)
    assert reports["client-brief"]["status"] == "failed"
    assert "NEWSPEECH_LLM_API_URL" in reports["client-brief"]["error"]
    assert reports["transcript"]["status"] == "ready"
    assert refused.status_code == 409
    assert "NEWSPEECH_LLM_API_URL" in refused.json()["detail"]
    assert again.status_code == 202
    assert [(r["number"], r["status"], r["model"]) for r in transcript["runs"]] == [
        (1, "done", None),
        (2, "done", None),
    ]
    assert "**[00:00] Speaker:** What would you like" in transcript["markdown"]
    assert no_run.status_code == 404
