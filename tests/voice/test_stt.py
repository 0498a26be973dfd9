"""WhisperSpeechToText on real recordings with the real models (tiny.en and base)."""

from __future__ import annotations

import asyncio
import itertools
import math
import re
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from newspeech.errors import ValidationFailed
from newspeech.questions.banks import QuestionSpec, load_banks
from newspeech.voice.audio import decode_audio, pcm16_from_float
from newspeech.voice.bias import hotwords
from newspeech.voice.pool import InferencePool
from newspeech.voice.protocols import PCM16, SAMPLE_RATE
from newspeech.voice.stt import (
    CONTEXT_TOKENS,
    FULL_CONTEXT_FRAMES,
    HOTWORD_TOKENS,
    LOOP_TOKENS,
    MAX_CHUNK_SECONDS,
    MAX_NEW_TOKENS,
    PROMPT_SPECIAL_TOKENS,
    PROMPT_TOKENS,
    TOKEN_ALLOWANCE,
    WhisperSpeechToText,
    available_cores,
    chunk_bounds,
    context_frames,
    looks_degenerate,
)
from newspeech.voice.transcripts import SILENCE_PEAK, confidence_from_segments
from newspeech.weights import whisper_tiny_en_dir
from tests.fixtures.turn_set import audible, clauses, silence
from tests.fixtures.voices import CandidateVoices
from tests.voice.wer import normalize, word_error_rate

AUDIO = Path(__file__).resolve().parents[3] / "shared" / "audio"
JFK = "whisper_jfk.flac"
ONE_TWO_THREE = "speech_recognition_english.wav"
ONE_TWO_THREE_AGAIN = "speech_recognition_audio-mono-16-bit-44100Hz.wav"
LECTURE = "silero-vad_test.wav"
KENNEDY_QUESTION = (
    "What did President Kennedy ask of his fellow Americans in his inaugural address?"
)


def reference(clip: str) -> str:
    """The clip's known transcript, as recorded next to it in SOURCE.txt."""
    source = (AUDIO / "SOURCE.txt").read_text(encoding="utf-8")
    block = source.split(f"file: {clip}\n", 1)[1].split("\nfile: ", 1)[0]
    match = re.search(r'transcript \(known\): "([^"]+)"', block)
    assert match, f"SOURCE.txt has no known transcript for {clip}"
    return match.group(1)


def clip(name: str) -> PCM16:
    return decode_audio((AUDIO / name).read_bytes(), max_seconds=120)


def with_noise(pcm: PCM16, snr_db: float, seed: int) -> PCM16:
    """``pcm`` mixed with white noise at ``snr_db`` (a fixed seed keeps the clip the same)."""
    speech = pcm.astype(np.float32) / 32768.0
    noise_power = float(np.mean(speech**2)) / 10 ** (snr_db / 10)
    noise = np.random.default_rng(seed).normal(0.0, math.sqrt(noise_power), speech.shape)
    return pcm16_from_float(speech + noise.astype(np.float32))


@pytest.fixture(scope="module")
def tiny_full_context(tiny: WhisperSpeechToText, pool: InferencePool) -> WhisperSpeechToText:
    """The same model, always encoding Whisper's full 30 s window: the reference."""
    return WhisperSpeechToText(tiny.model, pool, min_context_frames=FULL_CONTEXT_FRAMES)


@pytest.mark.parametrize("model", ["tiny", "base"])
@pytest.mark.parametrize("name", [JFK, ONE_TWO_THREE])
async def test_transcribes_known_recordings_within_ten_percent_wer(
    model: str, name: str, request: pytest.FixtureRequest
) -> None:
    stt: WhisperSpeechToText = request.getfixturevalue(model)
    pcm = clip(name)

    transcript = await stt.transcribe(pcm)

    assert word_error_rate(reference(name), transcript.text) <= 0.10, transcript.text
    assert transcript.text == transcript.text.strip()
    assert transcript.language == "en"
    assert transcript.audio_seconds == pytest.approx(pcm.size / SAMPLE_RATE)
    assert transcript.decode_seconds > 0


