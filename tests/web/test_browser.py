"""The exam page in real headless Chromium, with a real recording as the microphone, against an
exam server on a local port that speaks docs/protocol.md.

Assertions about the page compare it with the events the page itself received (its diagnostics
log), so they hold for any conformant server. Assertions on ``script`` check what the scripted
server received or did; a real-server fixture must record the same (frames, controls, first
message) for them to stay.

Real time by nature: Chromium plays the microphone file at real pace through echo cancellation,
and where the page's 20 ms chunks fall on the recording varies from run to run. What was heard
is checked loosely (most of "one two three", see :func:`heard_the_count`); exact words belong to
the virtual-clock tests in tests/voice.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from playwright.async_api import Page, Route, expect

from newspeech.auth.service import authenticate_access_token
from newspeech.config import Settings
from newspeech.db.engine import create_engine, create_sessionmaker
from newspeech.voice.audio import decode_audio
from newspeech.voice.protocols import PCM16
from tests.web.conftest import (
    STUDENT_NAME,
    STUDENT_PASSWORD,
    ExamServer,
    LaunchBrowser,
    Microphone,
)
from tests.web.scripted_exam import ExamScript, frame_rms

TOKEN = "test-access-token"
SPEECH_SECONDS = 2.7
DIGITS = {"1": "one", "2": "two", "3": "three"}


def loud_seconds(pcm: PCM16) -> float:
    """How long ``pcm`` (16 kHz) is above -34 dBFS, counted in 20 ms frames."""
    frames = pcm[: pcm.size // 320 * 320].reshape(-1, 320)
    return sum(frame_rms(frame.tobytes()) > 0.02 for frame in frames) * 0.02


def wav_pcm(path: Path) -> PCM16:
    return decode_audio(path.read_bytes(), max_seconds=30)


async def diagnostics(page: Page) -> dict[str, Any]:
    result: dict[str, Any] = await page.evaluate("window.newspeechExam.diagnostics()")
    return result


async def received(page: Page, event_type: str) -> list[dict[str, Any]]:
    """The server events of ``event_type`` the page received, in order."""
    return [e for e in (await diagnostics(page))["log"] if e["type"] == event_type]


def number(value: float) -> str:
    """A score as the page writes it."""
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def words(text: str) -> list[str]:
    return [DIGITS.get(w, w) for w in re.findall(r"[a-z0-9]+", text.lower())]


def heard_the_count(transcript: dict[str, Any]) -> bool:
    """The recording ("one two three") came through recognisably: at least two of its words,
    in order. A word clipped at the edge by a frame of jitter is not the page's fault."""
    heard = [w for w in words(transcript["text"]) if w in ("one", "two", "three")]
    return len(heard) >= 2 and heard == sorted(heard, key=["one", "two", "three"].index)


async def choose_college(page: Page, code: str = "medical") -> None:
    """Start waits for a college to be chosen (the list has no default)."""
    await expect(page.get_by_label("College")).to_be_enabled()
    await page.get_by_label("College").select_option(code)
    await expect(page.get_by_role("button", name="Start exam")).to_be_enabled()


async def start_exam(page: Page, server: ExamServer, token: str = TOKEN) -> None:
    await page.goto(f"{server.url}/?token={token}")
    await choose_college(page)
    await page.get_by_role("button", name="Start exam").click()


async def end_exam(page: Page) -> None:
    """End exam, then confirm in the dialog it opens."""
    await page.get_by_role("button", name="End exam").click()
    dialog = page.get_by_role("dialog", name="End the exam now?")
    await expect(dialog).to_be_visible()
    await dialog.get_by_role("button", name="Yes, end the exam").click()
    await expect(dialog).to_be_hidden()


