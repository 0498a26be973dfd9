"""Piper and espeak-ng text-to-speech, run for real.

Order and cancellation are shown structurally: which clauses the engine was asked to
synthesize, and when, is recorded by wrapping the real inference pool (Piper) or the real
``espeak-ng`` command (a shell script that logs its process id, then execs it).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import stat
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import numpy as np
import pytest
import soxr  # type: ignore[import-untyped]  # ships no stubs or py.typed marker
from piper import PiperVoice

from newspeech import weights
from newspeech.errors import ConfigurationError
from newspeech.voice.phrase_cache import PhraseCache
from newspeech.voice.pool import InferencePool
from newspeech.voice.protocols import AudioChunk, TextToSpeech
from newspeech.voice.text import split_clauses
from newspeech.voice.tts import CHUNK_SECONDS, EspeakTextToSpeech, PiperTextToSpeech
from tests.voice.wer import edit_distance, normalize

P = ParamSpec("P")
T = TypeVar("T")

# Three clauses: the first short, so the test can tell it apart.
THREE_CLAUSES = (
    "Tell me about the heart. Which chamber pumps blood into the aorta, and what happens "
    "to the pressure during systole?"
)
SENTENCE = "Please describe how you would examine a patient with chest pain."
SECONDS_PER_WORD = (0.15, 0.8)
"""Plausible speaking time per word for both voices (Piper ~0.35 s, espeak at 175 wpm ~0.34 s)."""


class RecordingPool(InferencePool):
    """The real inference pool, recording every clause submitted, finished and its audio.

    With ``hold_from`` set, calls from that index on block in their thread until ``release``
    is set (``entered`` tells the test one is blocked), so a test can cancel mid-synthesis.
    """

    def __init__(self, *, hold_from: int | None = None) -> None:
        super().__init__(workers=2)
        self.started: list[str] = []
        self.finished: list[tuple[str, bytes]] = []
        self.hold_from = hold_from
        self.entered = threading.Event()
        self.release = threading.Event()

    async def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        clause = str(args[0])
        index = len(self.started)
        self.started.append(clause)

        def recorded() -> T:
            if self.hold_from is not None and index >= self.hold_from:
                self.entered.set()
                self.release.wait()
            result = fn(*args, **kwargs)
            assert isinstance(result, bytes)
            self.finished.append((clause, result))
            return result

        return await super().run(recorded)

    async def drain(self) -> None:
        """Wait until every thread this pool started has finished."""
        self.release.set()
        await asyncio.to_thread(self.close)


@pytest.fixture(scope="session")
def piper_voice() -> PiperVoice:
    return PiperVoice.load(
        weights.locate(weights.PIPER_JOE), config_path=weights.locate(weights.PIPER_JOE_CONFIG)
    )


@pytest.fixture(scope="session")
async def piper(piper_voice: PiperVoice) -> AsyncIterator[PiperTextToSpeech]:
    pool = InferencePool(workers=2)
    tts = PiperTextToSpeech(piper_voice, pool)
    await tts.warm_up()
    yield tts
    pool.close()


@pytest.fixture
def espeak() -> EspeakTextToSpeech:
    return EspeakTextToSpeech("en-us")


@pytest.fixture
def espeak_log(tmp_path: Path) -> Path:
    return tmp_path / "espeak-runs.log"


def wrapped_espeak(tmp_path: Path, log: Path, *, hang_from: int | None = None) -> Path:
    """A script standing in for ``espeak-ng``: logs its pid, then runs the real command.

    From the ``hang_from``-th run on it instead announces itself on the FIFO ``tmp_path/hung``
    and sleeps until killed.
    """
    real = shutil.which("espeak-ng")
    assert real, "espeak-ng is not installed (apt-get install espeak-ng)"
    hang = ""
    if hang_from is not None:
        os.mkfifo(tmp_path / "hung")
        hang = (
            f'if [ "$(wc -l < "{log}")" -gt {hang_from} ]; then\n'
            f'  echo $$ > "{tmp_path / "hung"}"; exec sleep 600\nfi\n'
        )
    script = tmp_path / "espeak-ng-wrapper"
    script.write_text(f'#!/bin/sh\necho $$ >> "{log}"\n{hang}exec "{real}" "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


def logged_pids(log: Path) -> list[int]:
    return [int(line) for line in log.read_text().split()] if log.exists() else []


def is_running(pid: int) -> bool:
    """Whether process ``pid`` exists (a reaped child does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def hung_pid(tmp_path: Path) -> int:
    """Wait, without blocking the loop, for the wrapper to announce a hung run; its pid."""
    # Opened read-write, the FIFO never reads as end-of-file while no writer has it open.
    fd = os.open(tmp_path / "hung", os.O_RDWR | os.O_NONBLOCK)
    loop = asyncio.get_running_loop()
    readable: asyncio.Future[None] = loop.create_future()

    def announce() -> None:
        if not readable.done():
            readable.set_result(None)

    loop.add_reader(fd, announce)
    try:
        async with asyncio.timeout(30):
            await readable
        return int(os.read(fd, 64))
    finally:
        loop.remove_reader(fd)
        os.close(fd)


async def collect(chunks: AsyncIterator[AudioChunk]) -> list[AudioChunk]:
    return [chunk async for chunk in chunks]


def samples(chunks: list[AudioChunk]) -> np.ndarray:
    return np.frombuffer(b"".join(chunk.pcm for chunk in chunks), dtype="<i2")


def check_speech(tts: TextToSpeech, chunks: list[AudioChunk], text: str) -> None:
    assert chunks
    assert all(chunk.sample_rate == tts.sample_rate for chunk in chunks)
    limit = int(tts.sample_rate * CHUNK_SECONDS) * 2
    assert all(0 < len(chunk.pcm) <= limit and len(chunk.pcm) % 2 == 0 for chunk in chunks)
    audio = samples(chunks)
    seconds = audio.size / tts.sample_rate
    words = len(text.split())
    assert SECONDS_PER_WORD[0] * words <= seconds <= SECONDS_PER_WORD[1] * words, seconds
    rms = float(np.sqrt(np.mean(audio.astype(np.float64) ** 2)))
    assert rms > 300, f"audio is (nearly) silent: RMS {rms:.0f}"


# --- Piper -------------------------------------------------------------------------------------


async def test_piper_speaks_pcm16_at_the_voice_rate(piper: PiperTextToSpeech) -> None:
    assert piper.sample_rate == 22_050
    check_speech(piper, await collect(piper.stream(SENTENCE)), SENTENCE)


async def test_piper_first_chunk_comes_from_the_first_clause_alone(
    piper_voice: PiperVoice,
) -> None:
    pool = RecordingPool()
    tts = PiperTextToSpeech(piper_voice, pool)
    clauses = split_clauses(THREE_CLAUSES)
    assert len(clauses) == 3

    stream = tts.stream(THREE_CLAUSES)
    first = await anext(stream)
    assert [clause for clause, _ in pool.finished] == clauses[:1]
    assert pool.finished[0][1].startswith(first.pcm)

    rest = await collect(stream)
    await pool.drain()
    assert pool.started == clauses
    assert [clause for clause, _ in pool.finished] == clauses
    assert first.pcm + b"".join(chunk.pcm for chunk in rest) == b"".join(
        audio for _, audio in pool.finished
    )


async def test_piper_cancelling_the_consumer_after_the_first_chunk_stops_everything(
    piper_voice: PiperVoice,
) -> None:
    pool = RecordingPool()
    tts = PiperTextToSpeech(piper_voice, pool)
    clauses = split_clauses(THREE_CLAUSES)
    received: list[AudioChunk] = []
    first = asyncio.Event()

    async def consume() -> None:
        async with aclosing(tts.stream(THREE_CLAUSES)) as stream:
            async for chunk in stream:
                received.append(chunk)
                first.set()
                await asyncio.Event().wait()  # a player that never asks for more

    consumer = asyncio.create_task(consume())
    await first.wait()
    consumer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await consumer
    started_at_cancel = list(pool.started)
    await pool.drain()

    assert len(received) == 1
    assert pool.started == started_at_cancel
    # The first clause, and at most the one being prepared while it played.
    assert pool.started == clauses[: len(pool.started)]
    assert len(pool.started) <= 2


async def test_piper_cancelling_mid_synthesis_drops_that_clause_and_starts_no_other(
    piper_voice: PiperVoice,
) -> None:
    pool = RecordingPool(hold_from=1)
    tts = PiperTextToSpeech(piper_voice, pool)
    clauses = split_clauses(THREE_CLAUSES)
    received: list[AudioChunk] = []

    async def consume() -> None:
        async with aclosing(tts.stream(THREE_CLAUSES)) as stream:
            async for chunk in stream:
                received.append(chunk)

    consumer = asyncio.create_task(consume())
    # The consumer never waits between chunks: once the second clause is in its thread, it
    # has taken all of the first clause and is waiting for the second.
    await asyncio.to_thread(pool.entered.wait)
    consumer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await consumer
    await pool.drain()

    assert pool.started == clauses[:2]
    assert [clause for clause, _ in pool.finished] == clauses[:2]  # finished, but dropped
    assert b"".join(chunk.pcm for chunk in received) == pool.finished[0][1]


async def test_piper_closing_the_stream_early_stops_synthesis(piper_voice: PiperVoice) -> None:
    pool = RecordingPool()
    tts = PiperTextToSpeech(piper_voice, pool)
    stream = tts.stream(THREE_CLAUSES)
    await anext(stream)
    await stream.aclose()
    await pool.drain()

    assert len(pool.started) <= 2
    with pytest.raises(StopAsyncIteration):
        await anext(stream)


async def test_piper_empty_text_yields_nothing_and_synthesizes_nothing(
    piper_voice: PiperVoice,
) -> None:
    pool = RecordingPool()
    tts = PiperTextToSpeech(piper_voice, pool)
    assert await collect(tts.stream("")) == []
    assert await collect(tts.stream("  ...  ")) == []
    await pool.drain()
    assert pool.started == []


async def test_piper_synthesises_a_clause_once_when_it_keeps_clauses(
    piper_voice: PiperVoice,
) -> None:
    pool = InferencePool(workers=1)
    tts = PiperTextToSpeech(piper_voice, pool, PhraseCache(max_entries=100))
    feedback = "Partly right. The model answer begins: give oxygen, then aspirin."
    try:
        first = samples(await collect(tts.stream(feedback)))
        # Another student's feedback: a new verdict, the same model-answer clauses.
        other = "Correct. The model answer begins: give oxygen, then aspirin."
        second = samples(await collect(tts.stream(other)))
        again = samples(await collect(tts.stream(feedback)))
    finally:
        pool.close()
    clauses = split_clauses(feedback)
    synthesised = sum(cost.calls for (name, _), cost in pool.spent().items() if name == "tts")
    assert synthesised == len(clauses) + 1  # only "Correct." was new
    assert np.array_equal(first, again)  # every clause from the cache
    assert second.size > 0
    assert tts.clauses is not None
    assert tts.clauses.hits == len(clauses) - 1 + len(clauses)


def test_piper_load_rejects_a_missing_voice(tmp_path: Path) -> None:
    pool = InferencePool(workers=1)
    try:
        with pytest.raises(ConfigurationError, match="cannot load the Piper voice"):
            PiperTextToSpeech.load(tmp_path / "none.onnx", tmp_path / "none.onnx.json", pool)
    finally:
        pool.close()


def test_piper_load_gives_the_packaged_voice() -> None:
    pool = InferencePool(workers=1)
    try:
        tts = PiperTextToSpeech.load(
            weights.locate(weights.PIPER_JOE), weights.locate(weights.PIPER_JOE_CONFIG), pool
        )
        assert tts.sample_rate == 22_050
    finally:
        pool.close()


ROUND_TRIP = [
    "The patient has a blood pressure of ninety over sixty and a heart rate of one hundred "
    "and twenty.",
    "What is the first drug you would give to a patient with severe asthma?",
    "Describe the blood supply of the heart, starting with the left coronary artery.",
    "Which nerve is at risk during surgery on the thyroid gland, and why does it matter?",
    "Explain how you would examine the abdomen of a child who has been vomiting for two days.",
]


@pytest.fixture(scope="module")
def whisper() -> Any:
    from faster_whisper import WhisperModel  # type: ignore[import-untyped]

    return WhisperModel(str(weights.whisper_tiny_en_dir()), device="cpu", compute_type="int8")


async def test_piper_round_trip_through_whisper_tiny_en(
    piper: PiperTextToSpeech, whisper: Any
) -> None:
    errors = words = 0
    for sentence in ROUND_TRIP:
        audio = samples(await collect(piper.stream(sentence)))
        audio_16k = soxr.resample(audio, piper.sample_rate, 16_000)
        segments, _ = await asyncio.to_thread(
            whisper.transcribe,
            audio_16k.astype(np.float32) / 32768.0,
            language="en",
            beam_size=5,
        )
        heard = " ".join(segment.text for segment in segments)
        reference = normalize(sentence)
        errors += edit_distance(reference, normalize(heard))
        words += len(reference)
    assert errors / words <= 0.10, f"WER {errors / words:.1%}"


# --- espeak-ng ---------------------------------------------------------------------------------


async def test_espeak_speaks_pcm16_at_22050_hz(espeak: EspeakTextToSpeech) -> None:
    assert espeak.sample_rate == 22_050
    check_speech(espeak, await collect(espeak.stream(SENTENCE)), SENTENCE)


async def test_espeak_speaks_clause_by_clause_first_clause_first(
    tmp_path: Path, espeak_log: Path, espeak: EspeakTextToSpeech
) -> None:
    tts = EspeakTextToSpeech("en-us", executable=str(wrapped_espeak(tmp_path, espeak_log)))
    clauses = split_clauses(THREE_CLAUSES)

    stream = tts.stream(THREE_CLAUSES)
    first = await anext(stream)
    assert len(logged_pids(espeak_log)) == 1
    rest = await collect(stream)
    assert len(logged_pids(espeak_log)) == len(clauses)

    # espeak-ng is deterministic: the text's audio is its clauses' audio, one after another.
    alone = [samples(await collect(espeak.stream(clause))).tobytes() for clause in clauses]
    assert alone[0].startswith(first.pcm)
    assert first.pcm + b"".join(chunk.pcm for chunk in rest) == b"".join(alone)


async def test_espeak_cancelling_mid_clause_kills_its_process_and_starts_no_other(
    tmp_path: Path, espeak_log: Path
) -> None:
    tts = EspeakTextToSpeech(
        "en-us", executable=str(wrapped_espeak(tmp_path, espeak_log, hang_from=1))
    )
    received: list[AudioChunk] = []

    async def consume() -> None:
        async with aclosing(tts.stream(THREE_CLAUSES)) as stream:
            async for chunk in stream:
                received.append(chunk)

    consumer = asyncio.create_task(consume())
    hung = await hung_pid(tmp_path)
    assert is_running(hung)
    consumer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await consumer

    assert not is_running(hung)  # killed and reaped, not left sleeping
    first_pid, second_pid = logged_pids(espeak_log)
    assert second_pid == hung
    first_clause = split_clauses(THREE_CLAUSES)[0]
    expected = await collect(EspeakTextToSpeech("en-us").stream(first_clause))
    assert samples(received).tobytes() == samples(expected).tobytes()
    assert logged_pids(espeak_log) == [first_pid, hung]


async def test_espeak_cancelling_the_consumer_after_the_first_chunk_stops_everything(
    tmp_path: Path, espeak_log: Path
) -> None:
    tts = EspeakTextToSpeech("en-us", executable=str(wrapped_espeak(tmp_path, espeak_log)))
    received: list[AudioChunk] = []
    first = asyncio.Event()

    async def consume() -> None:
        async with aclosing(tts.stream(THREE_CLAUSES)) as stream:
            async for chunk in stream:
                received.append(chunk)
                first.set()
                await asyncio.Event().wait()

    consumer = asyncio.create_task(consume())
    await first.wait()
    consumer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await consumer

    # Closing waited for the clause being prepared to be killed (or to finish): nothing of
    # this stream runs any more, so the log is final.
    assert len(received) == 1
    assert 1 <= len(logged_pids(espeak_log)) <= 2
    assert not any(is_running(pid) for pid in logged_pids(espeak_log))


async def test_espeak_closing_the_stream_early_stops_synthesis(
    tmp_path: Path, espeak_log: Path
) -> None:
    tts = EspeakTextToSpeech("en-us", executable=str(wrapped_espeak(tmp_path, espeak_log)))
    stream = tts.stream(THREE_CLAUSES)
    await anext(stream)
    await stream.aclose()
    assert len(logged_pids(espeak_log)) <= 2
    with pytest.raises(StopAsyncIteration):
        await anext(stream)


async def test_espeak_empty_text_yields_nothing(tmp_path: Path, espeak_log: Path) -> None:
    tts = EspeakTextToSpeech("en-us", executable=str(wrapped_espeak(tmp_path, espeak_log)))
    assert await collect(tts.stream("")) == []
    assert logged_pids(espeak_log) == []


def test_espeak_missing_command_names_the_debian_package() -> None:
    with pytest.raises(ConfigurationError, match="Debian package espeak-ng"):
        EspeakTextToSpeech(executable="espeak-ng-is-not-installed-here")


async def test_espeak_unknown_voice_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        await EspeakTextToSpeech("xx-no-such-voice").warm_up()