async def test_a_sittings_language_reaches_the_decoder(
    tiny: WhisperSpeechToText, base: WhisperSpeechToText
) -> None:
    pcm = clip(JFK)

    english_only = await tiny.transcribe(pcm, language="de")
    told_german = await base.transcribe(pcm, language="de")
    told_english = await base.transcribe(pcm, language="en")

    assert english_only.language == "en"  # tiny.en hears English whatever it is told
    assert word_error_rate(reference(JFK), english_only.text) <= 0.10
    assert (told_german.language, told_english.language) == ("de", "en")
    assert word_error_rate(reference(JFK), told_english.text) <= 0.10
    assert told_german.text != told_english.text, told_german.text


async def test_confidence_is_high_on_clear_speech_and_lower_under_loud_noise(
    tiny: WhisperSpeechToText,
) -> None:
    pcm = clip(JFK)

    clear = await tiny.transcribe(pcm)
    noisy = await tiny.transcribe(with_noise(pcm, snr_db=-5, seed=0))

    assert clear.confidence > 0.5
    assert 0.0 < noisy.confidence < clear.confidence


async def test_word_timestamps_are_ordered_and_inside_the_audio(
    tiny: WhisperSpeechToText,
) -> None:
    transcript = await tiny.transcribe(clip(JFK))

    words = transcript.words
    assert normalize(" ".join(word.text for word in words)) == normalize(transcript.text)
    for word in words:
        assert 0.0 <= word.start <= word.end <= transcript.audio_seconds
        assert 0.0 <= word.probability <= 1.0
    starts = [word.start for word in words]
    assert starts == sorted(starts)
    assert words[-1].end > transcript.audio_seconds / 2


async def test_examiners_question_steers_a_noisy_answer_to_its_vocabulary(
    tiny: WhisperSpeechToText,
) -> None:
    # At 0 dB tiny.en mishears "Americans" ("fellow men", "fellow American") unless the
    # question it answers tells it what the exam is about.
    noisy = with_noise(clip(JFK), snr_db=0, seed=1)

    unprompted = await tiny.transcribe(noisy)
    prompted = await tiny.transcribe(noisy, prompt=KENNEDY_QUESTION)

    assert "americans" in normalize(prompted.text), prompted.text
    assert word_error_rate(reference(JFK), prompted.text) < word_error_rate(
        reference(JFK), unprompted.text
    )


async def test_keywords_are_given_to_the_decoder_as_hotwords(base: WhisperSpeechToText) -> None:
    # Unbiased, whisper base writes this answer in digits ("1, 2, 3."); given the question's
    # keywords it spells them the way the keyword list does.
    pcm = clip(ONE_TWO_THREE)

    plain = await base.transcribe(pcm)
    biased = await base.transcribe(pcm, hotwords=["one", " two ", "three", ""])

    assert re.findall(r"[a-z]+", plain.text.lower()) == [], plain.text
    assert re.findall(r"[a-z]+", biased.text.lower()) == ["one", "two", "three"], biased.text
    assert normalize(plain.text) == normalize(biased.text)


@pytest.mark.parametrize(
    "pcm",
    [
        pytest.param(np.zeros(0, dtype=np.int16), id="empty"),
        pytest.param(np.zeros(2 * SAMPLE_RATE, dtype=np.int16), id="digital-silence"),
        pytest.param(
            np.random.default_rng(0)
            .integers(-SILENCE_PEAK, SILENCE_PEAK + 1, 2 * SAMPLE_RATE)
            .astype(np.int16),
            id="faint-hiss",
        ),
    ],
)
async def test_silence_gives_an_empty_transcript_with_zero_confidence(
    tiny: WhisperSpeechToText, pcm: PCM16
) -> None:
    transcript = await tiny.transcribe(pcm, prompt=KENNEDY_QUESTION, hotwords=["Americans"])

    assert transcript.text == ""
    assert transcript.confidence == 0.0
    assert transcript.words == ()
    assert transcript.audio_seconds == pytest.approx(pcm.size / SAMPLE_RATE)


