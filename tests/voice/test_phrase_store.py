"""The disk store of synthesised utterances, and the speaker reading and filling it: audio
synthesised by one process (or before a restart) is played by another without synthesis."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncGenerator
from pathlib import Path

import numpy as np
import pytest

from newspeech.errors import UpstreamError
from newspeech.voice.conversation import Utterance, UtteranceKind
from newspeech.voice.phrase_cache import PhraseCache
from newspeech.voice.phrase_store import PhraseStore
from newspeech.voice.protocols import AudioChunk
from newspeech.voice.speaker import Speaker

RATE = 22_050
QUESTION = "What is the first-line treatment of anaphylaxis? Give IV fluids, 30 ml/kg."


def store(folder: Path, voice: str = "piper:test", max_bytes: int = 10**7) -> PhraseStore:
    return PhraseStore(folder, voice, RATE, max_bytes)


def pcm(seconds: float, value: int = 1000) -> bytes:
    return np.full(int(RATE * seconds), value, dtype="<i2").tobytes()


class CountingVoice:
    """A voice that says each text as a tone of its own length, and counts what it said."""

    def __init__(self, *, fail: bool = False) -> None:
        self.sample_rate = RATE
        self.said: list[str] = []
        self.fail = fail

    async def stream(self, text: str) -> AsyncGenerator[AudioChunk, None]:
        self.said.append(text)
        if self.fail:
            raise UpstreamError("the voice is down")
        yield AudioChunk(pcm(0.01 * len(text), value=len(text)), RATE)


def files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.is_file())


async def spoken(speaker: Speaker, text: str) -> bytes:
    utterance = Utterance(text, UtteranceKind.QUESTION, cacheable=True)
    return b"".join([chunk.pcm async for chunk in speaker.chunks(utterance)])


async def test_audio_put_by_one_store_is_read_by_another_on_the_same_folder(
    tmp_path: Path,
) -> None:
    audio = pcm(0.5)
    await store(tmp_path).put(QUESTION, audio)
    assert await store(tmp_path).get(QUESTION) == audio
    assert await store(tmp_path).get("Another question?") is None


async def test_another_voice_or_sample_rate_is_another_entry(tmp_path: Path) -> None:
    await store(tmp_path).put(QUESTION, pcm(0.5))
    assert await store(tmp_path, voice="espeak-ng:en-us").get(QUESTION) is None
    assert await PhraseStore(tmp_path, "piper:test", 24_000, 10**7).get(QUESTION) is None


async def test_texts_said_alike_share_an_entry(tmp_path: Path) -> None:
    """The key is what the voice says: 'IV' and 'I V' are read aloud the same."""
    await store(tmp_path).put("Give IV fluids.", pcm(0.5))
    assert await store(tmp_path).get("Give I V fluids.") == pcm(0.5)


async def test_no_partial_file_is_ever_visible_and_bad_files_read_as_missing(
    tmp_path: Path,
) -> None:
    phrases = store(tmp_path)
    await phrases.put(QUESTION, pcm(0.5))
    assert files(tmp_path) == [phrases.path(QUESTION).name]
    phrases.path(QUESTION).write_bytes(b"\x01\x02\x03")  # half a sample: not audio we wrote
    assert await phrases.get(QUESTION) is None
    await phrases.put("Nothing", b"")
    assert await phrases.get("Nothing") is None


async def test_the_least_recently_used_files_go_when_the_budget_is_exceeded(
    tmp_path: Path,
) -> None:
    second = len(pcm(1.0))
    phrases = store(tmp_path, max_bytes=3 * second)
    for index, text in enumerate(["one", "two", "three"]):
        await phrases.put(text, pcm(1.0))
        os.utime(phrases.path(text), (1_000_000 + index, 1_000_000 + index))
    assert await phrases.get("one") is not None  # read now: the most recently used
    await phrases.put("four", pcm(1.0))
    assert await phrases.get("two") is None
    assert [await phrases.get(t) is not None for t in ("one", "three", "four")] == [True] * 3


async def test_a_store_that_cannot_be_written_is_a_warning_not_a_failure(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocked = tmp_path / "phrases"
    blocked.write_text("a file where the folder should be")
    with caplog.at_level(logging.WARNING):
        await store(blocked).put(QUESTION, pcm(0.5))
    assert await store(blocked).get(QUESTION) is None
    assert "could not store synthesised audio" in caplog.text


async def test_a_second_process_speaks_a_stored_question_without_synthesising_it(
    tmp_path: Path,
) -> None:
    first_voice, second_voice = CountingVoice(), CountingVoice()
    first = Speaker(first_voice, PhraseCache(), store=store(tmp_path))
    audio = await spoken(first, QUESTION)
    assert first_voice.said == [QUESTION]

    restarted = Speaker(second_voice, PhraseCache(), store=store(tmp_path))
    assert await spoken(restarted, QUESTION) == audio
    assert await spoken(restarted, QUESTION) == audio  # then from memory
    assert second_voice.said == []


async def test_feedback_is_not_stored_nor_is_a_reply_cut_short(tmp_path: Path) -> None:
    voice = CountingVoice()
    speaker = Speaker(voice, PhraseCache(), store=store(tmp_path))
    feedback = Utterance("Correct: 9 out of 10.", UtteranceKind.FEEDBACK)
    async for _ in speaker.chunks(feedback):
        pass
    cut = speaker.chunks(Utterance(QUESTION, UtteranceKind.QUESTION, cacheable=True))
    await anext(cut)
    await cut.aclose()  # a barge-in
    assert files(tmp_path) == []


async def test_the_fallback_voices_audio_is_not_stored_as_the_main_voices(
    tmp_path: Path,
) -> None:
    main, fallback = CountingVoice(fail=True), CountingVoice()
    speaker = Speaker(main, PhraseCache(), fallback, store(tmp_path))
    assert await spoken(speaker, QUESTION)
    assert fallback.said == [QUESTION]
    assert await store(tmp_path).get(QUESTION) is None


async def test_a_store_at_another_sample_rate_is_not_used(tmp_path: Path) -> None:
    other = PhraseStore(tmp_path, "piper:test", 16_000, 10**7)
    speaker = Speaker(CountingVoice(), PhraseCache(), store=other)
    assert speaker.store is None


class CountingStore(PhraseStore):
    """A store that counts its reads."""

    reads = 0

    async def get(self, text: str) -> bytes | None:
        self.reads += 1
        return await super().get(text)


async def test_preparing_reads_the_store_once_and_says_whether_it_synthesised(
    tmp_path: Path,
) -> None:
    voice, disk = CountingVoice(), CountingStore(tmp_path, "piper:test", RATE, 10**7)
    question = Utterance(QUESTION, UtteranceKind.QUESTION, cacheable=True)
    assert await Speaker(voice, PhraseCache(), store=disk).prepare(question) is True
    assert (disk.reads, voice.said) == (1, [QUESTION])  # one missing-file read, one synthesis

    restarted = Speaker(voice, PhraseCache(), store=disk)
    assert await restarted.prepare(question) is False  # read from disk, not synthesised
    assert await restarted.prepare(question) is False  # then held in memory
    assert (disk.reads, voice.said) == (2, [QUESTION])
    feedback = Utterance("Correct: 9 out of 10.", UtteranceKind.FEEDBACK)
    assert await restarted.prepare(feedback) is False  # never prepared ahead
