"""The REAL exam end to end on every database backend: uvicorn + ``create_app`` with speech on
and no scripted opener (the exam service, the hybrid grader with MiniLM, the seeded medical
bank), a student signed in through the login endpoint, and Piper-voiced answers.

Transcripts, events and stored rows are asserted, never how long anything took.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from newspeech.app import create_app
from newspeech.config import Settings
from newspeech.exams.candidate import IDENTITY, Candidate, load_answers
from newspeech.models import (
    Answer,
    AuditLog,
    Evaluation,
    EvaluatorType,
    ExamSession,
    Question,
    SessionStatus,
)
from newspeech.storage.local import LocalAudioStore
from newspeech.voice.audio import decode_audio, encode_wav
from newspeech.voice.engines import SpeechEngines
from newspeech.voice.protocols import PCM16, SAMPLE_RATE
from tests.exams.real_exam import (
    IDENTITY_ANSWER,
    Microphone,
    Student,
    first_sentences,
    make_student,
    next_event,
    piper_pcm16,
    seed,
    send_json,
)
from tests.exams.ws_client import parse, serve
from tests.voice.wer import word_error_rate


@pytest.fixture(scope="module")
async def server(
    settings: Settings,
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[tuple[str, SpeechEngines]]:
    """The production app on this backend's database; yields the socket URL and its engines."""
    await seed(sessionmaker)  # the grader reads its thresholds from the configuration at start
    real = settings.model_copy(update={"speech_enabled": True, "inference_workers": 2})
    app = create_app(real)
    async with serve(app) as url:
        yield url, app.state.speech


@pytest.fixture
async def world(
    server: tuple[str, SpeechEngines], sessionmaker: async_sessionmaker[AsyncSession]
) -> async_sessionmaker[AsyncSession]:
    await seed(sessionmaker)  # every test starts from empty tables
    return sessionmaker


def http_url(ws_url: str) -> str:
    return ws_url.replace("ws://", "http://").removesuffix("/ws/exam")


async def student(
    server: tuple[str, SpeechEngines], db: async_sessionmaker[AsyncSession], name: str
) -> Student:
    return await make_student(db, http_url(server[0]), name.lower(), f"{name} Walker")


async def spoken_answer(
    db: async_sessionmaker[AsyncSession], speech: SpeechEngines, question_text: str
) -> tuple[str, PCM16]:
    """A sentence from the asked question's model answer, in Piper's voice."""
    async with db() as session:
        question = (
            await session.scalars(
                select(Question).where(
                    Question.college_type == "medical", Question.question_text == question_text
                )
            )
        ).one()
    text = first_sentences(question.model_answer or "")
    return text, await piper_pcm16(speech, text)


class Sitting:
    """Drives one connection: confirms identity when asked, answers question 1, records every
    event. ``barge_in`` answers question 1 over the case presentation instead of after it."""

    def __init__(
        self,
        ws: ClientConnection,
        db: async_sessionmaker[AsyncSession],
        speech: SpeechEngines,
        *,
        barge_in: bool = False,
    ) -> None:
        self.ws, self.db, self.speech, self.barge_in = ws, db, speech, barge_in
        self.microphone = Microphone(ws)
        self.events: list[dict[str, Any]] = []
        self.answer_text = ""
        self.answer_pcm: PCM16 = np.zeros(0, dtype=np.int16)
        self._answer: PCM16 | None = None
        self._identity: PCM16 | None = None
        self._answered = False

    async def prepare_identity(self) -> None:
        self._identity = await piper_pcm16(self.speech, IDENTITY_ANSWER)

    async def until(self, event_type: str, **fields: Any) -> dict[str, Any]:
        """Read (and react to) events until one of ``event_type`` with ``fields`` arrives."""
        while True:
            item = parse(await asyncio.wait_for(self.ws.recv(), 180))
            if isinstance(item, bytes):
                continue
            self.events.append(item)
            await self._react(item)
            if item["type"] == event_type and all(item.get(k) == v for k, v in fields.items()):
                return item

    async def _react(self, event: dict[str, Any]) -> None:
        if event["type"] == "question" and event["number"] == 1 and self._answer is None:
            self.answer_text, self._answer = await spoken_answer(
                self.db, self.speech, event["text"]
            )
            self.answer_pcm = self._answer
            if self.barge_in:
                self.microphone.queue.put_nowait(self._answer)
        elif event["type"] == "listening":
            if self._identity is not None:
                self.microphone.queue.put_nowait(self._identity)
                self._identity = None
            elif self._answer is not None and not self.barge_in and not self._answered:
                self.microphone.queue.put_nowait(self._answer)
                self._answered = True

    def finals(self) -> list[str]:
        return [e["text"] for e in self.events if e["type"] == "transcript" and e["final"]]

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == kind]


