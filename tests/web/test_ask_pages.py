"""Asking the data in the analyst workspace (``/analyst``), in real headless Chromium against
the real app on SQLite: curated questions over recording analysis (the issue's "audits of spa
buildings in Lyon that mention ventilation", a bar chart per building type) and a
plain-language question through a fake OpenAI-compatible model, each with its table, chart
and the SQL that ran. The examiner workspace's card is driven in ``test_examiner.py``."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.async_api import Page, expect
from pydantic import SecretStr

from newspeech.app import create_app
from newspeech.config import Settings
from newspeech.db.engine import create_engine, create_sessionmaker
from newspeech.db.migrations import upgrade
from newspeech.models import UserRole
from tests.fixtures.analysis_world import AnalysisWorld, build_analysis_world
from tests.fixtures.factories import FACTORY_PASSWORD, make_user
from tests.fixtures.openai_chat_server import ChatServerScript, create_chat_app
from tests.fixtures.openai_tts_server import serving as serving_fake
from tests.web import browser as web
from tests.web.test_examiner import chart_data

API_KEY = "ask-page-key"


@dataclass(frozen=True)
class Workspace:
    url: str
    analyst: str
    analysis: AnalysisWorld
    script: ChatServerScript


@pytest.fixture(scope="module")
async def workspace(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Workspace]:
    data_dir = tmp_path_factory.mktemp("ask-web")
    script = ChatServerScript(api_key=API_KEY, model="fake-sql-writer")
    async with serving_fake(create_chat_app(script)) as llm_url:
        settings = Settings(
            environment="test",
            data_dir=data_dir,
            database_url=f"sqlite+aiosqlite:///{data_dir / 'ask.db'}",
            speech_enabled=False,
            llm_api_url=llm_url,
            llm_api_key=SecretStr(API_KEY),
            llm_model=script.model,
        )
        engine = create_engine(settings)
        sessionmaker = create_sessionmaker(engine)
        try:
            await upgrade(engine)
            async with sessionmaker() as db:
                analyst = await make_user(db, role=UserRole.ANALYST, college_type=None)
                await db.commit()
                analysis = await build_analysis_world(db)
            async with web.serving(create_app(settings)) as url:
                yield Workspace(url, analyst.username, analysis, script)
        finally:
            await engine.dispose()


async def sign_in(page: Page, workspace: Workspace) -> None:
    await page.goto(f"{workspace.url}/analyst")
    await page.get_by_label("User name or email").fill(workspace.analyst)
    await page.get_by_label("Password").fill(FACTORY_PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("link", name="Ask the data").click()


async def drawn_chart(page: Page) -> dict[str, Any]:
    """The answer's Chart.js chart, once drawn (it is made just after the table)."""
    await page.wait_for_function("() => Chart.getChart(document.getElementById('ask-chart'))")
    return await chart_data(page, "ask-chart")


async def cells(page: Page, column: int) -> list[str]:
    texts: list[str] = await page.locator(
        f"#ask-table tbody tr td:nth-child({column})"
    ).all_inner_texts()
    return texts


async def test_an_analyst_asks_for_spa_audits_in_lyon_that_mention_ventilation(
    page: Page, workspace: Workspace
) -> None:
    await sign_in(page, workspace)
    question = page.get_by_label("Question")
    await expect(question.locator("option[value=reports_mentioning]")).to_have_count(1)
    # exam data is not an analyst's
    await expect(question.locator("option[value=pass_rate_by_week]")).to_have_count(0)
    await question.select_option("reports_mentioning")
    ask = page.get_by_role("region", name="Ask the data")  # the page's filters share labels
    await ask.get_by_label("Building type").fill("spa")
    await ask.get_by_label("City").fill("Lyon")
    await ask.get_by_label("Mentions").fill("ventilation")
    await page.locator("#ask-curated-form").get_by_role("button", name="Ask").click()
    await expect(page.locator("#ask-table tbody tr")).to_have_count(2)
    found = sorted(int(text) for text in await cells(page, 1))
    assert found == sorted(workspace.analysis.spa_lyon_ventilation)
    await expect(page.locator("#ask-sql")).to_contain_text("'%ventilation%'")
    await expect(page.locator("#ask-chart")).to_have_count(0)  # a list of reports: no chart

    await question.select_option("reports_by_building_type")
    await expect(page.locator("#ask-inputs input, #ask-inputs select")).to_have_count(0)
    await page.locator("#ask-curated-form").get_by_role("button", name="Ask").click()
    await expect(page.locator("#ask-answer-title")).to_contain_text("building type")
    await expect(page.locator("#ask-table tbody tr")).to_have_count(2)
    drawn = await drawn_chart(page)
    assert (drawn["type"], drawn["labels"], drawn["data"]) == ("bar", ["spa", "hotel"], [4, 1])


async def test_an_analyst_asks_in_plain_language_and_sees_the_checked_sql(
    page: Page, workspace: Workspace
) -> None:
    workspace.script.reset()
    workspace.script.replies.append(
        json.dumps(
            {"sql": "SELECT city, COUNT(*) AS reports FROM reports GROUP BY city ORDER BY city"}
        )
    )
    await sign_in(page, workspace)
    await page.get_by_label("In your own words").fill("How many reports per city?")
    await page.locator("#ask-free-form").get_by_role("button", name="Ask").click()
    await expect(page.locator("#ask-table tbody tr")).to_have_count(2)
    assert await cells(page, 1) == ["Lyon", "Paris"]
    await expect(page.locator("#ask-sql")).to_contain_text('"ask_reports"')
    await expect(page.locator("#ask-sql")).to_contain_text("LIMIT 1000")
    drawn = await drawn_chart(page)
    assert (drawn["labels"], drawn["data"]) == (["Lyon", "Paris"], [4, 1])
    assert "How many reports per city?" in json.dumps(workspace.script.requests[-1])


async def test_a_refused_plain_language_question_says_why(page: Page, workspace: Workspace) -> None:
    workspace.script.reset()
    workspace.script.replies.append(json.dumps({"sql": "SELECT answer_text FROM answers"}))
    await sign_in(page, workspace)
    await page.get_by_label("In your own words").fill("What did the candidates answer?")
    await page.locator("#ask-free-form").get_by_role("button", name="Ask").click()
    await expect(page.get_by_role("alert")).to_contain_text("exam data")
    await expect(page.locator("#ask-table")).to_have_count(0)
