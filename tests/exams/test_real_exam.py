"""The REAL exam end to end on every database backend: ``create_app`` with speech on and no
scripted opener (the exam service, the hybrid grader with MiniLM, the seeded medical bank) and
answers in a deterministic Piper voice.

What is heard and graded is asserted on the virtual clock: the session loop runs frame by frame
(``tests/voice/session_harness.py``) around the real exam, so turn boundaries, transcripts and
marks are the same on every run and every backend. The opening of the socket (close codes) is
checked here too; the real-time socket sittings live in test_real_exam_socket.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import httpx
import numpy as np
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from newspeech.app import create_app, exam_dependencies
from newspeech.colleges.repository import CollegeTypeRepository
from newspeech.config import Settings
from newspeech.exams.repository import ExamSessionRepository
from newspeech.exams.service import ExamConversation
from newspeech.kit.passwords import hash_password
from newspeech.models import (
    EvaluatorType,
    SessionStatus,
    User,
    UserRole,
    UserStatus,
)
from newspeech.questions.importer import import_questions
from newspeech.questions.interchange import ImportFormat, parse_questions
from newspeech.questions.repository import QuestionRepository
from newspeech.storage.local import LocalAudioStore
from newspeech.users.repository import UserRepository
from newspeech.voice.audio import decode_audio
from newspeech.voice.conversation import Control
from newspeech.voice.protocols import PCM16, SAMPLE_RATE
from tests.exams.real_exam import (
    IDENTITY_ANSWER,
    PASSWORD,
    RealServer,
    http_url,
    model_answer_opening,
    next_event,
    seed,
    send_json,
    started,
    stored,
    stored_audio_key,
    student,
)
from tests.exams.ws_client import serve
from tests.fixtures.virtual_clock import VirtualClock
from tests.fixtures.voices import CandidateVoices
from tests.voice.session_harness import Exam, start_exam
from tests.voice.wer import word_error_rate

SPOKEN_SECONDS = 240.0
"""Virtual seconds the examiner may take to reach a point (welcome, case, question)."""


@pytest.fixture(scope="module")
async def server(
    settings: Settings,
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[RealServer]:
    """The production app on this backend's database, served on a local port."""
    await seed(sessionmaker)  # the grader reads its thresholds from the configuration at start
    real = settings.model_copy(update={"speech_enabled": True, "inference_workers": 2})
    app = create_app(real)
    async with serve(app) as url:
        yield RealServer(url, app)


@pytest.fixture
async def world(
    server: RealServer, sessionmaker: async_sessionmaker[AsyncSession]
) -> async_sessionmaker[AsyncSession]:
    await seed(sessionmaker)  # every test starts from empty tables
    return sessionmaker


async def virtual_sitting(
    server: RealServer, db: async_sessionmaker[AsyncSession], name: str, college: str = "medical"
) -> Exam[ExamConversation]:
    """A sitting (medical unless told) for a new student, its loop on a virtual clock (no
    socket)."""
    async with db() as session:
        user = await UserRepository(session).create(
            username=name.lower(),
            email=f"{name.lower()}@example.org",
            password_hash=hash_password(PASSWORD),
            full_name=f"{name} Walker",
            role=UserRole.STUDENT,
            college_type=college,
        )
        await session.commit()
        user = await session.get_one(User, user.id)
    state = server.app.state
    clock = VirtualClock()
    conversation = await ExamConversation.start(
        exam_dependencies(state, loop_clock=clock.now), user, college
    )
    return start_exam(state.voice, conversation, state.loop_settings, clock)


@dataclass
class Heard:
    """What one virtual sitting heard, graded and stored: the same audio gives the same."""

    code: str
    answer_text: str
    transcripts: list[str]
    evaluation: dict[str, Any]
    exam: Exam[ExamConversation]


async def answer_question_one(
    server: RealServer, db: async_sessionmaker[AsyncSession], voices: CandidateVoices, name: str
) -> Heard:
    """Confirm identity, answer question 1 with its model answer's first sentence, end."""
    exam = await virtual_sitting(server, db, name)
    await exam.wait_for_event("listening", max_seconds=SPOKEN_SECONDS)  # "Am I speaking with …?"
    await exam.play(voices.piper(IDENTITY_ANSWER))
    question = await exam.wait_for_event("question", max_seconds=SPOKEN_SECONDS)
    await exam.wait_for_event("listening", 2, max_seconds=SPOKEN_SECONDS)
    answer_text = await model_answer_opening(db, question["text"])
    await exam.play(voices.piper(answer_text))
    evaluation = await exam.wait_for_event("evaluation", max_seconds=SPOKEN_SECONDS)
    await exam.control(Control.END)
    await exam.wait_until(exam.task.done, max_seconds=SPOKEN_SECONDS)
    assert await exam.task == "ended_by_student"
    finals = [e["text"] for e in exam.wire.events("transcript") if e["final"]]
    return Heard(exam.conversation.session_code, answer_text, finals, evaluation, exam)