@pytest.mark.parametrize(
    "samples",
    [
        pytest.param(np.zeros(SAMPLE_RATE, dtype=np.float32), id="float32"),
        pytest.param(np.zeros((2, SAMPLE_RATE), dtype=np.int16), id="stereo"),
    ],
)
async def test_rejects_anything_but_mono_pcm16(tiny: WhisperSpeechToText, samples: PCM16) -> None:
    with pytest.raises(ValidationFailed, match="PCM16"):
        await tiny.transcribe(samples)


async def test_concurrent_answers_share_one_model_and_all_come_out_right(
    tiny: WhisperSpeechToText, pool: InferencePool
) -> None:
    names = [JFK, ONE_TWO_THREE, JFK, ONE_TWO_THREE]
    clips = {name: clip(name) for name in set(names)}

    transcripts = await asyncio.gather(*(tiny.transcribe(clips[name]) for name in names))

    for name, transcript in zip(names, transcripts, strict=True):
        assert word_error_rate(reference(name), transcript.text) <= 0.10, transcript.text
    # One model in memory, with a decoder per pool thread that may call it (up to the cores).
    assert tiny.model.model.num_workers == tiny.num_workers == min(pool.workers, available_cores())


async def test_warm_up_leaves_the_engine_ready(tiny: WhisperSpeechToText) -> None:
    await tiny.warm_up()

    transcript = await tiny.transcribe(clip(ONE_TWO_THREE))
    assert word_error_rate(reference(ONE_TWO_THREE), transcript.text) <= 0.10


async def test_question_and_keywords_are_not_put_into_a_silent_students_mouth(
    tiny: WhisperSpeechToText,
) -> None:
    # Background hiss loud enough to pass the silence gate: unguarded, the decoder answers it
    # with the prompt ("President Kennedy") or a keyword.
    hiss = np.random.default_rng(3).normal(0.0, 300.0, 3 * SAMPLE_RATE)

    transcript = await tiny.transcribe(
        np.rint(hiss).astype(np.int16), prompt=KENNEDY_QUESTION, hotwords=["Americans", "country"]
    )

    assert transcript.text == ""
    assert transcript.confidence == 0.0


async def test_a_long_question_and_many_keywords_still_fit_the_decoder(
    tiny: WhisperSpeechToText,
) -> None:
    long_question = " ".join([KENNEDY_QUESTION] * 40)  # ~600 tokens, more than Whisper's 448
    keywords = [f"keyword{i}" for i in range(200)]

    transcript = await tiny.transcribe(clip(JFK), prompt=long_question, hotwords=keywords)

    assert word_error_rate(reference(JFK), transcript.text) <= 0.10, transcript.text


def test_the_longest_question_and_keywords_leave_the_transcript_its_tokens(
    tiny: WhisperSpeechToText,
) -> None:
    """Clipped to their budgets, the question and keywords leave :data:`MAX_NEW_TOKENS` of
    Whisper's 448 for the transcript."""
    question = tiny._clip_tokens(" ".join([KENNEDY_QUESTION] * 40), PROMPT_TOKENS, keep_end=True)
    keywords = " ".join(hotwords([[f"keyword{i}", f"synonym {i}"] for i in range(200)]))
    clipped = tiny._clip_tokens(keywords, HOTWORD_TOKENS, keep_end=False)

    prompt = tiny._prompt_tokens(question, clipped, "en")

    assert len(prompt) > PROMPT_TOKENS + HOTWORD_TOKENS
    assert len(prompt) <= PROMPT_TOKENS + HOTWORD_TOKENS + PROMPT_SPECIAL_TOKENS
    assert len(prompt) + MAX_NEW_TOKENS <= CONTEXT_TOKENS


