"""The exam page in real headless Chromium, with a real recording as the microphone, against an
exam server on a local port that speaks docs/protocol.md."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
from playwright.async_api import Page, expect

from tests.web.conftest import ExamServer, LaunchBrowser, Microphone
from tests.web.scripted_exam import ExamScript, frame_rms

TOKEN = "test-access-token"
SPEECH_SECONDS = 2.7


async def diagnostics(page: Page) -> dict[str, Any]:
    result: dict[str, Any] = await page.evaluate("window.newspeechExam.diagnostics()")
    return result


async def start_exam(page: Page, server: ExamServer, token: str = TOKEN) -> None:
    await page.goto(f"{server.url}/?token={token}")
    await expect(page.locator("#college option")).not_to_have_count(0)
    await expect(page.get_by_role("button", name="Start exam")).to_be_enabled()
    await page.get_by_label("College").select_option("medical")
    await page.get_by_role("button", name="Start exam").click()


async def test_student_hears_the_question_answers_and_sees_transcript_feedback_and_report(
    launch_browser: LaunchBrowser, exam_server: ExamServer, answer_wav: Path
) -> None:
    script = exam_server.expect(ExamScript(token=TOKEN, question_seconds=1.0))
    async with launch_browser(Microphone(answer_wav)) as browser:
        page = await browser.new_page()
        await start_exam(page, exam_server)

        await expect(page.locator("#question")).to_have_text(script.question)
        await expect(page.locator("#examiner-caption")).to_have_text(script.question)
        await expect(page.locator("#scenario")).to_contain_text(script.scenario)
        await expect(page.locator("#progress-label")).to_have_text(
            re.compile(r"Question 1\s+of 12")
        )
        await expect(page.locator("#evaluations li")).to_have_count(1, timeout=30_000)

        # The page sent the recording as 20 ms frames of 16 kHz PCM16; the recogniser, fed
        # exactly what the page sent, heard the words, and the page shows what it heard.
        assert set(script.frame_sizes) == {640}
        transcript = next(e for e in script.events_sent if e["type"] == "transcript")["text"]
        await expect(page.locator("#student-caption")).to_have_text(transcript)
        evaluation = next(e for e in script.events_sent if e["type"] == "evaluation")
        assert evaluation["matched"] == ["one", "two", "three"], transcript
        await expect(page.locator("#evaluations li")).to_contain_text("Question 1: 10 / 10")
        answer = np.frombuffer(bytes(script.answer), dtype="<i2")
        assert answer.size / 16_000 >= SPEECH_SECONDS
        frames = answer[: answer.size // 320 * 320].reshape(-1, 320)
        loud = [frame_rms(frame.tobytes()) > 0.02 for frame in frames]
        assert sum(loud) * 0.02 >= 1.0  # at least a second of voiced frames

        # Every byte of examiner audio was played, at the announced rate.
        await page.wait_for_function(
            "(() => { const d = window.newspeechExam.diagnostics();"
            " return d.events.speaking_done === 2 && !d.playback.playing"
            " && d.playback.queuedFrames === 0 && d.playback.playedFrames > 0; })()"
        )
        state = await diagnostics(page)
        playback = state["playback"]
        assert playback["receivedBytes"] == script.examiner_bytes_sent
        expected_frames = script.examiner_bytes_sent / 2 * state["contextSampleRate"] / 22_050
        assert abs(playback["playedFrames"] - expected_frames) <= 4
        assert playback["flushes"] == 0

        await page.get_by_role("button", name="End exam").click()
        report = page.locator("#report")
        await expect(report).to_be_visible()
        await expect(page.locator("#report-rows tr")).to_have_count(1)
        await expect(page.locator("#report-rows tr").first).to_contain_text(transcript)
        await expect(page.locator("#report-summary")).to_contain_text("Total 10 / 120")
        await expect(page.locator("#report-summary")).to_contain_text("grade F")
        await expect(page.locator("#report-summary")).to_contain_text("Not passed")
        await expect(page.locator("#status")).to_have_text("You ended the exam.")
        await expect(page.locator("#error")).to_be_hidden()
        assert {"type": "end"} in script.controls
        assert script.first_messages == [
            {"type": "start", "token": TOKEN, "college_type": "medical"}
        ]
        await page.wait_for_function("window.newspeechExam.diagnostics().lastClose !== null")
        assert (await diagnostics(page))["lastClose"]["code"] == 1000


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
        await expect(page.locator("#error")).to_have_text(
            "The examiner's voice is the fallback voice. (voice_degraded)"
        )
        await page.wait_for_function(
            "window.newspeechExam.diagnostics().playback?.flushes === 1", timeout=20_000
        )
        assert script.flushed
        await expect(page.locator("#turn")).to_have_text("You are speaking")

        state = await diagnostics(page)
        playback = state["playback"]
        assert playback["droppedFrames"] > 0, "nothing was queued: the test proves nothing"
        assert playback["queuedFrames"] == 0
        assert not playback["playing"]

        # Nothing more of the question plays after the flush, though more had been received.
        await expect(page.locator("#evaluations li")).to_have_count(1, timeout=30_000)
        after = await diagnostics(page)
        received_frames = (
            after["playback"]["receivedBytes"] / 2 * after["contextSampleRate"] / 22_050
        )
        assert after["playback"]["playedAtFlush"] == playback["playedAtFlush"]
        question_frames_played = playback["playedAtFlush"]
        assert question_frames_played < received_frames
        question_sent = script.examiner_bytes_sent
        assert question_sent < 15.0 * 22_050 * 2  # the server stopped speaking too
        # The page keeps listening: the student's words reached the server and were graded.
        evaluation = next(e for e in script.events_sent if e["type"] == "evaluation")
        assert evaluation["matched"] == ["one", "two", "three"]
        await expect(page.locator("#error")).to_be_visible()  # the recoverable error stays shown


async def test_refused_token_shows_the_close_code_and_returns_to_the_form(
    launch_browser: LaunchBrowser, exam_server: ExamServer, answer_wav: Path
) -> None:
    script = exam_server.expect(ExamScript(token="the-right-token"))
    async with launch_browser(Microphone(answer_wav)) as browser:
        page = await browser.new_page()
        await start_exam(page, exam_server, token="a-wrong-token")
        error = page.get_by_role("alert")
        await expect(error).to_contain_text("Your sign-in was refused")
        await expect(error).to_contain_text("close code 4401")
        await expect(page.locator("#setup")).to_be_visible()
        await expect(page.locator("#exam")).to_be_hidden()
        await expect(page.get_by_role("button", name="Start exam")).to_be_enabled()
        assert script.close_code == 4401
        assert script.frame_sizes == []  # no audio before the server accepted the sitting


async def test_denied_microphone_permission_is_explained_and_no_exam_starts(
    launch_browser: LaunchBrowser, exam_server: ExamServer, answer_wav: Path
) -> None:
    script = exam_server.expect(ExamScript(token=TOKEN))
    async with launch_browser(Microphone(answer_wav, allow=False)) as browser:
        page = await browser.new_page()
        await start_exam(page, exam_server)
        await expect(page.get_by_role("alert")).to_contain_text("Microphone permission was denied")
        await expect(page.get_by_role("button", name="Start exam")).to_be_enabled()
        assert script.first_messages == []


async def test_missing_microphone_is_explained(
    launch_browser: LaunchBrowser, exam_server: ExamServer
) -> None:
    script = exam_server.expect(ExamScript(token=TOKEN))
    async with launch_browser(Microphone(None)) as browser:
        page = await browser.new_page()
        await start_exam(page, exam_server)
        await expect(page.get_by_role("alert")).to_contain_text("No microphone was found")
        assert script.first_messages == []


async def test_muted_microphone_sends_nothing_and_the_buttons_send_their_controls(
    launch_browser: LaunchBrowser, exam_server: ExamServer, answer_wav: Path
) -> None:
    script = exam_server.expect(ExamScript(token=TOKEN, question_seconds=1.0))
    async with launch_browser(Microphone(answer_wav)) as browser:
        page = await browser.new_page()
        await start_exam(page, exam_server)
        await expect(page.locator("#question")).to_have_text(script.question)
        mute = page.get_by_role("button", name="Mute microphone")
        await mute.click()
        await expect(page.locator("#mute")).to_have_attribute("aria-pressed", "true")
        muted = await diagnostics(page)
        # 5 s of captured microphone: the whole recording, "one two three" included.
        await page.wait_for_function(
            f"window.newspeechExam.diagnostics().framesCaptured >= {muted['framesCaptured'] + 250}"
        )
        assert (await diagnostics(page))["framesSent"] == muted["framesSent"]

        await page.get_by_role("button", name="Repeat question").click()
        await page.get_by_role("button", name="Skip question").click()
        await page.get_by_role("button", name="Unmute microphone").click()
        await expect(page.locator("#mute")).to_have_attribute("aria-pressed", "false")
        await page.wait_for_function(
            f"window.newspeechExam.diagnostics().framesSent > {muted['framesSent']}"
        )
        await page.get_by_role("button", name="End exam").click()
        await expect(page.locator("#report-rows tr").first).to_contain_text("(no answer)")

    assert [c["type"] for c in script.controls] == ["start", "repeat", "skip", "end"]
    assert not any(e["type"] == "vad" for e in script.events_sent)  # it never heard speech
    assert script.close_code == 1000


async def test_a_dropped_sitting_is_resumed_with_its_session_code(
    launch_browser: LaunchBrowser, exam_server: ExamServer, answer_wav: Path
) -> None:
    dropped = exam_server.expect(ExamScript(token=TOKEN, question_seconds=1.0, drop_with=1011))
    resumed = exam_server.expect(ExamScript(token=TOKEN, question_seconds=1.0))
    async with launch_browser(Microphone(answer_wav)) as browser:
        page = await browser.new_page()
        await start_exam(page, exam_server)
        error = page.get_by_role("alert")
        await expect(error).to_contain_text("you can resume the exam")
        await expect(error).to_contain_text("close code 1011")
        resume = page.get_by_role("button", name="Resume my exam")
        await resume.click()

        await expect(page.locator("#evaluations li")).to_have_count(1, timeout=30_000)
        await expect(page.locator("#error")).to_be_hidden()
        await expect(resume).to_be_hidden()

    assert dropped.session_code is not None
    assert resumed.first_messages == [
        {"type": "resume", "token": TOKEN, "session_code": dropped.session_code}
    ]
    evaluation = next(e for e in resumed.events_sent if e["type"] == "evaluation")
    assert evaluation["matched"] == ["one", "two", "three"]
