"""The examiner workspace (``/examiner``) in real headless Chromium against the real app
(``create_app``, speech off: these pages need no speech engines) and a seeded SQLite database.

The examiner signs in through the page's own form; every request the page makes goes through
the real ``/api/v1`` with its bearer token. What the page shows is checked against the
database.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from playwright.async_api import Page, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from newspeech.app import create_app
from newspeech.config import Settings
from newspeech.db.engine import create_engine, create_sessionmaker
from newspeech.db.migrations import upgrade
from newspeech.models import Question
from tests.web import browser as web
from tests.web.conftest import LaunchBrowser, Microphone
from tests.web.examiner_seed import (
    EXAMINER,
    PASSWORD,
    SCORES,
    STUDENT,
    Sitting,
    seed_workspace,
)


@dataclass(frozen=True)
class Workspace:
    url: str
    sitting: Sitting
    sessionmaker: async_sessionmaker[AsyncSession]


@pytest.fixture(scope="module")
async def workspace(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Workspace]:
    data_dir = tmp_path_factory.mktemp("examiner-web")
    settings = Settings(
        environment="test",
        data_dir=data_dir,
        database_url=f"sqlite+aiosqlite:///{data_dir / 'examiner.db'}",
        speech_enabled=False,
    )
    engine = create_engine(settings)
    sessionmaker = create_sessionmaker(engine)
    try:
        await upgrade(engine)
        sitting = await seed_workspace(sessionmaker)
        async with web.serving(create_app(settings)) as url:
            yield Workspace(url, sitting, sessionmaker)
    finally:
        await engine.dispose()


@pytest.fixture
async def page(launch_browser: LaunchBrowser) -> AsyncIterator[Page]:
    async with launch_browser(Microphone()) as browser:
        page = await browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        yield page
        assert errors == [], f"uncaught errors in the page: {errors}"


async def sign_in(page: Page, workspace: Workspace, username: str = EXAMINER) -> None:
    await page.goto(f"{workspace.url}/examiner")
    await page.get_by_label("User name or email").fill(username)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()


async def test_a_student_signing_in_is_told_the_area_is_for_examiners(
    page: Page, workspace: Workspace
) -> None:
    await sign_in(page, workspace, STUDENT)
    await expect(page.get_by_role("alert")).to_contain_text("This area is for examiners")
    await expect(page.get_by_role("navigation", name="Examiner pages")).to_be_hidden()
    await expect(page.locator("#sign-in")).to_be_visible()
    assert await page.evaluate("window.newspeechExaminer.user()") is None


async def test_a_wrong_password_gets_a_plain_message(page: Page, workspace: Workspace) -> None:
    await page.goto(f"{workspace.url}/examiner")
    await page.get_by_label("User name or email").fill(EXAMINER)
    await page.get_by_label("Password").fill("not the password")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_have_text(
        "Sign-in failed: check your user name and password."
    )


async def open_sitting(page: Page, workspace: Workspace) -> None:
    await sign_in(page, workspace)
    await page.get_by_role("link", name="Sessions").click()
    await page.get_by_role("link", name=workspace.sitting.code).click()
    await expect(page.get_by_role("heading", name=f"Session {workspace.sitting.code}")).to_be_visible()


async def test_the_session_view_shows_each_answer_with_transcript_and_machine_grade(
    page: Page, workspace: Workspace
) -> None:
    await open_sitting(page, workspace)
    await expect(page.locator("#session-candidate")).to_have_text("Asha Rao")
    await expect(page.locator("article.answer")).to_have_count(12)
    fifth = page.locator("article.answer").nth(4)
    await expect(fifth).to_contain_text("My answer to question 5 names 2 key points.")
    await expect(fifth.locator(".answer-score")).to_have_text("Score 2 / 10")
    await expect(fifth).to_contain_text("Keywords missing: fluids")
    await expect(page.locator("#session-total")).to_have_text(f"Total {sum(SCORES)} / 120")
    await expect(page.locator("#session-grade")).to_have_text("F")
    # The page prints as the report: no forms or buttons on paper.
    await page.emulate_media(media="print")
    await expect(fifth.locator("form.override")).to_be_hidden()
    await expect(fifth.locator(".transcript")).to_be_visible()


async def test_the_question_editor_saves_keywords_and_synonyms(
    page: Page, workspace: Workspace
) -> None:
    question_id = workspace.sitting.question_ids[11]
    await sign_in(page, workspace)
    await page.get_by_role("link", name="Questions", exact=True).click()
    await expect(page.locator("#questions-table tbody tr")).not_to_have_count(0)
    await page.goto(f"{workspace.url}/examiner#/questions/{question_id}")
    await expect(page.get_by_label("Question text")).not_to_be_empty()
    await page.get_by_role("button", name="Add keyword").click()
    row = page.locator("table.keywords tbody tr").last
    await row.locator(".kw-term").fill("lactate")
    await row.locator(".kw-synonyms").fill("lactic acid, serum lactate")
    await page.get_by_label("Model answer").fill("Measure lactate and give fluids.")
    await page.get_by_role("button", name="Save question").click()
    await expect(page.locator("#question-form .form-message")).to_contain_text("Saved.")

    async with workspace.sessionmaker() as db:
        question = await db.get(Question, question_id)
        assert question is not None
    assert question.model_answer == "Measure lactate and give fluids."
    assert question.keywords is not None
    assert {"term": "lactate", "synonyms": ["lactic acid", "serum lactate"], "weight": 1.0} in [
        dict(k) for k in question.keywords
    ]
    # The change reached the API too: reloading shows it.
    await page.reload()
    await expect(page.locator(".kw-term").last).to_have_value(re.compile("lactate"))