async def test_student_hears_the_question_answers_and_sees_transcript_feedback_and_report(
    launch_browser: LaunchBrowser, exam_server: ExamServer, answer_wav: Path
) -> None:
    script = exam_server.expect(ExamScript(token=TOKEN, question_seconds=1.0))
    async with launch_browser(Microphone(answer_wav)) as browser:
        page = await browser.new_page()
        await start_exam(page, exam_server)
        await expect(page.locator("#evaluations li")).to_have_count(1, timeout=30_000)

        (question,) = await received(page, "question")
        await expect(page.locator("#question")).to_have_text(question["text"])
        await expect(page.locator("#progress-label")).to_have_text(
            re.compile(rf"Question {question['number']}\s+of {question['total']}")
        )
        (scenario,) = await received(page, "scenario")
        await expect(page.locator("#scenario")).to_contain_text(scenario["description"])

        # The recogniser heard "one two three" in what the page sent, and the page shows it;
        # the partial transcript shown while the student spoke was replaced by the final one.
        *partials, transcript = await received(page, "transcript")
        assert partials
        assert not any(p["final"] for p in partials)
        assert transcript["final"] is True
        await expect(page.locator("#student-caption")).not_to_have_class("partial")
        assert heard_the_count(transcript), transcript
        await expect(page.locator("#student-caption")).to_have_text(transcript["text"])
        (evaluation,) = await received(page, "evaluation")
        await expect(page.locator("#evaluations li")).to_contain_text(
            f"Question {evaluation['question_number']}: "
            f"{number(evaluation['score'])} / {number(evaluation['max_score'])}. "
            f"{evaluation['feedback']}"
        )

        # Every byte of examiner audio was played, at the announced sample rate.
        await page.wait_for_function(
            "(() => { const d = window.newspeechExam.diagnostics();"
            " const count = (type) => d.log.filter((e) => e.type === type).length;"
            " return count('speaking_done') === count('speaking') && !d.playback.playing"
            " && d.playback.queuedFrames === 0 && d.playback.playedFrames > 0; })()"
        )
        state = await diagnostics(page)
        assert state["maxLevel"] > 0.5  # the meter rose above -30 dBFS while the student spoke
        (started,) = await received(page, "session_started")
        source_rate = started["output_audio"]["sample_rate"]
        playback = state["playback"]
        expected_frames = playback["receivedBytes"] / 2 * state["contextSampleRate"] / source_rate
        assert abs(playback["playedFrames"] - expected_frames) <= 4
        assert playback["flushes"] == 0
        speaking = await received(page, "speaking")
        await expect(page.locator("#examiner-caption")).to_have_text(speaking[-1]["text"])

        await end_exam(page)
        await expect(page.locator("#report")).to_be_visible()
        await expect(page.locator("#exam")).to_be_hidden()
        (result,) = await received(page, "result")
        summary = page.locator("#report-summary")
        total = f"Total {number(result['total_score'])} / {number(result['max_score'])}"
        await expect(summary).to_contain_text(total)
        await expect(summary).to_contain_text(f"grade {result['grade']}")
        await expect(summary).to_contain_text("Passed" if result["passed"] else "Not passed")
        rows = page.locator("#report-rows tr")
        await expect(rows).to_have_count(len(result["answers"]))
        for row, answer in enumerate(result["answers"]):
            await expect(rows.nth(row)).to_contain_text(answer["transcript"] or "(no answer)")
            await expect(rows.nth(row)).to_contain_text(answer["feedback"])
        await expect(page.locator("#status")).to_have_text("You ended the exam.")
        await expect(page.locator("#error")).to_be_hidden()
        await page.wait_for_function("window.newspeechExam.diagnostics().lastClose !== null")
        assert (await diagnostics(page))["lastClose"]["code"] == 1000

    # What the server received: the start message, 20 ms frames of 16 kHz PCM16 carrying the
    # recording, and "end"; and it sent exactly the examiner audio the page received.
    assert script.first_messages == [{"type": "start", "token": TOKEN, "college_type": "medical"}]
    assert set(script.frame_sizes) == {640}
    answer = np.frombuffer(bytes(script.answer), dtype="<i2")
    assert answer.size / 16_000 >= SPEECH_SECONDS
    # The recording's voiced part arrived: it has 48 frames (0.96 s) above -34 dBFS; Chromium's
    # capture path shifts levels a little, so most of them (not an exact count) must be there.
    assert loud_seconds(answer) >= 0.75 * loud_seconds(wav_pcm(answer_wav))
    assert playback["receivedBytes"] == script.examiner_bytes_sent
    assert script.controls[-1] == {"type": "end"}


