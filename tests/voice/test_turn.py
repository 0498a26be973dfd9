"""Smart Turn v3.2 through onnxruntime, on real speech.

Features are checked against Pipecat's own numpy Whisper extractor (the reference its
``LocalSmartTurnAnalyzerV3`` feeds the same ONNX file), imported here in the test only.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from pipecat.audio.turn.smart_turn._whisper_features import compute_whisper_log_mel_features

from newspeech import weights
from newspeech.voice.audio import decode_audio
from newspeech.voice.ear import Ear, EarSettings, EarState, Heard
from newspeech.voice.pool import InferencePool
from newspeech.voice.protocols import PCM16, SAMPLE_RATE
from newspeech.voice.turn import (
    MEL_BINS,
    MEL_FRAMES,
    WINDOW_SAMPLES,
    SmartTurnDetector,
    SmartTurnFeatures,
    window,
)


@pytest.fixture(scope="module")
def detector() -> Iterator[SmartTurnDetector]:
    pool = InferencePool(1)
    yield SmartTurnDetector(weights.locate(weights.SMART_TURN_V3), pool)
    pool.close()


@pytest.fixture(scope="module")
def jfk(shared_dir: Path) -> PCM16:
    return decode_audio((shared_dir / "audio/whisper_jfk.flac").read_bytes(), max_seconds=60)


def at(pcm: PCM16, start: float, end: float) -> PCM16:
    return pcm[round(start * SAMPLE_RATE) : round(end * SAMPLE_RATE)]


def test_window_keeps_the_last_eight_seconds_and_pads_in_front(jfk: PCM16) -> None:
    long = window(jfk)
    assert long.shape == (WINDOW_SAMPLES,)
    assert np.array_equal(long, jfk[-WINDOW_SAMPLES:].astype(np.float32) / 32768.0)
    short = window(jfk[:SAMPLE_RATE])
    assert not short[: WINDOW_SAMPLES - SAMPLE_RATE].any()
    assert np.array_equal(short[-SAMPLE_RATE:], jfk[:SAMPLE_RATE].astype(np.float32) / 32768.0)


def test_features_match_pipecats_reference_extractor(jfk: PCM16) -> None:
    for audio in (window(jfk), window(at(jfk, 3.0, 5.0))):
        ours = SmartTurnFeatures()(audio)
        reference = compute_whisper_log_mel_features(audio, do_normalize=True)
        assert ours.shape == reference.shape == (MEL_BINS, MEL_FRAMES)
        assert ours.dtype == np.float32
        np.testing.assert_allclose(ours, reference, atol=1e-4)


async def test_a_finished_sentence_scores_complete_and_a_mid_sentence_pause_does_not(
    detector: SmartTurnDetector, jfk: PCM16
) -> None:
    whole = await detector.completion_probability(jfk)  # "... for your country."
    mid = await detector.completion_probability(at(jfk, 3.0, 4.45))  # "ask not what your"
    assert whole > 0.5
    assert mid < 0.5


def test_the_ear_segments_a_recording_with_pauses(jfk: PCM16) -> None:
    """Frame by frame on real VAD scores: speech starts once, pauses and resumes."""
    from newspeech.voice.vad import SileroVoiceActivityDetector

    vad = SileroVoiceActivityDetector(weights.locate(weights.SILERO_VAD))
    stream = vad.new_stream()
    ear = Ear(EarSettings())
    heard = []
    clip = np.concatenate([at(jfk, 3.0, 11.0), np.zeros(SAMPLE_RATE // 2, dtype=np.int16)])
    for start in range(0, clip.size - 512, 512):
        frame = clip[start : start + 512]
        outcome = ear.hear(frame, stream.probability(frame))
        if outcome is not Heard.NOTHING:
            heard.append(outcome)
    assert heard[0] is Heard.SPEECH_STARTED
    assert heard.count(Heard.SPEECH_STARTED) == 1
    assert heard.count(Heard.PAUSED) >= 2
    assert heard.count(Heard.RESUMED) == heard.count(Heard.PAUSED) - 1
    assert ear.state is EarState.PAUSED
    # Everything from just before the first word to the end is buffered as one answer.
    assert 7.5 < ear.answer_seconds <= 8.5
    ear.reset()
    assert ear.state is EarState.QUIET
    assert ear.audio().size == 0


def frames(value: int, count: int) -> list[PCM16]:
    return [np.full(512, value, dtype=np.int16) for _ in range(count)]


def test_speech_under_way_when_the_examiner_finishes_keeps_its_first_words() -> None:
    """An earlier stretch (1s), a pause (2s), then speech going on (3s) as the mic reopens:
    only the stretch under way is kept, from its start; nothing of it is lost."""
    ear = Ear(EarSettings())
    for frame in frames(1, 20):
        ear.hear(frame, 0.9)
    for frame in frames(2, 15):
        ear.hear(frame, 0.0)
    assert ear.state is EarState.PAUSED
    outcomes = [ear.hear(frame, 0.9) for frame in frames(3, 6)]
    assert Heard.RESUMED in outcomes
    ear.keep_current_segment()
    kept = set(ear.audio().tolist())
    assert 1 not in kept  # the earlier stretch is gone
    assert 3 in kept
    assert int((ear.audio() == 3).sum()) == 6 * 512  # all of the stretch under way
    assert ear.state is EarState.SPEAKING
    for frame in frames(4, 3):
        ear.hear(frame, 0.9)
    assert int((ear.audio() == 4).sum()) == 3 * 512  # and it goes on


def test_keeping_the_current_stretch_while_paused_forgets_everything() -> None:
    ear = Ear(EarSettings())
    for frame in frames(1, 20):
        ear.hear(frame, 0.9)
    for frame in frames(2, 15):
        ear.hear(frame, 0.0)
    ear.keep_current_segment()
    assert ear.state is EarState.QUIET
    assert ear.audio().size == 0