async def test_a_real_exam_on_the_virtual_clock_hears_grades_and_stores_everything(
    server: RealServer,
    world: async_sessionmaker[AsyncSession],
    settings: Settings,
    voices: CandidateVoices,
) -> None:
    heard = await answer_question_one(server, world, voices, "Alice")
    exam = heard.exam
    welcome = exam.wire.events("speaking")[0]
    assert welcome["kind"] == "welcome"
    assert "Alice" in welcome["text"]
    assert len(heard.transcripts) == 2
    assert "yes" in heard.transcripts[0].lower()
    # The model answer's first sentence; tiny.en spells "ST-elevation" its own way ("SD
    # elevation"): the same way on every run, since the audio and its framing are the same.
    assert word_error_rate(heard.answer_text, heard.transcripts[1]) <= 0.25
    evaluation = heard.evaluation
    assert evaluation["question_number"] == 1
    assert evaluation["score"] > 0
    assert [e["number"] for e in exam.wire.events("question")][:1] == [1]
    assert [s["index"] for s in exam.wire.events("scenario")] == [1]
    [result] = exam.wire.events("result")
    assert result["answers"][0]["number"] == 1
    assert result["total_score"] == evaluation["score"]
    assert exam.wire.events("ended")[0]["reason"] == "ended_by_student"

    rows = await stored(world, heard.code)
    assert rows["session"].status is SessionStatus.TERMINATED
    assert rows["session"].start_time is not None
    [answer] = rows["answers"]
    assert answer.question_number == 1
    assert answer.transcribed_text == heard.transcripts[1]
    assert answer.is_complete
    assert isinstance(answer.turn_latency, dict)
    assert {"response_ms", "voice_to_voice_ms"} <= answer.turn_latency.keys()
    [stored_evaluation] = rows["evaluations"]
    assert stored_evaluation.answer_id == answer.id
    assert stored_evaluation.evaluator_type is EvaluatorType.HYBRID
    assert stored_evaluation.score_obtained == round(evaluation["score"])
    key = await stored_audio_key(world, answer.id)
    assert key == f"session-{answer.session_id}/answer-{answer.id}.ogg"
    recording = decode_audio(await LocalAudioStore(settings.audio_folder).get(key), max_seconds=600)
    assert len(recording) / SAMPLE_RATE == pytest.approx(answer.audio_duration_seconds, abs=0.1)
    assert len(recording) >= 0.9 * len(voices.piper(heard.answer_text))  # all of the answer
    audits = (await stored(world, heard.code))["audits"]
    for action in (
        "exam.created",
        "exam.started",
        "exam.answer_stored",
        "exam.answer_evaluated",
        "answer.audio_stored",
        "exam.terminated",
    ):
        assert action in audits


async def test_the_same_answers_are_heard_and_graded_the_same_every_time(
    server: RealServer, world: async_sessionmaker[AsyncSession], voices: CandidateVoices
) -> None:
    """Two sittings, the same spoken answers: the same turns, words and marks (the property a
    red-or-green test needs; real-time framing once made tiny.en hear this answer differently
    from run to run)."""
    first = await answer_question_one(server, world, voices, "Dora")
    second = await answer_question_one(server, world, voices, "Emil")
    assert second.transcripts == first.transcripts
    assert second.evaluation["score"] == first.evaluation["score"]
    assert second.evaluation["feedback_type"] == first.evaluation["feedback_type"]
    durations = []
    for heard in (first, second):
        [answer] = (await stored(world, heard.code))["answers"]
        durations.append(answer.audio_duration_seconds)
    assert durations[0] == durations[1]