async def test_speaking_over_the_examiner_flushes_queued_audio_at_once(
    launch_browser: LaunchBrowser, exam_server: ExamServer, answer_wav: Path
) -> None:
    # The question lasts 15 s and is sent 1 s ahead of real time; the student starts to
    # speak 2.5 s into the recording, so the page has examiner audio queued when it barges in.
    script = exam_server.expect(
        ExamScript(
            token=TOKEN,
            question_seconds=15.0,
            recoverable_error=("voice_degraded", "The examiner's voice is the fallback voice."),
        )
    )
    async with launch_browser(Microphone(answer_wav)) as browser:
        page = await browser.new_page()
        await start_exam(page, exam_server)
        await expect(page.get_by_role("alert")).to_have_text(
            "The examiner's voice is the fallback voice. (voice_degraded)"
        )
        await page.wait_for_function(
            "window.newspeechExam.diagnostics().playback?.flushes === 1", timeout=20_000
        )
        await expect(page.locator("#turn")).to_have_text("You are speaking")
        at_flush = (await diagnostics(page))["playback"]
        assert at_flush["droppedFrames"] > 0, "nothing was queued: the test proves nothing"
        assert at_flush["queuedFrames"] == 0
        assert not at_flush["playing"]

        # The page keeps listening: the answer is transcribed and graded after the barge-in.
        await expect(page.locator("#evaluations li")).to_have_count(1, timeout=30_000)
        transcript = (await received(page, "transcript"))[-1]
        assert heard_the_count(transcript), transcript
        # Nothing more of the interrupted question was played after the flush.
        (flush,) = await received(page, "flush")
        speaking = await received(page, "speaking")
        assert speaking[0]["utterance_id"] == flush["utterance_id"]
        assert (await diagnostics(page))["playback"]["playedAtFlush"] == at_flush["playedAtFlush"]
        await expect(page.get_by_role("alert")).to_be_visible()  # the error stays readable

    assert script.flushed
    assert script.examiner_bytes_sent < 15.0 * script.output_sample_rate * 2


async def test_a_wrong_password_is_explained_and_nothing_reaches_the_examiner(
    launch_browser: LaunchBrowser, exam_server: ExamServer, answer_wav: Path
) -> None:
    script = exam_server.expect(ExamScript(token=TOKEN))
    async with launch_browser(Microphone(answer_wav)) as browser:
        page = await browser.new_page()
        await page.goto(exam_server.url)
        await choose_college(page)
        await page.get_by_label("User name or email").fill(STUDENT_NAME)
        await page.get_by_label("Password").fill("not the password at all")
        await page.get_by_role("button", name="Start exam").click()

        error = page.get_by_role("alert")
        await expect(error).to_contain_text("Sign-in failed")
        await expect(page.locator("#exam")).to_be_hidden()
        await expect(page.get_by_role("button", name="Start exam")).to_be_enabled()

    assert script.first_messages == []


