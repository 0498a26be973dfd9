"""Fault suite: ``kill -9`` of a real ``newspeech serve`` in the middle of a turn, on PostgreSQL.

A student answers question 1 over the real socket; as the examiner starts its reply the server
process is killed (SIGKILL: no shutdown, no drain). A new process on the same database and data
folder must resume the sitting at question 2 with answer 1, its evaluation and its recording
kept (stored at once, or from the spool at start-up): answers lost 0, duplicated 0, recordings
lost 0.

Real time and real speech engines by nature (a real server process): it asserts what is
stored and where the sitting resumes, never the words heard or a mark.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from newspeech.models import SessionStatus
from tests.exams.real_exam import (
    Sitting,
    make_student,
    next_event,
    send_json,
    started,
    stored,
    stored_audio_key,
)
from tests.exams.serve_process import World, free_port, newspeech_serve
from tests.fixtures.voices import CandidateVoices

pytestmark = pytest.mark.backends  # PostgreSQL, whatever NEWSPEECH_TEST_BACKENDS selects


async def test_kill_9_mid_turn_then_restart_resumes_at_the_next_question_with_nothing_lost(
    world: World,
    voices: CandidateVoices,
) -> None:
    env, db = world
    port = free_port()
    url = f"ws://127.0.0.1:{port}/ws/exam"
    async with newspeech_serve(env, port) as first:
        student = await make_student(db, f"http://127.0.0.1:{port}", "kim", "Kim Walker")
        async with connect(url, max_size=None) as ws:
            await send_json(ws, type="start", token=student.token, college_type="medical")
            code = started(await next_event(ws))["session_code"]
            sitting = Sitting(ws, db, voices)
            streaming = asyncio.create_task(sitting.microphone.run())
            try:
                evaluation = await sitting.until("evaluation")
                await sitting.until("speaking")  # the reply has begun: mid-turn
                first.kill()  # SIGKILL
                await first.wait()
            finally:
                streaming.cancel()
    assert first.returncode == -signal.SIGKILL
    assert evaluation["question_number"] == 1

    async with newspeech_serve(env, port):
        async with connect(url, max_size=None) as ws:
            await send_json(ws, type="resume", token=student.token, session_code=code)
            resumed = started(await next_event(ws))
            asked = await next_event(ws, "question")
            await send_json(ws, type="end")
            assert (await next_event(ws, "ended"))["reason"] == "ended_by_student"
        assert resumed["resumed"] is True
        assert asked["number"] == 2  # resumed at the right question
        rows = await stored(db, code)
        [answer] = rows["answers"]  # answers lost 0, duplicated 0
        assert answer.question_number == 1
        [kept] = rows["evaluations"]
        assert kept.answer_id == answer.id
        key = await stored_audio_key(db, answer.id)  # recordings lost 0
        assert (Path(env["NEWSPEECH_DATA_DIR"]) / "answer-audio" / key).is_file()
        assert rows["session"].status is SessionStatus.TERMINATED
