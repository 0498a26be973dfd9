"""The analyst workspace (``/analyst``) in real headless Chromium against the real app, with
real transcription jobs (Silero VAD + faster-whisper tiny.en on the in-process queue) on a
SQLite database: upload with a progress bar (the last choices offered again), live job
progress, the transcript with the recording streamed from a signed link (a clicked word plays
from its time), the transcript report read, downloaded and run again, and search hits that jump
to their moment. No LLM is configured: the page says which report types need one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, Response, expect

from newspeech import weights
from newspeech.analysis.cli import DEFAULT_PROMPTS
from newspeech.analysis.jobs.runner import JobRunner, StagePolicy
from newspeech.analysis.jobs.stages import StageWork
from newspeech.analysis.prompt_tree import read_prompt_tree
from newspeech.analysis.service import PromptSync
from newspeech.app import create_app
from newspeech.config import Settings
from newspeech.db.engine import create_engine, create_sessionmaker
from newspeech.db.migrations import upgrade
from newspeech.models import UserRole
from newspeech.voice.pool import InferencePool
from newspeech.voice.stt import WhisperSpeechToText
from newspeech.voice.vad import SileroVoiceActivityDetector
from tests.fixtures.factories import FACTORY_PASSWORD, make_user
from tests.fixtures.recordings import encode, shared_pcm, with_pauses
from tests.web import browser as web

CHUNK_SECONDS = 15.0
"""Small pieces, so the job has several stages to show progress on."""


@dataclass(frozen=True)
class Workspace:
    url: str
    analyst: str
    examiner: str
    recording: Path


@pytest.fixture(scope="module")
def engines() -> Iterator[StageWork]:
    pool = InferencePool(2)
    vad = SileroVoiceActivityDetector(weights.locate(weights.SILERO_VAD))
    stt = WhisperSpeechToText.load(weights.whisper_tiny_en_dir(), pool=pool)
    yield StageWork(vad, stt, pool.run, CHUNK_SECONDS)
    pool.close()


@pytest.fixture(scope="module")
async def workspace(
    tmp_path_factory: pytest.TempPathFactory, shared_dir: Path, engines: StageWork
) -> AsyncIterator[Workspace]:
    data_dir = tmp_path_factory.mktemp("analyst-web")
    settings = Settings(
        environment="test",
        data_dir=data_dir,
        database_url=f"sqlite+aiosqlite:///{data_dir / 'analyst.db'}",
        speech_enabled=False,
    )
    recording = data_dir / "three-sayings.ogg"
    recording.write_bytes(encode(with_pauses(shared_pcm(shared_dir), 3, 2.0), "ogg"))
    engine = create_engine(settings)
    sessionmaker = create_sessionmaker(engine)
    try:
        await upgrade(engine)
        async with sessionmaker() as db:
            await PromptSync(db).sync(read_prompt_tree(DEFAULT_PROMPTS), origin="test")
            analyst = await make_user(db, role=UserRole.ANALYST, college_type=None)
            examiner = await make_user(db, role=UserRole.EXAMINER)
            await db.commit()
        app = create_app(settings)
        async with web.serving(app) as url:
            async with httpx.AsyncClient() as client:  # answered once the lifespan has run
                assert (await client.get(f"{url}/livez")).status_code == 200
            # The app has no speech engines (speech off); its in-process queue runs this runner.
            app.state.analysis_runner = JobRunner(
                app.state.sessionmaker,
                app.state.audio_store,
                engines,
                work_dir=data_dir / "work",
                policy=StagePolicy(attempts=2, retry_seconds=0.0, timeout_seconds=600.0),
            )
            yield Workspace(url, analyst.username, examiner.username, recording)
    finally:
        await engine.dispose()


async def sign_in(page: Page, workspace: Workspace, username: str) -> None:
    await page.goto(f"{workspace.url}/analyst")
    await page.get_by_label("User name or email").fill(username)
    await page.get_by_label("Password").fill(FACTORY_PASSWORD)
    await page.get_by_role("button", name="Sign in").click()


async def search_api(workspace: Workspace, q: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=f"{workspace.url}/api/v1") as client:
        login = await client.post(
            "/auth/login", json={"username": workspace.analyst, "password": FACTORY_PASSWORD}
        )
        token = login.json()["access_token"]
        found = await client.get(
            "/analysis/search", params={"q": q}, headers={"Authorization": f"Bearer {token}"}
        )
    items: list[dict[str, Any]] = found.json()["items"]
    return items


async def playing_between(page: Page, low: float, high: float) -> None:
    """Wait until the player plays (not paused) at a time in [low, high)."""
    await page.wait_for_function(
        """([low, high]) => {
            const p = document.getElementById("player");
            return !p.paused && p.currentTime >= low && p.currentTime < high;
        }""",
        arg=[low, high],
        timeout=30_000,
    )


async def test_upload_progress_transcript_word_playback_and_search_jump(
    page: Page, workspace: Workspace
) -> None:
    polled: list[dict[str, Any]] = []

    async def record(response: Response) -> None:
        if response.url.endswith("/api/v1/analysis/recordings?size=50") and response.ok:
            polled.extend(r["job"] for r in (await response.json())["items"] if r["job"])

    audio_requests: list[tuple[str, str | None]] = []
    page.on(
        "request",
        lambda request: (
            audio_requests.append((request.url, request.headers.get("range")))
            if "/audio" in request.url and "/audio-link" not in request.url
            else None
        ),
    )
    page.on("response", record)
    await sign_in(page, workspace, workspace.analyst)
    await expect(page.get_by_role("heading", name="Upload a recording")).to_be_visible()

    # Without an LLM the page says which report types need one, and offers only the others.
    await expect(page.locator("#llm-note")).to_contain_text("NEWSPEECH_LLM_API_URL is not set")
    await expect(page.locator("#llm-note")).to_contain_text("Client brief")
    brief = page.get_by_role("checkbox", name="Client brief (needs NEWSPEECH_LLM_API_URL)")
    await expect(brief).to_be_disabled()

    # Upload: the bar fills, and the job list follows the job to its end.
    await page.get_by_label("Recording", exact=True).set_input_files(workspace.recording)
    await page.get_by_label("Scenario").first.select_option("design")
    await page.get_by_label("Building type").first.select_option("spa")
    await page.get_by_label("Place").first.fill("Spa Nova")
    await page.get_by_role("button", name="Upload", exact=True).click()
    await expect(page.locator("#upload-percent")).to_have_text("100%")
    await expect(page.locator("#upload-progress")).to_have_js_property("value", 100)
    row = page.locator("#recordings-table tbody tr").filter(has_text="three-sayings.ogg")
    # Cut, three pieces, assemble, and the transcript report.
    await expect(row).to_contain_text("6 / 6 stages, done", timeout=120_000)
    await expect(row).to_contain_text("transcribed")
    await expect(row).to_contain_text("Spa Nova")
    await expect(row.locator("progress")).to_have_js_property("value", 6)
    assert any(job["status"] in ("queued", "running") for job in polled), polled
    assert len({(job["stages_done"], job["stages_total"]) for job in polled}) >= 2, polled
    # The choices of this upload are offered for the next one.
    await expect(page.locator("#routing-note")).to_have_text(
        "Your choices from your last upload are filled in."
    )
    await expect(page.locator("#upload-scenario")).to_have_value("design")
    await expect(page.locator("#upload-building")).to_have_value("spa")

    # The transcript: every word is a button; a click plays the recording from that word.
    await row.get_by_role("button", name="Transcript of three-sayings.ogg").click()
    words = page.locator("#transcript-text .word")
    await expect(words.first).to_be_visible()
    assert await words.count() > 40
    starts = [float(s) for s in await words.evaluate_all("ws => ws.map(w => w.dataset.start)")]
    second = next(i for i, start in enumerate(starts) if start > 13.0)
    await words.nth(second).click()
    await playing_between(page, starts[second], starts[second] + 2.0)
    await expect(words.nth(second)).to_have_attribute("aria-current", "true")
    # The player streams from a signed link, with Range requests; the file is not fetched
    # whole with the bearer token first.
    source = await page.evaluate("window.newspeechAnalyst.audio()")
    assert source.startswith(f"{workspace.url}/api/v1/analysis/recordings/"), source
    assert "/audio/signed?user=" in source
    assert audio_requests, "the player fetched no audio"
    assert all("/audio/signed?" in url for url, _ in audio_requests), audio_requests
    assert any(byte_range is not None for _, byte_range in audio_requests), audio_requests

    await check_reports(page)

    # Search: three hits, highlighted; the last one jumps to when it was said.
    await page.get_by_label('Words or "a phrase"').fill("fellow Americans")
    await page.get_by_role("button", name="Search", exact=True).click()
    hits = page.locator("#search-results li")
    await expect(hits).to_have_count(3)
    await expect(hits.nth(2).locator("mark")).to_have_text(["fellow", "Americans"])
    expected = await search_api(workspace, "fellow Americans")
    assert len(expected) == 3
    target = expected[2]["hit_seconds"]
    assert target > 24.0
    await page.locator("#player").evaluate("p => p.pause()")
    await hits.nth(2).get_by_role("button").click()
    await playing_between(page, target, target + 2.0)


async def check_reports(page: Page) -> None:
    """The recording's transcript report: listed, read (its Markdown shown as HTML), downloaded
    as PDF and Markdown, and run again (a second run, the first kept)."""
    await page.get_by_label("Place").nth(1).fill("spa nova")
    await page.get_by_role("button", name="Show reports").click()
    report = page.locator("#reports-table tbody tr")
    await expect(report).to_have_count(1)
    await expect(report).to_contain_text("Transcript")
    await expect(report).to_contain_text("ready")
    name = await report.get_by_role("button", name="Read").get_attribute("aria-label")
    assert name is not None
    what = name.removeprefix("Read ")

    await report.get_by_role("button", name=f"Read {what}").click()
    view = page.locator("#report-view-body")
    await expect(view.locator("h1")).to_be_visible()
    await expect(view.locator("h2", has_text="Transcript")).to_be_visible()
    await expect(view).to_contain_text("fellow Americans")
    await expect(page.locator("#report-view-facts")).to_contain_text("Spa Nova")

    async with page.expect_download() as pdf_download:
        await report.get_by_role("button", name=f"PDF of {what}").click()
    pdf = await asyncio.to_thread(Path(await (await pdf_download.value).path()).read_bytes)
    assert pdf.startswith(b"%PDF-")
    async with page.expect_download() as md_download:
        await report.get_by_role("button", name=f"Markdown of {what}").click()
    markdown = await asyncio.to_thread(Path(await (await md_download.value).path()).read_text)
    assert markdown.startswith("# ")
    assert "fellow Americans" in markdown
    assert (await md_download.value).suggested_filename.endswith(".md")

    await report.get_by_role("button", name=f"Run {what} again").click()
    await expect(page.locator("#status")).to_contain_text("run 2 is queued")
    await expect(report.locator("td").nth(6)).to_have_text("2")
    await expect(report).to_contain_text("ready", timeout=60_000)


async def test_an_examiner_is_told_the_area_is_for_analysts(
    page: Page, workspace: Workspace
) -> None:
    await sign_in(page, workspace, workspace.examiner)
    await expect(page.get_by_role("alert")).to_have_text(
        "This area is for analysts. You are signed in as an examiner: "
        "use the examiner workspace (/examiner)."
    )
    await expect(page.locator("#workspace")).to_be_hidden()
    await expect(page.locator("#sign-in")).to_be_visible()
    assert await page.evaluate("window.newspeechAnalyst.user()") is None


async def test_a_wrong_password_gets_a_plain_message(page: Page, workspace: Workspace) -> None:
    await sign_in(page, workspace, "nobody")
    await expect(page.get_by_role("alert")).to_have_text(
        "Sign-in failed: check your user name and password."
    )
    await expect(page.locator("#workspace")).to_be_hidden()