async def test_signing_in_sends_the_api_token_and_a_refusal_shows_the_close_code(
    launch_browser: LaunchBrowser,
    exam_server: ExamServer,
    answer_wav: Path,
    web_settings: Settings,
) -> None:
    # The scripted examiner expects another token, so it refuses the real one with 4401.
    script = exam_server.expect(ExamScript(token="the-right-token"))
    async with launch_browser(Microphone(answer_wav)) as browser:
        page = await browser.new_page()
        await page.goto(exam_server.url)
        await expect(page.get_by_label("College")).to_be_enabled()
        await expect(page.get_by_role("button", name="Start exam")).to_be_disabled()
        # Keyboard only: skip link, college, user name, password, then Enter submits the form.
        await page.keyboard.press("Tab")
        await page.keyboard.press("Tab")
        await expect(page.get_by_label("College")).to_be_focused()
        await page.keyboard.press("ArrowDown")  # from the placeholder to the first college
        await expect(page.get_by_role("button", name="Start exam")).to_be_enabled()
        await page.keyboard.press("Tab")
        await expect(page.get_by_label("User name or email")).to_be_focused()
        await page.keyboard.type(STUDENT_NAME)
        await page.keyboard.press("Tab")
        await page.keyboard.type(STUDENT_PASSWORD)
        await page.keyboard.press("Enter")

        error = page.get_by_role("alert")
        await expect(error).to_contain_text("Your sign-in was refused")
        await expect(error).to_contain_text("close code 4401")
        await expect(page.locator("#setup")).to_be_visible()
        await expect(page.locator("#exam")).to_be_hidden()
        await expect(page.get_by_role("button", name="Start exam")).to_be_enabled()
        (refusal,) = await received(page, "error")
        assert refusal["error"] == "unauthenticated"

    assert script.close_code == 4401
    assert script.frame_sizes == []  # no audio before the server accepted the sitting
    # What the page sent is the API's own access token for the student.
    engine = create_engine(web_settings)
    try:
        async with create_sessionmaker(engine)() as db:
            user = await authenticate_access_token(
                db, web_settings, script.first_messages[0]["token"]
            )
    finally:
        await engine.dispose()
    assert user.username == STUDENT_NAME


async def test_denied_microphone_permission_is_explained_and_no_exam_starts(
    launch_browser: LaunchBrowser, exam_server: ExamServer, answer_wav: Path
) -> None:
    script = exam_server.expect(ExamScript(token=TOKEN))
    async with launch_browser(Microphone(answer_wav, allow=False)) as browser:
        page = await browser.new_page()
        await start_exam(page, exam_server)
        await expect(page.get_by_role("alert")).to_contain_text("Microphone permission was denied")
        await expect(page.get_by_role("button", name="Start exam")).to_be_enabled()
        assert (await diagnostics(page))["log"] == []
    assert script.first_messages == []


async def test_missing_microphone_is_explained(
    launch_browser: LaunchBrowser, exam_server: ExamServer
) -> None:
    script = exam_server.expect(ExamScript(token=TOKEN))
    async with launch_browser(Microphone(None)) as browser:
        page = await browser.new_page()
        await start_exam(page, exam_server)
        await expect(page.get_by_role("alert")).to_contain_text("No microphone was found")
        assert (await diagnostics(page))["log"] == []
    assert script.first_messages == []


async def test_muted_microphone_sends_nothing_and_the_buttons_send_their_controls(
    launch_browser: LaunchBrowser, exam_server: ExamServer, answer_wav: Path
) -> None:
    script = exam_server.expect(ExamScript(token=TOKEN, question_seconds=1.0))
    async with launch_browser(Microphone(answer_wav)) as browser:
        page = await browser.new_page()
        await start_exam(page, exam_server)
        await expect(page.locator("#question")).not_to_be_empty()
        await page.get_by_role("button", name="Mute microphone").click()
        await expect(page.locator("#mute")).to_have_attribute("aria-pressed", "true")
        muted = await diagnostics(page)
        # 5 s of captured microphone: the whole recording, "one two three" included.
        await page.wait_for_function(
            f"window.newspeechExam.diagnostics().framesCaptured >= {muted['framesCaptured'] + 250}"
        )
        assert (await diagnostics(page))["framesSent"] == muted["framesSent"]
        assert await page.locator("#level").evaluate("(meter) => meter.value") == 0

        await page.get_by_role("button", name="Repeat question").click()
        await page.get_by_role("button", name="Skip question").click()
        await page.get_by_role("button", name="Unmute microphone").click()
        await expect(page.locator("#mute")).to_have_attribute("aria-pressed", "false")
        await page.wait_for_function(
            f"window.newspeechExam.diagnostics().framesSent > {muted['framesSent']}"
        )
        await end_exam(page)
        await expect(page.locator("#report")).to_be_visible()
        assert await received(page, "vad") == []  # the server never heard speech
        assert await received(page, "evaluation") == []

    assert [c["type"] for c in script.controls] == ["start", "repeat", "skip", "end"]
    assert script.close_code == 1000