async def test_answers_longer_than_whisper_window_are_transcribed_end_to_end(
    tiny: WhisperSpeechToText, pool: InferencePool
) -> None:
    # A 60 s lecture excerpt (SOURCE.txt: it begins "...and says, how do I get to Dublin?").
    pcm = clip(LECTURE)
    stt = WhisperSpeechToText(tiny.model, pool)

    transcript = await stt.transcribe(pcm)

    # Over 30 s: cut into chunks of at most 30 s, each decoded as a window of its own.
    assert stt.decode_counts.chunked == 1
    windows = stt.decode_counts.short_context + stt.decode_counts.full_context
    assert windows == len(chunk_bounds(pcm)) >= 2

    assert "how do i get to dublin" in " ".join(normalize(transcript.text))
    starts = [word.start for word in transcript.words]
    assert starts == sorted(starts)
    assert starts[0] < 1.0
    assert transcript.words[-1].end > transcript.audio_seconds - 5.0


class _ThreadsSeen(WhisperSpeechToText):
    """The real engine, noting the thread each 30 s window is decoded in."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.threads: set[str] = set()

    def _decode_window(self, *args: Any, **kwargs: Any) -> Any:
        self.threads.add(threading.current_thread().name)
        return super()._decode_window(*args, **kwargs)


async def test_a_long_recordings_chunks_decoded_at_once_give_the_same_transcript(
    tiny: WhisperSpeechToText, pool: InferencePool
) -> None:
    """The analysis worker decodes a recording's 30 s chunks on decoders of their own at once
    (``chunk_workers``); chunks never depend on each other, so every word and time is the one
    the chunk-after-chunk decode gives."""
    pcm = np.concatenate([clip(LECTURE), clip(JFK), clip(LECTURE)])
    serial = await WhisperSpeechToText(tiny.model, pool).transcribe(pcm)
    parallel = _ThreadsSeen.load(
        whisper_tiny_en_dir(), pool=pool, cpu_threads=1, num_workers=2, chunk_workers=2
    )
    assert isinstance(parallel, _ThreadsSeen)

    transcript = await parallel.transcribe(pcm)

    assert len(chunk_bounds(pcm)) >= 4
    assert len({name for name in parallel.threads if name.startswith("whisper-chunk")}) == 2
    assert transcript.text == serial.text
    assert transcript.words == serial.words
    assert parallel.decode_counts.chunked == 1


def sepsis_answer(voices: CandidateVoices) -> tuple[QuestionSpec, PCM16]:
    """The medical bank's sixth model answer in espeak's voice, 1.2 s after each comma and 2 s
    after each sentence (36 s): the answer a live sitting stored with "norepinephrine," said
    28 times in place of its last sentence."""
    bank = next(bank for bank in load_banks() if bank.college_type == "medical")
    question = [q for scenario in bank.scenarios for q in scenario.questions][5]
    pieces = [silence(0.3)]
    for text, boundary in clauses(question.model_answer):
        pieces.append(audible(voices.espeak(text)))
        if boundary != "end":
            pieces.append(silence(1.2 if boundary == "comma" else 2.0))
    return question, np.concatenate([*pieces, silence(0.5)])


def said_over_and_over(text: str) -> list[str]:
    """Words said three or more times in a row."""
    words = normalize(text)
    return [a for a, b, c in zip(words, words[1:], words[2:], strict=False) if a == b == c]


@pytest.mark.parametrize("beam_size", [1, 5])
async def test_a_long_answer_is_heard_to_its_end_without_a_hotword_loop(
    tiny: WhisperSpeechToText, pool: InferencePool, voices: CandidateVoices, beam_size: int
) -> None:
    """Greedy and the product's beam of 5 (``NEWSPEECH_WHISPER_BEAM_SIZE``)."""
    question, pcm = sepsis_answer(voices)
    stt = WhisperSpeechToText(tiny.model, pool, beam_size=beam_size)
    forms = [[keyword.term, *keyword.synonyms] for keyword in question.keywords]

    transcript = await stt.transcribe(pcm, prompt=question.question, hotwords=hotwords(forms))

    assert stt.decode_counts.chunked == 1
    assert said_over_and_over(transcript.text) == [], transcript.text
    heard = " ".join(normalize(transcript.text))
    assert "arterial pressure" in heard, transcript.text
    assert "source control" in heard, transcript.text
    assert transcript.words[-1].end > transcript.audio_seconds - 2.0