async def test_yes_over_the_welcome_then_an_answer_over_the_case_answers_question_one(
    server: RealServer, world: async_sessionmaker[AsyncSession], voices: CandidateVoices
) -> None:
    """The candidate says "yes" over the welcome and answers over the instructions, as the
    browser test's candidate does: the "yes" is an identity reply (a yes or no that does not
    go on), so the answer barges in as question 1's answer — question 1 is shown, and the
    answer is not heard as more of the "yes"."""
    exam = await virtual_sitting(server, world, "Gita")
    await exam.wait_until(lambda: len([x for x in exam.wire.log if x[1] == "audio"]) > 40)
    await exam.play(voices.piper("Yes."))
    await exam.wait_until(
        lambda: any(e["kind"] == "prompt" for e in exam.wire.events("speaking")),
        max_seconds=SPOKEN_SECONDS,
    )
    answer_text = "This is an acute inferior ST-elevation myocardial infarction."
    await exam.play(voices.piper(answer_text))
    evaluation = await exam.wait_for_event("evaluation", max_seconds=SPOKEN_SECONDS)
    await exam.control(Control.END)
    await exam.wait_until(exam.task.done, max_seconds=SPOKEN_SECONDS)

    assert exam.session.stats.barge_ins == 2  # the welcome, then the instructions
    assert exam.session.stats.continuations == 0
    assert evaluation["question_number"] == 1
    assert [e["number"] for e in exam.wire.events("question")][:1] == [1]
    finals = [e["text"] for e in exam.wire.events("transcript") if e["final"]]
    assert "yes" in finals[0].lower()
    assert word_error_rate(answer_text, finals[1]) <= 0.25


def listening_for(exam: Exam[ExamConversation], number: int) -> bool:
    """Question ``number`` has been asked (spoken) and the examiner listens for its answer."""
    events = exam.wire.events()
    asked = [i for i, e in enumerate(events) if e["type"] == "question" and e["number"] == number]
    return bool(asked) and any(e["type"] == "listening" for e in events[asked[-1] + 1 :])


def with_pause(voices: CandidateVoices, before: str, after: str, seconds: float) -> PCM16:
    """Two clauses of one answer with a thinking pause spliced between them."""
    gap = np.zeros(round(seconds * SAMPLE_RATE), dtype=np.int16)
    return np.concatenate([voices.piper(before), gap, voices.piper(after)])


async def test_answers_with_pauses_stay_whole_and_under_the_question_that_was_asked(
    server: RealServer, world: async_sessionmaker[AsyncSession], voices: CandidateVoices
) -> None:
    """The answers a prepared candidate gives: clauses with thinking pauses, lists with
    commas. Wherever the end of an answer is first declared, the rest of it — spoken over the
    feedback — goes on the same answer, and every answer is stored under its own question."""
    exam = await virtual_sitting(server, world, "Fiona")
    await exam.wait_for_event("listening", max_seconds=SPOKEN_SECONDS)
    await exam.play(voices.piper(IDENTITY_ANSWER))
    spoken = {
        1: voices.piper("This is an acute inferior ST-elevation myocardial infarction."),
        2: with_pause(
            voices,
            "I would record a right-sided ECG looking at V4R,",
            "and send a high-sensitivity troponin and baseline bloods.",
            1.2,
        ),
        3: with_pause(
            voices,
            "Give aspirin and ticagrelor and arrange urgent primary PCI,",
            "and be cautious with nitrates because of possible right ventricular infarction.",
            1.5,
        ),
    }
    for number, pcm in spoken.items():
        await exam.wait_until(partial(listening_for, exam, number), max_seconds=SPOKEN_SECONDS)
        await exam.play(pcm)
    await exam.wait_until(lambda: listening_for(exam, 4), max_seconds=SPOKEN_SECONDS)
    await exam.control(Control.END)
    await exam.wait_until(exam.task.done, max_seconds=SPOKEN_SECONDS)

    rows = await stored(world, exam.conversation.session_code)
    texts = {a.question_number: (a.transcribed_text or "").lower() for a in rows["answers"]}
    assert sorted(texts) == [1, 2, 3]
    assert "ecg" in texts[2]
    assert "troponin" in texts[2] or "bloods" in texts[2]  # the clause after the pause
    assert "aspirin" in texts[3]
    assert "nitrates" in texts[3] or "ventricular" in texts[3]
    assert "bloods" not in texts[3]
    assert "nitrates" not in texts[2]
    assert len(rows["evaluations"]) == 3
    for answer in rows["answers"]:
        duration = answer.audio_duration_seconds
        assert duration >= 0.9 * spoken[answer.question_number].size / SAMPLE_RATE