@pytest.mark.parametrize(
    ("close_code", "told", "says"),
    [
        pytest.param(1011, None, ("you can resume the exam", "close code 1011"), id="failure"),
        pytest.param(
            1012,
            ("server_restarting", "the exam server is restarting; resume the exam"),
            ("the exam server is restarting; resume the exam",),
            id="restart",
        ),
    ],
)
async def test_a_dropped_sitting_is_resumed_with_its_session_code(
    launch_browser: LaunchBrowser,
    exam_server: ExamServer,
    answer_wav: Path,
    close_code: int,
    told: tuple[str, str] | None,
    says: tuple[str, ...],
) -> None:
    dropped = exam_server.expect(
        ExamScript(token=TOKEN, question_seconds=1.0, drop_with=close_code, drop_error=told)
    )
    resumed = exam_server.expect(ExamScript(token=TOKEN, question_seconds=1.0))
    async with launch_browser(Microphone(answer_wav)) as browser:
        page = await browser.new_page()
        await start_exam(page, exam_server)
        error = page.get_by_role("alert")
        for text in says:
            await expect(error).to_contain_text(text)
        resume = page.get_by_role("button", name="Resume my exam")
        await resume.click()

        await expect(page.locator("#evaluations li")).to_have_count(1, timeout=30_000)
        await expect(page.locator("#error")).to_be_hidden()
        await expect(resume).to_be_hidden()
        first, second = await received(page, "session_started")
        assert first["session_code"] == second["session_code"]
        transcript = (await received(page, "transcript"))[-1]
        assert heard_the_count(transcript), transcript

    assert resumed.first_messages == [
        {"type": "resume", "token": TOKEN, "session_code": dropped.session_code}
    ]


async def test_signing_in_with_a_sitting_unfinished_continues_it_and_says_so(
    launch_browser: LaunchBrowser, exam_server: ExamServer, answer_wav: Path
) -> None:
    script = exam_server.expect(ExamScript(token=TOKEN, question_seconds=1.0, resumed=True))
    async with launch_browser(Microphone(answer_wav)) as browser:
        page = await browser.new_page()
        await start_exam(page, exam_server)
        await expect(page.locator("#status")).to_contain_text(
            "Your exam continues where it stopped"
        )
        await expect(page.locator("#status")).to_contain_text(script.session_code or "?")
        await expect(page.locator("#exam")).to_be_visible()
        (started,) = await received(page, "session_started")
        assert started["resumed"] is True
        await end_exam(page)
    assert script.first_messages[0]["type"] == "start"


async def test_a_start_refused_for_a_used_attempt_says_what_to_do_next(
    launch_browser: LaunchBrowser, exam_server: ExamServer, answer_wav: Path
) -> None:
    detail = (
        "You have already used your attempt at the Medical exam, so a new sitting cannot "
        "start. If you should sit it again, ask your examiner to allow another attempt."
    )
    script = exam_server.expect(
        ExamScript(token=TOKEN, refuse=(4409, "attempt_limit_reached", detail))
    )
    async with launch_browser(Microphone(answer_wav)) as browser:
        page = await browser.new_page()
        await start_exam(page, exam_server)
        await page.wait_for_function("window.newspeechExam.diagnostics().lastClose !== null")
        assert (await diagnostics(page))["lastClose"]["code"] == 4409
        # The close does not replace the reason with the generic "cannot be started".
        await expect(page.get_by_role("alert")).to_have_text(detail)
        await expect(page.locator("#setup")).to_be_visible()
        await expect(page.locator("#exam")).to_be_hidden()
        await expect(page.get_by_role("button", name="Resume my exam")).to_be_hidden()
    assert script.close_code == 4409
    assert script.frame_sizes == []