async def stored(db: async_sessionmaker[AsyncSession], code: str) -> dict[str, Any]:
    async with db() as session:
        exam_session = (
            await session.scalars(select(ExamSession).where(ExamSession.session_code == code))
        ).one()
        answers = list(
            await session.scalars(
                select(Answer)
                .where(Answer.session_id == exam_session.id)
                .order_by(Answer.question_number)
            )
        )
        evaluations = list(
            await session.scalars(
                select(Evaluation).where(Evaluation.session_id == exam_session.id)
            )
        )
        audits = list(
            await session.scalars(
                select(AuditLog.action)
                .where(AuditLog.session_id == exam_session.id)
                .order_by(AuditLog.id)
            )
        )
    return {
        "session": exam_session,
        "answers": answers,
        "evaluations": evaluations,
        "audits": audits,
    }


async def stored_audio_key(db: async_sessionmaker[AsyncSession], answer_id: int) -> str:
    """The answer's audio key, once the background upload has recorded it (two minutes at
    most: a wait for an outcome, not a timing assertion)."""
    for _ in range(1200):
        async with db() as session:
            key = await session.scalar(
                select(Answer.answer_audio_path).where(Answer.id == answer_id)
            )
        if key is not None:
            return key
        await asyncio.sleep(0.1)
    raise AssertionError(f"answer {answer_id} has no stored audio")


