"""The live exam keeps each answer's recording, on every database backend: the exam service
with a real local store (or one that fails), real keyword grading, real speech as the PCM."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from newspeech.answers.audio.service import AnswerAudioRecorder, audio_key
from newspeech.answers.audio.spool import AudioSpool, SpooledAnswer
from newspeech.db.engine import create_sessionmaker, unit_of_work
from newspeech.exams.dependencies import ExamDependencies
from newspeech.exams.recorder import HeardSpan, rehear
from newspeech.exams.service import ExamConversation
from newspeech.grading import KeywordGrader
from newspeech.grading.factory import PooledGrader
from newspeech.models import Answer, AuditLog, Evaluation, User
from newspeech.questions.banks import BANKS_DIR, load_bank
from newspeech.seed import seed_reference_data
from newspeech.storage import AudioStore, StorageFailed
from newspeech.storage.local import LocalAudioStore
from newspeech.storage.s3 import S3AudioStore
from newspeech.voice.audio import decode_audio
from newspeech.voice.conversation import HeardAnswer, TurnTimings
from newspeech.voice.pool import InferencePool
from newspeech.voice.protocols import PCM16, SAMPLE_RATE, Transcript
from tests.exams.plans import FakeClock
from tests.fixtures.databases import closed_port
from tests.fixtures.factories import make_user
from tests.fixtures.s3_server import make_bucket, s3_location

MEDICAL = load_bank(BANKS_DIR / "medical.yaml")
FIRST_MODEL_ANSWER = MEDICAL.scenarios[0].questions[0].model_answer
SECOND_MODEL_ANSWER = MEDICAL.scenarios[0].questions[1].model_answer
UNENCODABLE = b"\0"
"""A take that holds no whole sample: libopus refuses it (FFmpeg's ENOMEM)."""


class FailingStore(LocalAudioStore):
    """A store whose uploads fail, as an unreachable S3 endpoint's would."""

    name = "failing"

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        raise StorageFailed("S3 upload of the answer failed: connection refused", retryable=True)


@pytest.fixture(scope="module")
def pool() -> Iterator[InferencePool]:
    pool = InferencePool(workers=1)
    yield pool
    pool.close()


@pytest.fixture(scope="module")
def real_speech(shared_dir: Path) -> PCM16:
    """About six seconds of real speech."""
    pcm = decode_audio((shared_dir / "audio" / "silero-vad_test.wav").read_bytes(), max_seconds=600)
    return pcm[: 6 * SAMPLE_RATE]


@pytest.fixture
async def student(db: AsyncSession) -> User:
    await seed_reference_data(db, banks=[MEDICAL])
    user = await make_user(db, college_type="medical")
    await db.commit()
    return user


def heard(clock: FakeClock, text: str, pcm: PCM16) -> HeardAnswer:
    seconds = pcm.size / SAMPLE_RATE
    clock.advance(seconds)
    end = clock.now
    clock.advance(0.5)
    timings = TurnTimings(end - seconds, end, end + 0.3, end + 0.45)
    return HeardAnswer(Transcript(text, 0.9, seconds, 0.2), pcm.tobytes(), timings)


async def sit_question_one(
    sessionmaker: async_sessionmaker[AsyncSession],
    pool: InferencePool,
    student: User,
    recorder: AnswerAudioRecorder,
    answer_pcm: PCM16,
    *,
    clock: FakeClock | None = None,
    recorded: bytes | None = None,
) -> ExamConversation:
    """Identity confirmed and question 1 answered (its take replaced by ``recorded`` when
    given); ``clock`` is the sitting's, for a test that answers on."""
    clock = FakeClock() if clock is None else clock
    deps = ExamDependencies(
        sessionmaker=sessionmaker,
        grader=PooledGrader(KeywordGrader(), pool.run),
        clock=clock,
        audio=recorder,
    )
    conversation = await ExamConversation.start(deps, student, "medical")
    await conversation.begin()
    await conversation.answer(heard(clock, "Yes, that's me.", answer_pcm[: SAMPLE_RATE // 2]))
    answer = heard(clock, FIRST_MODEL_ANSWER, answer_pcm)
    if recorded is not None:
        answer = dataclasses.replace(answer, pcm=recorded)
    turn = await conversation.answer(answer)
    assert [e["number"] for e in turn.events if e["type"] == "question"] == [2]
    await recorder.drain()
    return conversation


async def stored_answer(db: AsyncSession, exam_session_id: int) -> tuple[Answer, list[str]]:
    await db.commit()  # a fresh snapshot (MariaDB's REPEATABLE READ)
    answer = (
        await db.scalars(
            select(Answer)
            .where(Answer.session_id == exam_session_id)
            .execution_options(populate_existing=True)
        )
    ).one()
    actions = await db.scalars(
        select(AuditLog.action).where(AuditLog.session_id == exam_session_id).order_by(AuditLog.id)
    )
    return answer, list(actions)


async def test_keeps_each_answers_recording_and_its_key_in_the_row(
    sessionmaker: async_sessionmaker[AsyncSession],
    db: AsyncSession,
    pool: InferencePool,
    student: User,
    real_speech: PCM16,
    tmp_path: Path,
) -> None:
    store = LocalAudioStore(tmp_path / "answer-audio")
    recorder = AnswerAudioRecorder(store, sessionmaker, offload=pool.run)
    conversation = await sit_question_one(sessionmaker, pool, student, recorder, real_speech)

    answer, actions = await stored_answer(db, conversation.exam_session_id)
    assert (
        answer.answer_audio_path == f"session-{conversation.exam_session_id}/answer-{answer.id}.ogg"
    )
    data = await store.get(answer.answer_audio_path)
    assert data[:4] == b"OggS"
    assert len(data) < real_speech.nbytes / 5  # compressed, not PCM or WAV
    decoded = decode_audio(data, max_seconds=60)
    assert decoded.size / SAMPLE_RATE == pytest.approx(answer.audio_duration_seconds, abs=0.1)
    correlation = np.corrcoef(decoded[: real_speech.size].astype(float), real_speech.astype(float))[
        0, 1
    ]
    assert correlation > 0.8  # the student's own voice, not silence or another clip
    assert "answer.audio_stored" in actions
    assert (await db.scalars(select(Evaluation).where(Evaluation.answer_id == answer.id))).one()


async def test_a_failing_store_keeps_the_answer_and_audits_the_lost_recording(
    sessionmaker: async_sessionmaker[AsyncSession],
    db: AsyncSession,
    pool: InferencePool,
    student: User,
    real_speech: PCM16,
    tmp_path: Path,
) -> None:
    recorder = AnswerAudioRecorder(FailingStore(tmp_path), sessionmaker, offload=pool.run)
    conversation = await sit_question_one(sessionmaker, pool, student, recorder, real_speech)

    answer, actions = await stored_answer(db, conversation.exam_session_id)
    assert answer.transcribed_text == FIRST_MODEL_ANSWER
    assert answer.answer_audio_path is None
    assert (await db.scalars(select(Evaluation).where(Evaluation.answer_id == answer.id))).one()
    assert "answer.audio_failed" in actions
    failure = (
        await db.scalars(select(AuditLog).where(AuditLog.action == "answer.audio_failed"))
    ).one()
    assert failure.status == "failure"
    assert failure.resource_id == answer.id
    assert "connection refused" in (failure.details or {})["error"]


async def test_a_take_the_encoder_refuses_is_lost_audited_and_the_sitting_goes_on(
    sessionmaker: async_sessionmaker[AsyncSession],
    db: AsyncSession,
    pool: InferencePool,
    student: User,
    real_speech: PCM16,
    tmp_path: Path,
) -> None:
    """libopus refuses answer 1's take (it holds no whole sample: FFmpeg's ENOMEM, which
    PyAV raises as neither an OSError nor a ValueError). The recording is lost at once, not
    retried: audited, out of the spool; the answer and its grade stay, and the sitting goes
    on to keep answer 2's recording."""
    store = LocalAudioStore(tmp_path / "answer-audio")
    spool = AudioSpool(tmp_path / "spool")
    recorder = AnswerAudioRecorder(
        store, sessionmaker, offload=pool.run, spool=spool, retry_seconds=0.05
    )
    clock = FakeClock()
    conversation = await sit_question_one(
        sessionmaker, pool, student, recorder, real_speech, clock=clock, recorded=UNENCODABLE
    )

    await db.commit()  # a fresh snapshot (MariaDB's REPEATABLE READ)
    first = (
        await db.scalars(
            select(Answer)
            .where(Answer.session_id == conversation.exam_session_id)
            .execution_options(populate_existing=True)
        )
    ).one()
    assert first.transcribed_text == FIRST_MODEL_ANSWER
    assert first.answer_audio_path is None
    assert (await db.scalars(select(Evaluation).where(Evaluation.answer_id == first.id))).one()
    failure = (
        await db.scalars(select(AuditLog).where(AuditLog.action == "answer.audio_failed"))
    ).one()
    assert (failure.status, failure.resource_id) == ("failure", first.id)
    assert (failure.details or {})["retried"] is False
    assert "AudioNotEncoded" in (failure.details or {})["error"]
    assert spool.entries() == []

    turn = await conversation.answer(heard(clock, SECOND_MODEL_ANSWER, real_speech))
    assert [e["number"] for e in turn.events if e["type"] == "question"] == [3]
    await recorder.drain()

    await db.commit()
    answers = (
        await db.scalars(
            select(Answer)
            .where(Answer.session_id == conversation.exam_session_id)
            .order_by(Answer.question_number)
            .execution_options(populate_existing=True)
        )
    ).all()
    assert [a.answer_audio_path for a in answers] == [
        None,
        audio_key(conversation.exam_session_id, answers[1].id),
    ]
    assert (await store.get(audio_key(conversation.exam_session_id, answers[1].id)))[:4] == b"OggS"
    assert spool.entries() == []


class FlakyStore(LocalAudioStore):
    """A store whose first ``failures`` uploads fail (a store outage that ends)."""

    name = "flaky"

    def __init__(self, root: Path, failures: int) -> None:
        super().__init__(root)
        self.failures = failures

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        if self.failures:
            self.failures -= 1
            raise StorageFailed("S3 upload of the answer failed: timed out", retryable=True)
        await super().put(key, data, content_type)


def away_sessionmaker() -> tuple[AsyncEngine, async_sessionmaker[AsyncSession]]:
    """A database nothing answers for (refused at once)."""
    away = create_async_engine(
        f"postgresql+asyncpg://nobody@127.0.0.1:{closed_port()}/gone", connect_args={"timeout": 2}
    )
    return away, create_sessionmaker(away)


async def test_a_recording_whose_key_could_not_be_saved_is_committed_at_the_next_start(
    sessionmaker: async_sessionmaker[AsyncSession],
    db: AsyncSession,
    pool: InferencePool,
    student: User,
    real_speech: PCM16,
    tmp_path: Path,
) -> None:
    """The database went away between the answer and its recording: the recording is in the
    store and the spool, not lost; the next start commits its key and empties the spool."""
    store = LocalAudioStore(tmp_path / "answer-audio")
    spool = AudioSpool(tmp_path / "spool")
    away, away_maker = away_sessionmaker()
    try:
        during = AnswerAudioRecorder(store, away_maker, offload=pool.run, spool=spool, retries=0)
        conversation = await sit_question_one(sessionmaker, pool, student, during, real_speech)
    finally:
        await away.dispose()
    answer, _ = await stored_answer(db, conversation.exam_session_id)
    assert answer.answer_audio_path is None
    (waiting,) = spool.entries()
    assert waiting.answer_id == answer.id

    after = AnswerAudioRecorder(store, sessionmaker, offload=pool.run, spool=spool)
    report = await after.reconcile()

    assert (report.stored, report.dropped, report.pending) == (1, 0, 0)
    answer, actions = await stored_answer(db, conversation.exam_session_id)
    assert answer.answer_audio_path == audio_key(conversation.exam_session_id, answer.id)
    assert (await store.get(answer.answer_audio_path))[:4] == b"OggS"
    assert "answer.audio_stored" in actions
    assert spool.entries() == []


async def crash_with_a_stray(
    sessionmaker: async_sessionmaker[AsyncSession],
    pool: InferencePool,
    student: User,
    real_speech: PCM16,
    tmp_path: Path,
) -> tuple[AudioSpool, ExamConversation]:
    """Question 1 answered, then the process "dies" with its recording still in the spool (no
    retry, no upload); beside it, a stray entry for an answer that does not exist."""
    spool = AudioSpool(tmp_path / "spool")
    never = AnswerAudioRecorder(
        FailingStore(tmp_path / "nowhere"), sessionmaker, spool=spool, retries=0
    )
    conversation = await sit_question_one(sessionmaker, pool, student, never, real_speech)
    (taken,) = spool.entries()
    stray = SpooledAnswer(taken.answer_id + 1000, conversation.exam_session_id, student.id)
    spool.write(stray, b"\0\0")
    return spool, conversation


class UnreadableSpool(AudioSpool):
    """A spool whose file for one answer cannot be read (a disk error, a bad file)."""

    def __init__(self, folder: Path, unreadable: int) -> None:
        super().__init__(folder)
        self.unreadable = unreadable

    def read(self, entry: SpooledAnswer) -> bytes:
        if entry.answer_id == self.unreadable:
            raise PermissionError(13, "Permission denied", str(entry.answer_id))
        return super().read(entry)


async def test_one_entry_that_cannot_be_reconciled_leaves_the_others_to_be(
    sessionmaker: async_sessionmaker[AsyncSession],
    db: AsyncSession,
    pool: InferencePool,
    student: User,
    real_speech: PCM16,
    tmp_path: Path,
) -> None:
    """Start-up reconciliation meets an entry it cannot read: that one stays in the spool for
    the next start, counted as waiting, and the rest of the spool is still settled."""
    spool, conversation = await crash_with_a_stray(
        sessionmaker, pool, student, real_speech, tmp_path
    )
    answer, _ = await stored_answer(db, conversation.exam_session_id)

    report = await AnswerAudioRecorder(
        LocalAudioStore(tmp_path / "answer-audio"),
        sessionmaker,
        offload=pool.run,
        spool=UnreadableSpool(tmp_path / "spool", unreadable=answer.id),
    ).reconcile()

    assert (report.stored, report.dropped, report.pending) == (0, 1, 1)
    assert [entry.answer_id for entry in spool.entries()] == [answer.id]


async def test_after_a_crash_the_spooled_recording_is_stored_and_strays_are_dropped(
    sessionmaker: async_sessionmaker[AsyncSession],
    db: AsyncSession,
    pool: InferencePool,
    student: User,
    real_speech: PCM16,
    tmp_path: Path,
) -> None:
    """A crash after the answer's commit, before its upload: only the spool has the audio. An
    entry for an answer that no longer exists is dropped, not stored."""
    store = LocalAudioStore(tmp_path / "answer-audio")
    spool, conversation = await crash_with_a_stray(
        sessionmaker, pool, student, real_speech, tmp_path
    )

    report = await AnswerAudioRecorder(
        store, sessionmaker, offload=pool.run, spool=spool
    ).reconcile()

    assert (report.stored, report.dropped, report.pending) == (1, 1, 0)
    answer, actions = await stored_answer(db, conversation.exam_session_id)
    assert answer.answer_audio_path is not None
    decoded = decode_audio(await store.get(answer.answer_audio_path), max_seconds=60)
    correlation = np.corrcoef(decoded[: real_speech.size].astype(float), real_speech.astype(float))[
        0, 1
    ]
    assert correlation > 0.8  # the candidate's own voice, from the spool
    assert actions.count("answer.audio_failed") == 1
    assert "answer.audio_stored" in actions
    assert spool.entries() == []


async def test_a_take_left_when_the_pool_closes_at_shutdown_waits_in_the_spool_for_the_next_start(
    sessionmaker: async_sessionmaker[AsyncSession],
    db: AsyncSession,
    pool: InferencePool,
    student: User,
    real_speech: PCM16,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Shutdown closed the inference pool before the take was encoded: one clear line, no
    traceback and no audit row (nothing is lost); the next start stores it."""
    store = LocalAudioStore(tmp_path / "answer-audio")
    spool = AudioSpool(tmp_path / "spool")
    closed = InferencePool(workers=1)
    closed.close()
    recorder = AnswerAudioRecorder(store, sessionmaker, offload=closed.run, spool=spool)
    with caplog.at_level(logging.INFO, logger="newspeech.answers.audio.service"):
        conversation = await sit_question_one(sessionmaker, pool, student, recorder, real_speech)

    [line] = [r for r in caplog.records if r.name == "newspeech.answers.audio.service"]
    assert line.levelno == logging.WARNING
    assert line.exc_info is None
    assert "it stays in the spool and is stored at the next start" in line.getMessage()
    answer, actions = await stored_answer(db, conversation.exam_session_id)
    assert answer.answer_audio_path is None
    assert [e.answer_id for e in spool.entries()] == [answer.id]
    assert "answer.audio_failed" not in actions

    report = await AnswerAudioRecorder(
        store, sessionmaker, offload=pool.run, spool=spool
    ).reconcile()

    assert report.stored == 1
    answer, _ = await stored_answer(db, conversation.exam_session_id)
    assert answer.answer_audio_path is not None
    assert spool.entries() == []


async def test_a_store_outage_that_ends_is_retried_until_the_recording_is_stored(
    sessionmaker: async_sessionmaker[AsyncSession],
    db: AsyncSession,
    pool: InferencePool,
    student: User,
    real_speech: PCM16,
    tmp_path: Path,
) -> None:
    store = FlakyStore(tmp_path / "answer-audio", failures=2)
    spool = AudioSpool(tmp_path / "spool")
    recorder = AnswerAudioRecorder(
        store, sessionmaker, offload=pool.run, spool=spool, retry_seconds=0.05
    )
    conversation = await sit_question_one(sessionmaker, pool, student, recorder, real_speech)

    answer, actions = await stored_answer(db, conversation.exam_session_id)
    assert answer.answer_audio_path is not None
    assert store.failures == 0
    assert actions.count("answer.audio_failed") == 1  # once for the outage, not per retry
    assert "answer.audio_stored" in actions
    assert spool.entries() == []


async def test_an_older_take_stored_after_the_answer_went_on_does_not_name_it(
    sessionmaker: async_sessionmaker[AsyncSession],
    db: AsyncSession,
    pool: InferencePool,
    student: User,
    real_speech: PCM16,
    tmp_path: Path,
) -> None:
    """The candidate went on with answer 1 (its whole replaces the first part, and the path
    of the first part's recording is cleared) while the first part's recording was still being
    stored: that upload finishing late must not name the answer's recording, and its spool
    entry goes (the whole answer's take is the one to keep)."""
    store = LocalAudioStore(tmp_path / "answer-audio")
    spool = AudioSpool(tmp_path / "spool")
    recorder = AnswerAudioRecorder(store, sessionmaker, offload=pool.run, spool=spool)
    conversation = await sit_question_one(sessionmaker, pool, student, recorder, real_speech)
    answer, _ = await stored_answer(db, conversation.exam_session_id)
    assert answer.answer_audio_path is not None
    pcm = real_speech.tobytes()
    older = await recorder.spool_take(
        answer.id, conversation.exam_session_id, student.id, answer.transcribed_text, pcm
    )
    whole = HeardSpan(f"{FIRST_MODEL_ANSWER} And aspirin.", 0.9, 8.0, None, None)
    async with unit_of_work(sessionmaker) as session:
        await rehear(session, answer.id, whole)

    recorder.keep(older, pcm)  # the first part's upload, finishing after the commit
    await recorder.drain()

    answer, actions = await stored_answer(db, conversation.exam_session_id)
    assert answer.transcribed_text == whole.text
    assert answer.answer_audio_path is None  # not the first part's recording
    assert actions.count("answer.audio_stored") == 1  # the first part's, before it went on
    assert spool.entries() == []
    # No object is left that no row names (the first part's, overwritten by its late upload).
    assert not await store.exists(audio_key(conversation.exam_session_id, answer.id))


@pytest.fixture(params=["local", "s3"])
async def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AudioStore]:
    if request.param == "local":
        made: AudioStore = LocalAudioStore(tmp_path / "answer-audio")
    else:
        endpoint = request.getfixturevalue("s3_endpoint")
        made = S3AudioStore(s3_location(endpoint, make_bucket(endpoint)))
    yield made
    await made.aclose()


async def went_on_with(
    sessionmaker: async_sessionmaker[AsyncSession],
    recorder: AnswerAudioRecorder,
    answer: Answer,
    student: User,
    pcm: bytes,
) -> SpooledAnswer:
    """The candidate went on with ``answer``: its whole is stored (the first part's recording
    no longer names it) and the whole's take is spooled."""
    whole = HeardSpan(f"{FIRST_MODEL_ANSWER} And aspirin.", 0.9, 8.0, None, None)
    async with unit_of_work(sessionmaker) as session:
        await rehear(session, answer.id, whole)
    return await recorder.spool_take(answer.id, answer.session_id, student.id, whole.text, pcm)


async def test_a_whole_answer_that_never_encodes_leaves_no_object_of_its_first_part(
    sessionmaker: async_sessionmaker[AsyncSession],
    db: AsyncSession,
    pool: InferencePool,
    student: User,
    real_speech: PCM16,
    any_store: AudioStore,
    tmp_path: Path,
) -> None:
    """The first part's recording is stored under the answer's key; the whole answer's take
    can never be encoded: the recording is lost (audited), and the first part's object, which
    no row names any more, is deleted rather than left in the store."""
    spool = AudioSpool(tmp_path / "spool")
    recorder = AnswerAudioRecorder(any_store, sessionmaker, offload=pool.run, spool=spool)
    conversation = await sit_question_one(sessionmaker, pool, student, recorder, real_speech)
    answer, _ = await stored_answer(db, conversation.exam_session_id)
    key = audio_key(conversation.exam_session_id, answer.id)
    assert answer.answer_audio_path == key
    assert await any_store.exists(key)

    take = await went_on_with(sessionmaker, recorder, answer, student, UNENCODABLE)
    recorder.keep(take, UNENCODABLE)
    await recorder.drain()

    answer, actions = await stored_answer(db, conversation.exam_session_id)
    assert answer.answer_audio_path is None
    assert actions.count("answer.audio_failed") == 1
    assert not await any_store.exists(key)
    assert spool.entries() == []


async def test_reconciling_a_take_that_never_encodes_deletes_the_object_no_row_names(
    sessionmaker: async_sessionmaker[AsyncSession],
    db: AsyncSession,
    pool: InferencePool,
    student: User,
    real_speech: PCM16,
    tmp_path: Path,
) -> None:
    """A crash after the whole answer committed, before its take was tried: at the next start
    the take is lost (it does not encode) and the first part's object goes with it; a spooled
    take of an answer that never committed takes its object with it too."""
    store = LocalAudioStore(tmp_path / "answer-audio")
    spool = AudioSpool(tmp_path / "spool")
    recorder = AnswerAudioRecorder(store, sessionmaker, offload=pool.run, spool=spool)
    conversation = await sit_question_one(sessionmaker, pool, student, recorder, real_speech)
    answer, _ = await stored_answer(db, conversation.exam_session_id)
    key = audio_key(conversation.exam_session_id, answer.id)
    await went_on_with(sessionmaker, recorder, answer, student, UNENCODABLE)  # then the crash
    stray = SpooledAnswer(answer.id + 1000, conversation.exam_session_id, student.id)
    spool.write(stray, real_speech.tobytes())
    stray_key = audio_key(stray.exam_session_id, stray.answer_id)
    await store.put(stray_key, b"OggS left by a take that never committed", "audio/ogg")

    report = await AnswerAudioRecorder(
        store, sessionmaker, offload=pool.run, spool=spool
    ).reconcile()

    assert (report.stored, report.lost, report.dropped, report.pending) == (0, 1, 1, 0)
    answer, actions = await stored_answer(db, conversation.exam_session_id)
    assert answer.answer_audio_path is None
    assert actions.count("answer.audio_failed") == 1
    assert not await store.exists(key)
    assert not await store.exists(stray_key)
    assert spool.entries() == []