async def test_unknown_events_are_ignored_and_malformed_ones_reported(
    launch_browser: LaunchBrowser, exam_server: ExamServer, answer_wav: Path
) -> None:
    exam_server.expect(
        ExamScript(
            token=TOKEN,
            question_seconds=1.0,
            extra_events=[
                {"type": "from_a_newer_server", "anything": 1},
                {"type": "session_started", "session_code": "VIVA-000000000000"},
            ],
        )
    )
    async with launch_browser(Microphone(answer_wav)) as browser:
        page = await browser.new_page()
        await start_exam(page, exam_server)
        await expect(page.get_by_role("alert")).to_have_text(
            "The server sent a malformed session_started event. (malformed_event)"
        )
        # The exam goes on: the question arrives and is shown.
        await expect(page.locator("#question")).not_to_be_empty()
        state = await diagnostics(page)
        assert state["active"] is True
        assert "from_a_newer_server" not in [e["type"] for e in state["log"]]
        await end_exam(page)
        await expect(page.locator("#report")).to_be_visible()


async def test_api_docs_render_with_no_way_out_of_the_machine(
    launch_browser: LaunchBrowser, exam_server: ExamServer
) -> None:
    outside: list[str] = []

    async def local_only(route: Route) -> None:
        if route.request.url.startswith(exam_server.url):
            await route.continue_()
        else:
            outside.append(route.request.url)
            await route.abort()

    async with launch_browser(Microphone(None)) as browser:
        page = await browser.new_page()
        await page.route("**/*", local_only)
        await page.goto(f"{exam_server.url}/docs")
        # Swagger UI drew the app's OpenAPI 3.1 schema: its title and an operation.
        await expect(page.locator(".swagger-ui .info .title")).to_contain_text("NewSpeech")
        await expect(page.locator(".opblock").first).to_be_visible()
    assert outside == []


async def test_end_exam_asks_first_and_the_caption_stays_when_the_examiner_moves_on(
    launch_browser: LaunchBrowser, exam_server: ExamServer, answer_wav: Path
) -> None:
    script = exam_server.expect(
        ExamScript(token=TOKEN, question_seconds=1.0, next_question="Now count back from three.")
    )
    async with launch_browser(Microphone(answer_wav)) as browser:
        page = await browser.new_page()
        await start_exam(page, exam_server)
        await expect(page.locator("#question")).to_have_text(
            "Now count back from three.", timeout=30_000
        )
        await expect(page.locator("#progress-label")).to_have_text("Question 2 of 12")

        # The examiner moved on to question 2; the "You" caption still shows the answer heard.
        (transcript,) = [t for t in await received(page, "transcript") if t["final"]]
        assert heard_the_count(transcript), transcript
        await expect(page.locator("#student-caption")).to_have_text(transcript["text"])
        # Question 2 was spoken and the server listens: the page says so, and only then.
        await page.wait_for_function(
            "window.newspeechExam.diagnostics().log.filter((e) => e.type === 'listening')"
            ".length === 2"
        )
        await expect(page.locator("#turn")).to_contain_text("Listening…")
        # The student is silent now: the meter has fallen back from the answer's level.
        await page.wait_for_function("document.getElementById('level').value < 0.05")
        assert (await diagnostics(page))["maxLevel"] > 0.6

        # End exam only asks. Enter (Cancel has the focus) and Escape both keep the sitting.
        dialog = page.get_by_role("dialog", name="End the exam now?")
        end = page.get_by_role("button", name="End exam")
        for key in ("Enter", "Escape"):
            await end.click()
            await expect(dialog).to_be_visible()
            await expect(dialog).to_contain_text(
                "Unanswered questions score 0 and you cannot continue this sitting."
            )
            await expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
            await page.keyboard.press(key)
            await expect(dialog).to_be_hidden()
            await expect(page.locator("#exam")).to_be_visible()
            await expect(end).to_be_focused()
        # A double click on End exam whose second click lands on "Yes, end the exam".
        confirm = dialog.get_by_role("button", name="Yes, end the exam")
        await end.click()
        box = await confirm.bounding_box()
        assert box is not None
        await page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        await page.mouse.down(click_count=2)
        await page.mouse.up(click_count=2)
        await expect(dialog).to_be_visible()
        await dialog.get_by_role("button", name="Cancel").click()
        await expect(dialog).to_be_hidden()
        await expect(page.locator("#question")).to_have_text("Now count back from three.")
        await expect(page.locator("#turn")).to_contain_text("Listening…")
        await expect(page.locator("#student-caption")).to_have_text(transcript["text"])
        assert (await diagnostics(page))["active"] is True

        await end_exam(page)
        await expect(page.locator("#report")).to_be_visible()
        await expect(page.locator("#status")).to_have_text("You ended the exam.")

    # Nothing reached the server until the student confirmed.
    assert [c["type"] for c in script.controls] == ["start", "end"]
    assert script.close_code == 1000