async def test_a_real_exam_confirms_identity_grades_an_answer_and_stores_everything(
    server: tuple[str, SpeechEngines], world: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    url, speech = server
    alice = await student(server, world, "Alice")
    async with connect(url, max_size=None) as ws:
        await send_json(ws, type="start", token=alice.token, college_type="medical")
        started = await next_event(ws)
        assert started["type"] == "session_started"
        assert started["total_questions"] == 12
        sitting = Sitting(ws, world, speech)
        await sitting.prepare_identity()
        streaming = asyncio.create_task(sitting.microphone.run())
        try:
            welcome = await sitting.until("speaking", kind="welcome")
            assert "Alice" in welcome["text"]
            question = await sitting.until("question", number=1)
            evaluation = await sitting.until("evaluation")
            await sitting.until("latency")
            await send_json(ws, type="end")
            result = await sitting.until("result")
            ended = await sitting.until("ended")
        finally:
            streaming.cancel()
    assert ws.close_code == 1000

    said = sitting.finals()
    assert len(said) == 2
    assert "yes" in said[0].lower()
    # The model answer's first sentence; tiny.en spells its abbreviation its own way ("ST-elevation"
    # -> "SD elevation", 2 of 8 words).
    assert word_error_rate(sitting.answer_text, said[1]) <= 0.5
    assert question["total"] == 12
    assert [s["index"] for s in sitting.of("scenario")] == [1]
    assert evaluation["question_number"] == 1
    assert evaluation["score"] > 0
    assert ended["reason"] == "ended_by_student"
    assert result["answers"][0]["number"] == 1
    assert result["total_score"] == evaluation["score"]

    rows = await stored(world, started["session_code"])
    assert rows["session"].status is SessionStatus.TERMINATED
    assert rows["session"].start_time is not None
    [answer] = rows["answers"]
    assert answer.question_number == 1
    assert answer.transcribed_text == said[1]
    assert answer.is_complete
    assert isinstance(answer.turn_latency, dict)
    assert {"response_ms", "voice_to_voice_ms"} <= answer.turn_latency.keys()
    [stored_evaluation] = rows["evaluations"]
    assert stored_evaluation.answer_id == answer.id
    key = await stored_audio_key(world, answer.id)
    assert key == f"session-{answer.session_id}/answer-{answer.id}.ogg"
    recording = decode_audio(await LocalAudioStore(settings.audio_folder).get(key), max_seconds=600)
    assert len(recording) / SAMPLE_RATE == pytest.approx(answer.audio_duration_seconds, abs=0.1)
    assert len(recording) >= 0.9 * len(sitting.answer_pcm)  # all of the spoken answer
    assert "answer.audio_stored" in (await stored(world, started["session_code"]))["audits"]
    assert stored_evaluation.evaluator_type is EvaluatorType.HYBRID
    assert stored_evaluation.score_obtained == round(evaluation["score"])
    for action in (
        "exam.created",
        "exam.started",
        "exam.answer_stored",
        "exam.answer_evaluated",
        "exam.terminated",
    ):
        assert action in rows["audits"]


async def test_a_dropped_sitting_resumes_after_the_answered_question(
    server: tuple[str, SpeechEngines], world: async_sessionmaker[AsyncSession]
) -> None:
    """Question 1 is answered over the case presentation (barge-in: the interrupted case counts
    as read), the socket drops once question 2 is asked, and resume asks question 2."""
    url, speech = server
    carol = await student(server, world, "Carol")
    async with connect(url, max_size=None) as ws:
        await send_json(ws, type="start", token=carol.token, college_type="medical")
        code = (await next_event(ws))["session_code"]
        sitting = Sitting(ws, world, speech, barge_in=True)
        await sitting.prepare_identity()
        streaming = asyncio.create_task(sitting.microphone.run())
        try:
            await sitting.until("flush")
            evaluation = await sitting.until("evaluation")
            await sitting.until("question", number=2)
        finally:
            streaming.cancel()
    assert evaluation["question_number"] == 1

    async with connect(url, max_size=None) as ws:
        await send_json(ws, type="resume", token=carol.token, session_code=code)
        resumed = await next_event(ws)
        assert resumed["type"] == "session_started"
        assert resumed["session_code"] == code
        asked = await next_event(ws, "question")
        await send_json(ws, type="end")
        assert (await next_event(ws, "ended"))["reason"] == "ended_by_student"
    assert asked["number"] == 2

    rows = await stored(world, code)
    assert [a.question_number for a in rows["answers"]] == [1]
    assert "exam.utterance_interrupted" in rows["audits"]
    assert "exam.disconnected" in rows["audits"]
    assert "exam.resumed" in rows["audits"]


async def test_a_bad_token_closes_with_4401(
    server: tuple[str, SpeechEngines], world: async_sessionmaker[AsyncSession]
) -> None:
    del world
    async with connect(server[0]) as ws:
        await send_json(ws, type="start", token="not.a.token", college_type="medical")
        assert (await next_event(ws))["error"] == "unauthenticated"
        with pytest.raises(ConnectionClosed):
            await ws.recv()
    assert ws.close_code == 4401


async def test_resuming_another_students_sitting_closes_with_4403(
    server: tuple[str, SpeechEngines], world: async_sessionmaker[AsyncSession]
) -> None:
    alice = await student(server, world, "Alice")
    bob = await student(server, world, "Bob")
    async with connect(server[0]) as ws:
        await send_json(ws, type="start", token=alice.token, college_type="medical")
        code = (await next_event(ws))["session_code"]
    async with connect(server[0]) as ws:
        await send_json(ws, type="resume", token=bob.token, session_code=code)
        assert (await next_event(ws))["error"] == "permission_denied"
        with pytest.raises(ConnectionClosed):
            await ws.recv()
    assert ws.close_code == 4403
    rows = await stored(world, code)
    assert rows["session"].status is SessionStatus.PENDING


async def test_the_simulated_candidate_confirms_identity_from_its_identity_answer(
    server: tuple[str, SpeechEngines], world: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    """``newspeech exam`` / bench/latency.py's candidate: ``identity.wav`` answers "Am I speaking
    with ...?", ``1.wav`` question 1, and ``end_after`` ends the sitting once it is graded."""
    url, speech = server
    erin = await student(server, world, "Erin")
    async with world() as db:
        [first] = await db.scalars(
            select(Question)
            .where(Question.college_type == "medical")
            .order_by(Question.scenario_id, Question.question_number)
            .limit(1)
        )
    folder = tmp_path / "answers"
    folder.mkdir()
    (folder / "identity.wav").write_bytes(encode_wav(await piper_pcm16(speech, IDENTITY_ANSWER)))
    answer_text = first_sentences(first.model_answer or "")
    (folder / "1.wav").write_bytes(encode_wav(await piper_pcm16(speech, answer_text)))
    answers = load_answers(folder)
    assert sorted(answers) == [IDENTITY, 1]

    candidate = Candidate(url, erin.token, "medical", answers, end_after=1)
    report = await candidate.run()

    assert report.ended == "ended_by_student"
    assert report.close_code == 1000
    assert [t.question for t in report.turns] == [None, 1]
    assert "yes" in report.turns[0].transcript.lower()
    assert report.turns[1].score is not None
    assert report.turns[1].score > 0
    assert report.result is not None
    assert [a["number"] for a in report.result["answers"]][:1] == [1]