async def test_a_bad_token_closes_with_4401(
    server: RealServer, world: async_sessionmaker[AsyncSession]
) -> None:
    del world
    async with connect(server.url) as ws:
        await send_json(ws, type="start", token="not.a.token", college_type="medical")
        assert (await next_event(ws))["error"] == "unauthenticated"
        with pytest.raises(ConnectionClosed):
            await ws.recv()
    assert ws.close_code == 4401


async def test_resuming_another_students_sitting_closes_with_4403(
    server: RealServer, world: async_sessionmaker[AsyncSession]
) -> None:
    alice = await student(server, world, "Alice")
    bob = await student(server, world, "Bob")
    async with connect(server.url) as ws:
        await send_json(ws, type="start", token=alice.token, college_type="medical")
        code = started(await next_event(ws))["session_code"]
    async with connect(server.url) as ws:
        await send_json(ws, type="resume", token=bob.token, session_code=code)
        assert (await next_event(ws))["error"] == "permission_denied"
        with pytest.raises(ConnectionClosed):
            await ws.recv()
    assert ws.close_code == 4403
    rows = await stored(world, code)
    assert rows["session"].status is SessionStatus.PENDING


async def test_a_start_with_a_sitting_unfinished_resumes_it(
    server: RealServer, world: async_sessionmaker[AsyncSession]
) -> None:
    carol = await student(server, world, "Carol")
    async with connect(server.url) as ws:
        await send_json(ws, type="start", token=carol.token, college_type="medical")
        first = await next_event(ws)
    assert (first["type"], first.get("resumed")) == ("session_started", False), first
    async with connect(server.url) as ws:
        await send_json(ws, type="start", token=carol.token, college_type="medical")
        again = await next_event(ws)
    assert (again["type"], again.get("resumed")) == ("session_started", True), again
    assert again["session_code"] == first["session_code"]
    assert again["total_questions"] == 12


async def test_a_start_after_the_only_attempt_closes_with_4409_and_says_why(
    server: RealServer, world: async_sessionmaker[AsyncSession]
) -> None:
    dave = await student(server, world, "Dave")
    async with connect(server.url) as ws:
        await send_json(ws, type="start", token=dave.token, college_type="medical")
        code = started(await next_event(ws))["session_code"]
    async with world() as db:
        exam_session = await ExamSessionRepository(db).get_by_code(code)
        assert exam_session is not None
        await ExamSessionRepository(db).terminate(exam_session.id)
        await db.commit()
    async with connect(server.url) as ws:
        await send_json(ws, type="start", token=dave.token, college_type="medical")
        refused = await next_event(ws)
        with pytest.raises(ConnectionClosed):
            await ws.recv()
    assert ws.close_code == 4409
    assert refused["error"] == "attempt_limit_reached"
    assert "ask your examiner to allow another attempt" in refused["detail"]


async def closed(ws: ClientConnection) -> None:
    """Read (and drop) what is left until the server closes ``ws``."""
    try:
        async for _ in ws:
            pass
    except ConnectionClosed:  # closed with an error code (4xxx)
        return


async def test_opening_the_exam_again_takes_the_sitting_over_from_the_older_connection(
    server: RealServer, world: async_sessionmaker[AsyncSession]
) -> None:
    """A second tab (or a reload before the server noticed the first had gone): the older
    connection is told and closed with 4000, its loop finishes, and only then is the sitting
    read for the newer one, which resumes it. Never two loops on one sitting."""
    erin = await student(server, world, "Erin")
    async with connect(server.url) as first:
        await send_json(first, type="start", token=erin.token, college_type="medical")
        code = started(await next_event(first))["session_code"]
        async with connect(server.url) as second:
            await send_json(second, type="start", token=erin.token, college_type="medical")
            again = started(await next_event(second))
            told = await next_event(first, "error")
            await closed(first)
    assert first.close_code == 4000
    assert told["error"] == "taken_over"
    assert (again["session_code"], again["resumed"]) == (code, True)
    audits = (await stored(world, code))["audits"]
    # the older loop had finished (its disconnect recorded) before the sitting was read again
    assert audits.index("exam.disconnected") < audits.index("exam.resumed")