async def test_ending_during_the_identity_step_says_so_and_leads_back_to_the_start(
    launch_browser: LaunchBrowser, exam_server: ExamServer, answer_wav: Path
) -> None:
    script = exam_server.expect(ExamScript(token=TOKEN, identity=True))
    async with launch_browser(Microphone(answer_wav)) as browser:
        page = await browser.new_page()
        await start_exam(page, exam_server)
        await expect(page.locator("#exam")).to_be_visible()
        await expect(page.locator("#progress-label")).to_have_text("Confirming your identity")
        await expect(page.locator("#examiner-caption")).to_have_text(
            "Welcome. Are you Web Student?"
        )
        await expect(page.locator("#turn")).to_contain_text("Listening…")
        await expect(page.locator("#exam")).not_to_contain_text("Question 0")

        await page.get_by_role("button", name="End exam").click()
        dialog = page.get_by_role("dialog", name="End the exam now?")
        await expect(dialog).to_contain_text("Your identity is not confirmed yet")
        await dialog.get_by_role("button", name="Yes, end the exam").click()

        ended = page.locator("#ended")
        await expect(ended).to_be_visible()
        await expect(ended).to_contain_text("your identity was not confirmed")
        await expect(page.locator("#exam")).to_be_hidden()
        await expect(page.locator("#report")).to_be_hidden()
        await page.get_by_role("button", name="Back to the start").click()
        await expect(page.locator("#setup")).to_be_visible()
        await expect(ended).to_be_hidden()
        await expect(page.get_by_role("button", name="Start exam")).to_be_enabled()
        await expect(page.locator("#error")).to_be_hidden()

    assert [c["type"] for c in script.controls] == ["start", "end"]
    assert not [e for e in script.events_sent if e["type"] == "result"]
    assert script.close_code == 1000


async def test_the_college_list_has_no_default_and_start_waits_for_a_choice(
    launch_browser: LaunchBrowser, exam_server: ExamServer
) -> None:
    async with launch_browser(Microphone(None)) as browser:
        page = await browser.new_page()
        await page.goto(f"{exam_server.url}/?token={TOKEN}")
        college = page.get_by_label("College")
        await expect(college).to_be_enabled()
        await expect(college.locator("option:checked")).to_have_text("Choose your college")
        await expect(college).to_have_value("")
        await expect(page.get_by_role("button", name="Start exam")).to_be_disabled()
        await college.select_option("medical")
        await expect(page.get_by_role("button", name="Start exam")).to_be_enabled()