async def test_a_full_window_that_loops_on_its_hotwords_is_decoded_again_without_them(
    tiny_full_context: WhisperSpeechToText, pool: InferencePool, voices: CandidateVoices
) -> None:
    question, pcm = sepsis_answer(voices)
    stt = WhisperSpeechToText(tiny_full_context.model, pool, min_context_frames=FULL_CONTEXT_FRAMES)
    forms = [[keyword.term, *keyword.synonyms] for keyword in question.keywords]

    # The answer's last sentences, from a few starting points: in the full 30 s window, with the
    # question's hotwords, tiny.en hears some of them as "start norepinephrine,
    # norepinephrine, norepinephrine, ..." for "start noradrenaline, aiming for a mean arterial
    # pressure ..." (which ones depends on CTranslate2's threads).
    texts = [
        (
            await stt.transcribe(
                pcm[round(start * SAMPLE_RATE) :],
                prompt=question.question,
                hotwords=hotwords(forms),
            )
        ).text
        for start in (17.0, 20.1, 20.5, 21.0, 23.0)
    ]

    assert stt.decode_counts.unbiased_retry >= 1
    for text in texts:
        assert said_over_and_over(text) == [], text
        assert "arterial pressure" in " ".join(normalize(text)), text


def test_long_audio_is_cut_in_quiet_places_into_whisper_sized_chunks() -> None:
    pcm = clip(LECTURE)

    bounds = chunk_bounds(pcm)

    assert len(bounds) >= 2
    assert bounds[0][0] == 0.0
    assert bounds[-1][1] == pytest.approx(pcm.size / SAMPLE_RATE)
    for (_, end), (start, _) in itertools.pairwise(bounds):
        assert end == start
    assert all(0 < end - start <= MAX_CHUNK_SECONDS for start, end in bounds)
    frame_energy = (pcm.astype(np.float64) ** 2).reshape(-1, SAMPLE_RATE // 10).mean(axis=1)
    for _, cut in bounds[:-1]:
        frame = int(cut * 10)
        assert frame_energy[frame - 1 : frame + 1].min() < np.percentile(frame_energy, 25)
    ((start, end),) = chunk_bounds(clip(JFK))  # under 30 s: one chunk, the whole answer
    assert start == 0.0
    assert end == pytest.approx(11.0, abs=0.01)


def test_confidence_weighs_segments_by_their_tokens() -> None:
    long_and_sure, short_and_unsure = (-0.1, 30), (-2.0, 1)

    confidence = confidence_from_segments([long_and_sure, short_and_unsure])

    assert confidence == pytest.approx(math.exp((-0.1 * 30 - 2.0) / 31))
    assert confidence_from_segments([]) == 0.0
    assert confidence_from_segments([(0.5, 3)]) == 1.0
    assert confidence_from_segments([(-math.inf, 3), (float("nan"), 2)]) == 0.0


@pytest.mark.parametrize(
    ("name", "seconds", "prompt", "hotwords"),
    [
        pytest.param(JFK, None, None, (), id="jfk"),
        pytest.param(JFK, None, KENNEDY_QUESTION, ("Americans", "country"), id="jfk-prompted"),
        pytest.param(ONE_TWO_THREE, None, None, (), id="one-two-three"),
        # With hotwords tiny.en loops on this clip in a window under 10 s.
        pytest.param(ONE_TWO_THREE, None, None, ("one", "two", "three"), id="hotwords"),
        pytest.param(ONE_TWO_THREE_AGAIN, None, None, (), id="one-two-three-again"),
        # Lecture windows on which tiny.en loops with up to 5 s (8 s) of padding.
        pytest.param(LECTURE, (25, 30), None, (), id="lecture-25s-30s"),
        pytest.param(LECTURE, (27, 30), None, (), id="lecture-27s-30s"),
    ],
)
async def test_short_window_transcribes_like_the_full_30_seconds(
    tiny_full_context: WhisperSpeechToText,
    pool: InferencePool,
    name: str,
    seconds: tuple[int, int] | None,
    prompt: str | None,
    hotwords: tuple[str, ...],
) -> None:
    stt = WhisperSpeechToText(tiny_full_context.model, pool)
    pcm = clip(name)
    if seconds:
        pcm = pcm[seconds[0] * SAMPLE_RATE : seconds[1] * SAMPLE_RATE]

    short = await stt.transcribe(pcm, prompt=prompt, hotwords=hotwords)
    full = await tiny_full_context.transcribe(pcm, prompt=prompt, hotwords=hotwords)

    # Decoded once, in the short window: too little padding would loop (and be decoded again,
    # counted as a retry) or change the words. Punctuation, case and digits may differ ("1, 2,
    # 3." for "One, two, three."): they do even when the 30 s window starts 10 ms later.
    assert stt.decode_counts.short_context == 1
    assert stt.decode_counts.full_context_retry == 0
    # The lecture windows end mid-phrase ("… if at all. At this sp|"): the short window may
    # also transcribe the clipped words at the cut, which the 30 s window drops. Nothing else
    # may differ.
    short_words, full_words = normalize(short.text), normalize(full.text)
    assert short_words[: len(full_words)] == full_words
    assert len(short_words) - len(full_words) <= (3 if seconds else 0)
    assert normalize(" ".join(word.text for word in short.words)) == short_words
    assert short.confidence > 0.5


async def test_a_looping_short_window_is_decoded_again_with_the_full_30_seconds(
    tiny_full_context: WhisperSpeechToText, pool: InferencePool
) -> None:
    # No padding at all: the encoder sees exactly the 2.7 s of audio and the decoder loops.
    stt = WhisperSpeechToText(
        tiny_full_context.model, pool, context_margin_frames=0, min_context_frames=0
    )
    pcm = clip(ONE_TWO_THREE)

    transcript = await stt.transcribe(pcm)

    assert stt.decode_counts.full_context_retry == 1
    assert stt.decode_counts.short_context == 0
    assert transcript.text == (await tiny_full_context.transcribe(pcm)).text
    assert word_error_rate(reference(ONE_TWO_THREE), transcript.text) <= 0.10


def test_short_windows_hold_the_audio_plus_a_margin_in_whole_seconds() -> None:
    assert context_frames(500, margin=1000, minimum=1000) == 1500
    assert context_frames(274, margin=1000, minimum=1000) == 1300
    assert context_frames(274, margin=0, minimum=1000) == 1000
    assert context_frames(274, margin=0, minimum=0) == 300
    assert context_frames(2950, margin=1000, minimum=1000) == FULL_CONTEXT_FRAMES
    assert context_frames(0, margin=0, minimum=0) == 100


def test_loops_and_impossible_token_counts_look_degenerate() -> None:
    phrase = [1681, 318, 257, 1332]  # any four tokens
    looping = [40, 910, *phrase * (LOOP_TOKENS // len(phrase) + 1)]
    stutter = [1400, 11, 645, 11, 645, 11, 645, 13]  # "No, no, no, no."
    counting = list(range(100, 130))

    assert looks_degenerate(looping, audio_seconds=30.0)
    assert looks_degenerate(counting, audio_seconds=1.0)
    assert not looks_degenerate(counting, audio_seconds=(30 - TOKEN_ALLOWANCE) / 6.0 + 0.5)
    assert not looks_degenerate(stutter, audio_seconds=2.0)
    assert not looks_degenerate([], audio_seconds=0.5)