@pytest.mark.parametrize("how", ["signed out", "deactivated"])
async def test_an_open_exam_closes_with_4401_soon_after_its_sign_in_ends(
    server: RealServer, world: async_sessionmaker[AsyncSession], how: str
) -> None:
    """Signing out (elsewhere) or an administrator deactivating the account ends the live
    socket within seconds (the sitting stays as it was: resumable after signing in again)."""
    fay = await student(server, world, "Fay")
    async with connect(server.url) as ws:
        await send_json(ws, type="start", token=fay.token, college_type="medical")
        code = started(await next_event(ws))["session_code"]
        if how == "signed out":
            async with httpx.AsyncClient(base_url=http_url(server.url)) as client:
                out = await client.post(
                    "/api/v1/auth/logout", headers={"Authorization": f"Bearer {fay.token}"}
                )
            assert out.status_code == 204
        else:
            async with world() as db:
                user = await UserRepository(db).get_by_username("fay")
                assert user is not None
                user.status = UserStatus.INACTIVE
                await db.commit()
        told = await next_event(ws, "error")
        await closed(ws)
    assert ws.close_code == 4401
    assert told["error"] == "unauthenticated"
    assert (await stored(world, code))["session"].status is SessionStatus.PENDING


IMPORTED_GIFT = """$CATEGORY: $course$/emergency/Imported

::Q1::Why does a patient with sepsis need fluids early?{
####Sepsis makes the blood vessels dilate and leak, so blood pressure falls and the organs
are starved of oxygen. Early intravenous fluids restore the circulating volume and organ
perfusion.}
"""
"""A college's own question as GIFT exports carry it: question and model answer, no keywords."""
IMPORTED_CORRECT = (
    "The vessels widen and leak in sepsis, so the blood pressure drops and the organs do not "
    "get enough oxygen. Early fluids into the vein fill the circulation and perfuse the organs."
)
IMPORTED_WRONG = "Give them a cold drink for the headache and let them sleep it off at home."


async def answer_the_only_question(
    server: RealServer,
    db: async_sessionmaker[AsyncSession],
    voices: CandidateVoices,
    name: str,
    answer: str,
) -> Heard:
    """A sitting of the imported college (one question): identity, the answer, the end."""
    exam = await virtual_sitting(server, db, name, college="emergency")
    await exam.wait_for_event("listening", max_seconds=SPOKEN_SECONDS)
    await exam.play(voices.piper(IDENTITY_ANSWER))
    question = await exam.wait_for_event("question", max_seconds=SPOKEN_SECONDS)
    assert question["text"] == "Why does a patient with sepsis need fluids early?"
    await exam.wait_for_event("listening", 2, max_seconds=SPOKEN_SECONDS)
    await exam.play(voices.piper(answer))
    evaluation = await exam.wait_for_event("evaluation", max_seconds=SPOKEN_SECONDS)
    await exam.wait_until(exam.task.done, max_seconds=SPOKEN_SECONDS)
    finals = [e["text"] for e in exam.wire.events("transcript") if e["final"]]
    return Heard(exam.conversation.session_code, answer, finals, evaluation, exam)


async def test_a_question_imported_with_only_a_model_answer_is_graded_in_a_real_exam(
    server: RealServer, world: async_sessionmaker[AsyncSession], voices: CandidateVoices
) -> None:
    """A GIFT question with a model answer and no keywords, imported into its own college's
    bank, asked in real sittings: keywords are derived at import, and the default grader
    (hybrid, MiniLM, the shipped mark model) marks the spoken correct answer >= 8 and the
    spoken wrong one <= 3."""
    async with world() as db:
        await CollegeTypeRepository(db).get_or_create("emergency", name="Emergency care")
        report = await import_questions(
            db, parse_questions(IMPORTED_GIFT.encode(), ImportFormat.GIFT)
        )
        await db.commit()
        [question] = await QuestionRepository(db).for_college("emergency")
    assert (report.new, report.errors) == (1, 0), report
    assert question.keywords
    assert all(k["derived"] for k in question.keywords)

    right = await answer_the_only_question(server, world, voices, "Grace", IMPORTED_CORRECT)
    wrong = await answer_the_only_question(server, world, voices, "Henry", IMPORTED_WRONG)

    for heard in (right, wrong):
        assert word_error_rate(heard.answer_text, heard.transcripts[-1]) <= 0.25, heard
        [answer] = (await stored(world, heard.code))["answers"]
        assert answer.transcribed_text == heard.transcripts[-1]
        [evaluation] = (await stored(world, heard.code))["evaluations"]
        assert evaluation.evaluator_type is EvaluatorType.HYBRID
        assert evaluation.score_obtained == round(heard.evaluation["score"])
    assert right.evaluation["score"] >= 8, right.evaluation
    assert wrong.evaluation["score"] <= 3, wrong.evaluation
