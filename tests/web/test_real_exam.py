"""The exam page in real headless Chromium against the REAL server: ``create_app`` with speech
on (exam service, hybrid grader, Piper, Whisper), a seeded SQLite database and a student signed
in through the login endpoint, whose access token goes in the page's ``?token=``.

The fake microphone cannot hear the page, so the student's words are placed in the WAV at
times when the examiner is known to be listening or speaking: "yes" just after the welcome
(or over it, when the sitting was slow to start) confirms identity, and an answer over the
instructions and case presentation answers question 1: the engine counts an interrupted
utterance as said (its question event arrives before the audio).

Real time by nature (Chromium's fake microphone plays its WAV at real pace, through echo
cancellation), so these assert structure, order and what the page shows, not the words of a
recognition or a mark; the virtual-clock tests in tests/exams/test_real_exam.py pin those.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from playwright.async_api import Page, expect
from sqlalchemy import select

from newspeech.app import create_app
from newspeech.config import Settings
from newspeech.configuration.repository import ConfigurationRepository
from newspeech.db.engine import create_engine, create_sessionmaker
from newspeech.db.migrations import upgrade
from newspeech.models import Question
from newspeech.voice.audio import encode_wav
from newspeech.voice.protocols import PCM16, SAMPLE_RATE
from tests.exams.real_exam import (
    Student,
    first_sentences,
    make_student,
    seed,
)
from tests.fixtures.voices import CandidateVoices
from tests.web import browser as web
from tests.web.conftest import LaunchBrowser, Microphone
from tests.web.test_browser import choose_college, diagnostics, end_exam, number, received

OUTCOME_MS = 180_000
"""How long to wait for something the server must do (a transcript, a grade, the report): a
bound on a wait, not a timing assertion. Generous, as a loaded 2-core box (the other suites
running beside these) is many times slower than an idle one."""
INTO_THE_WELCOME = 3.0
"""Seconds of silence before a "yes" that must barge in: the page may miss ~150 ms, the
welcome lasts ~7 s. Timing-dependent by nature: on a box so loaded that the sitting takes
more than ~3 s to start, the "yes" comes before anyone listens (only the barge-in test uses it)."""
AFTER_THE_WELCOME = 12.0
"""Seconds of silence before "yes" when it need not interrupt: after the welcome on an idle
box (it ends ~7.5 s in, and the "take your time" nudge comes 8 s later), over it when the
sitting was slow to start. Either way the examiner is listening (a 3 s lead lost the "yes"
when the start took longer under load, and the answer then went to the identity question)."""


@dataclass(frozen=True)
class RealServer:
    url: str
    student: Student
    first_answer: str


@pytest.fixture(scope="module")
async def real_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RealServer]:
    data_dir = tmp_path_factory.mktemp("real-web")
    settings = Settings(
        environment="test",
        data_dir=data_dir,
        database_url=f"sqlite+aiosqlite:///{data_dir / 'exam.db'}",
        inference_workers=2,
    )
    engine = create_engine(settings)
    sessionmaker = create_sessionmaker(engine)
    try:
        await upgrade(engine)
        await seed(sessionmaker)
        async with sessionmaker() as db:
            # One student sits every test here, each a sitting of its own.
            await ConfigurationRepository(db).set("max_attempts", 100)
            await db.commit()
        app = create_app(settings)
        async with web.serving(app) as url:
            student = await make_student(sessionmaker, url, "dana", "Dana Walker")
            async with sessionmaker() as db:
                question = (
                    await db.scalars(
                        select(Question)
                        .where(Question.college_type == "medical")
                        .order_by(Question.scenario_id, Question.question_number)
                        .limit(1)
                    )
                ).one()
            # One sentence: through echo cancellation, "II, III and aVF" is beyond tiny.en.
            answer = first_sentences(question.model_answer or "", words=8)
            yield RealServer(url, student, answer)
    finally:
        await engine.dispose()


def silence(seconds: float) -> PCM16:
    return np.zeros(round(seconds * SAMPLE_RATE), dtype=np.int16)


async def microphone_wav(
    path: Path, server: RealServer, voices: CandidateVoices, *, answer: bool
) -> Path:
    """Silence, "yes" (over the welcome when there is no ``answer``), then (``answer``)
    question 1's answer once the examiner is into the instructions, and a silent tail that
    ends the turn."""
    # "Yes." alone: through Chromium's echo cancellation the pause at the comma of "Yes, that
    # is me." can end the turn early and "that is me." then starts question 1's answer
    # (tests/exams/test_real_exam.py speaks the whole phrase over the socket).
    yes = voices.piper("Yes.")
    parts = [silence(AFTER_THE_WELCOME if answer else INTO_THE_WELCOME), yes, silence(6.0)]
    if answer:
        parts += [voices.piper(server.first_answer), silence(4.0)]
    await asyncio.to_thread(path.write_bytes, encode_wav(np.concatenate(parts)))
    return path


async def start_exam(page: Page, server: RealServer) -> None:
    await page.goto(f"{server.url}/?token={server.student.token}")
    await choose_college(page)
    await page.get_by_role("button", name="Start exam").click()


async def test_the_real_examiner_confirms_identity_asks_and_grades_question_one_on_the_page(
    launch_browser: LaunchBrowser,
    real_server: RealServer,
    voices: CandidateVoices,
    tmp_path: Path,
) -> None:
    wav = await microphone_wav(tmp_path / "answer.wav", real_server, voices, answer=True)
    async with launch_browser(Microphone(wav)) as browser:
        page = await browser.new_page()
        await start_exam(page, real_server)
        # Question 1 is on the page from "yes" until its feedback leads on to question 2.
        await expect(page.locator("#progress-label")).to_have_text(
            re.compile(r"Question 1\s+of 12"), timeout=OUTCOME_MS
        )
        question = (await received(page, "question"))[0]
        assert question["number"] == 1
        assert question["total"] == 12
        await expect(page.locator("#question")).to_have_text(question["text"])
        await expect(page.locator("#evaluations li")).to_have_count(1, timeout=OUTCOME_MS)

        finals = [t for t in await received(page, "transcript") if t["final"]]
        assert len(finals) == 2  # "yes" (question 1 was asked: identity confirmed), the answer
        answer = finals[1]["text"]
        assert answer.strip()
        (evaluation,) = await received(page, "evaluation")
        assert evaluation["question_number"] == 1
        assert evaluation["max_score"] == 10
        await expect(page.locator("#evaluations li")).to_contain_text(
            f"Question 1: {number(evaluation['score'])} / {number(evaluation['max_score'])}. "
            f"{evaluation['feedback']}"
        )
        await end_exam(page)
        await expect(page.locator("#report")).to_be_visible(timeout=OUTCOME_MS)
        (result,) = await received(page, "result")
        assert result["answers"][0]["transcript"] == answer
        # The report shows what the student said.
        row = page.locator("#report-rows tr").first
        await expect(row).to_contain_text(answer)
        await expect(row).to_contain_text(result["answers"][0]["feedback"])


async def test_speaking_over_the_real_examiner_stops_its_audio(
    launch_browser: LaunchBrowser,
    real_server: RealServer,
    voices: CandidateVoices,
    tmp_path: Path,
) -> None:
    wav = await microphone_wav(tmp_path / "yes.wav", real_server, voices, answer=False)
    async with launch_browser(Microphone(wav)) as browser:
        page = await browser.new_page()
        await start_exam(page, real_server)
        await page.wait_for_function(
            "window.newspeechExam.diagnostics().playback?.flushes === 1", timeout=OUTCOME_MS
        )
        at_flush = (await diagnostics(page))["playback"]
        assert at_flush["queuedFrames"] == 0
        assert not at_flush["playing"]

        # The welcome was cut short: it never finished, and the student's "yes" was heard.
        (flush,) = await received(page, "flush")
        welcome = (await received(page, "speaking"))[0]
        assert welcome["kind"] == "welcome"
        assert flush["utterance_id"] == welcome["utterance_id"]
        done = [e["utterance_id"] for e in await received(page, "speaking_done")]
        assert welcome["utterance_id"] not in done
        await page.wait_for_function(
            "window.newspeechExam.diagnostics().log.some("
            "(e) => e.type === 'transcript' && e.final)",
            timeout=OUTCOME_MS,
        )
        heard = next(t for t in await received(page, "transcript") if t["final"])
        assert heard["text"].strip()
        assert (await diagnostics(page))["playback"]["playedAtFlush"] == at_flush["playedAtFlush"]
        await end_exam(page)
        await expect(page.locator("#report")).to_be_visible(timeout=OUTCOME_MS)


async def test_ending_before_identity_is_confirmed_leaves_a_way_back_on_the_real_server(
    launch_browser: LaunchBrowser, real_server: RealServer, tmp_path: Path
) -> None:
    wav = tmp_path / "silence.wav"
    await asyncio.to_thread(wav.write_bytes, encode_wav(silence(20.0)))
    async with launch_browser(Microphone(wav)) as browser:
        page = await browser.new_page()
        await start_exam(page, real_server)
        await expect(page.locator("#examiner-caption")).not_to_be_empty(timeout=OUTCOME_MS)
        await expect(page.locator("#progress-label")).to_have_text("Confirming your identity")
        await end_exam(page)

        ended = page.locator("#ended")
        await expect(ended).to_be_visible(timeout=OUTCOME_MS)
        await expect(ended).to_contain_text("your identity was not confirmed")
        await expect(page.locator("#exam")).to_be_hidden()
        (event,) = await received(page, "ended")
        assert event["reason"] == "identity_not_confirmed"
        assert await received(page, "result") == []
        await page.get_by_role("button", name="Back to the start").click()
        await expect(page.locator("#setup")).to_be_visible()


TWO_CLAUSES = (
    "The most likely diagnosis is an inferior heart attack,",
    "because there is ST elevation in the inferior leads with reciprocal changes.",
)
"""One answer to question 1, read with a thinking pause at its comma."""


async def two_clause_wav(path: Path, voices: CandidateVoices, *, pause: float) -> Path:
    parts = [silence(AFTER_THE_WELCOME), voices.piper("Yes."), silence(6.0)]
    parts += [voices.piper(TWO_CLAUSES[0]), silence(pause), voices.piper(TWO_CLAUSES[1])]
    parts += [silence(12.0)]
    await asyncio.to_thread(path.write_bytes, encode_wav(np.concatenate(parts)))
    return path


async def until_question_two_is_spoken_and_listened_for(page: Page) -> None:
    """Question 2 has been read in full and the examiner listens for its answer."""
    await page.wait_for_function(
        """() => {
          const log = window.newspeechExam.diagnostics().log;
          const asked = log.findIndex((e) => e.type === "question" && e.number === 2);
          return asked >= 0 && log.slice(asked).some((e) => e.type === "listening");
        }""",
        timeout=OUTCOME_MS,
    )


async def test_an_answer_with_a_pause_at_its_comma_stays_whole_under_question_one(
    launch_browser: LaunchBrowser,
    real_server: RealServer,
    voices: CandidateVoices,
    tmp_path: Path,
) -> None:
    """A 2 s thinking pause after the comma: whether or not the turn was declared there, the
    rest of the answer is heard as the same answer (never as question 2's), and question 2
    is read in full before the examiner listens for its answer."""
    wav = await two_clause_wav(tmp_path / "two-clauses.wav", voices, pause=2.0)
    async with launch_browser(Microphone(wav)) as browser:
        page = await browser.new_page()
        await start_exam(page, real_server)
        await until_question_two_is_spoken_and_listened_for(page)

        evaluations = await received(page, "evaluation")
        assert {e["question_number"] for e in evaluations} == {1}
        await expect(page.locator("#evaluations li")).to_have_count(1)
        await end_exam(page)
        await expect(page.locator("#report")).to_be_visible(timeout=OUTCOME_MS)
        (result,) = await received(page, "result")
        heard = {a["number"]: a["transcript"] or "" for a in result["answers"]}
        assert not heard.get(2, "").strip(), "nothing was said after question 2"
        spoken = len(" ".join(TWO_CLAUSES).split())
        # Both clauses are in question 1's transcript (allowing for a misheard word or two
        # through echo cancellation; one clause alone is under half of it).
        assert len(heard[1].split()) >= 0.7 * spoken, heard[1]


async def test_i_have_not_finished_takes_back_the_reply_and_listens_for_the_rest(
    launch_browser: LaunchBrowser,
    real_server: RealServer,
    voices: CandidateVoices,
    tmp_path: Path,
) -> None:
    """The candidate presses "I haven't finished" once their answer was taken: the examiner's
    reply stops, the page says it is listening to the rest, and question 1 keeps one mark."""
    wav = await microphone_wav(tmp_path / "answer.wav", real_server, voices, answer=True)
    async with launch_browser(Microphone(wav)) as browser:
        page = await browser.new_page()
        await start_exam(page, real_server)
        go_on = page.get_by_role("button", name="I haven't finished")
        await expect(go_on).to_be_enabled(timeout=OUTCOME_MS)  # question 1's answer was taken
        identity = (await received(page, "listening"))[0]
        assert identity["continuable"] is False  # "yes" to "are you ...?" cannot go on
        assert (await received(page, "question"))[0]["number"] == 1
        await go_on.click()
        await expect(page.locator("#turn")).to_have_text(
            re.compile("listening to the rest of your answer"), timeout=OUTCOME_MS
        )
        resumed = [e for e in await received(page, "listening") if e.get("resumed")]
        assert len(resumed) == 1  # the reply (being thought out or spoken) was withdrawn
        await expect(go_on).to_be_disabled()
        await until_question_two_is_spoken_and_listened_for(page)
        evaluations = await received(page, "evaluation")
        assert {e["question_number"] for e in evaluations} == {1}
        await expect(page.locator("#evaluations li")).to_have_count(1)
