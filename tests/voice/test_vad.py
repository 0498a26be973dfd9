"""Silero VAD on real recordings: phrase pauses, noise, per-stream state, frame checks."""

from __future__ import annotations

import itertools
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from newspeech.voice.audio import decode_audio
from newspeech.voice.protocols import PCM16, SAMPLE_RATE, VoiceActivityDetector
from newspeech.voice.vad import (
    SileroVoiceActivityDetector,
    speech_probabilities,
    speech_segments,
)
from newspeech.weights import SILERO_VAD, locate

AUDIO = Path(__file__).resolve().parents[3] / "shared" / "audio"
FRAME = 512


@pytest.fixture(scope="module")
def detector() -> SileroVoiceActivityDetector:
    return SileroVoiceActivityDetector(locate(SILERO_VAD))


def load(name: str) -> PCM16:
    return decode_audio((AUDIO / name).read_bytes(), max_seconds=600)


@pytest.fixture(scope="module")
def jfk() -> PCM16:
    return load("whisper_jfk.flac")


@pytest.fixture(scope="module")
def one_two_three() -> PCM16:
    return load("speech_recognition_english.wav")


def noise(kind: str, seconds: float, dbfs: float, seed: int = 0) -> PCM16:
    """White, pink (1/f power) or brown (1/f^2) noise at an RMS level of ``dbfs``."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SAMPLE_RATE)
    white = rng.standard_normal(n)
    if kind == "white":
        signal = white
    else:
        spectrum = np.fft.rfft(white)
        freqs = np.fft.rfftfreq(n)
        freqs[0] = freqs[1]
        signal = np.fft.irfft(spectrum / freqs ** (0.5 if kind == "pink" else 1.0), n)
    signal = signal - signal.mean()
    signal *= 32768 * 10 ** (dbfs / 20) / np.sqrt(np.mean(signal**2))
    pcm: PCM16 = np.clip(np.rint(signal), -32768, 32767).astype(np.int16)
    return pcm


def frames(pcm: PCM16) -> list[PCM16]:
    return [pcm[i : i + FRAME] for i in range(0, pcm.size - FRAME + 1, FRAME)]


def gaps(segments: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The silences between consecutive segments, as (start, end) seconds."""
    return [(end, start) for (_, end), (start, _) in itertools.pairwise(segments)]


def probabilities(detector: VoiceActivityDetector, pcm: PCM16) -> npt.NDArray[np.float64]:
    stream = detector.new_stream()
    return np.array([stream.probability(frame) for frame in frames(pcm)])


def test_detector_describes_its_frames(detector: SileroVoiceActivityDetector) -> None:
    as_protocol: VoiceActivityDetector = detector

    assert (as_protocol.sample_rate, as_protocol.frame_samples) == (SAMPLE_RATE, FRAME)


# Word timings of the JFK clip from faster-whisper tiny.en (word_timestamps=True), rounded to
# 0.1 s. Whisper folds each pause into the start of the word after it, so a pause can only be
# placed between the start of the word before it and the end of the word after it.
# "And so my fellow Americans, | ask not | what your country can do for you, | ask what ..."
SO_END = 1.1
PAUSES_BETWEEN = [
    (1.8, 3.9),  # "Americans" starts .. "ask" ends
    (3.9, 5.7),  # "not" starts .. "what" ends
    (7.3, 8.7),  # "you" starts .. "ask" ends
]
LAST_WORD_START = 10.2  # "country."


def test_finds_the_four_phrases_of_jfk(detector: SileroVoiceActivityDetector, jfk: PCM16) -> None:
    # 300 ms of silence ends a phrase; the shorter dips between words do not.
    segments = speech_segments(jfk, detector, min_silence_ms=300)

    assert len(segments) == 4
    assert segments[0][0] < SO_END
    assert segments[-1][1] > LAST_WORD_START
    pauses = gaps(segments)
    for (pause_start, pause_end), (earliest, latest) in zip(pauses, PAUSES_BETWEEN, strict=True):
        assert earliest < pause_start < pause_end < latest
        assert pause_end - pause_start >= 0.3
    speech = sum(end - start for start, end in segments)
    assert 0.5 * 11.0 < speech < 0.95 * 11.0


def test_default_segments_split_at_every_phrase_pause(
    detector: SileroVoiceActivityDetector, jfk: PCM16
) -> None:
    segments = speech_segments(jfk, detector)

    assert len(segments) >= 3
    assert all(start < end for start, end in segments)
    pauses = gaps(segments)
    assert all(pause_start < pause_end for pause_start, pause_end in pauses)
    for earliest, latest in PAUSES_BETWEEN:
        assert any(
            earliest < pause_start and pause_end < latest for pause_start, pause_end in pauses
        )


def test_finds_each_word_of_one_two_three(
    detector: SileroVoiceActivityDetector, one_two_three: PCM16
) -> None:
    assert len(speech_segments(one_two_three, detector)) == 3


@pytest.mark.parametrize("kind", ["white", "pink", "brown"])
@pytest.mark.parametrize("dbfs", [-50.0, -30.0])
def test_noise_alone_is_not_speech(
    detector: SileroVoiceActivityDetector, kind: str, dbfs: float
) -> None:
    pcm = noise(kind, seconds=5.0, dbfs=dbfs)

    assert speech_segments(pcm, detector) == []
    assert probabilities(detector, pcm).max() < 0.5


def test_digital_silence_is_not_speech(detector: SileroVoiceActivityDetector) -> None:
    silence = np.zeros(3 * SAMPLE_RATE, dtype=np.int16)

    assert speech_segments(silence, detector) == []


@pytest.mark.parametrize("kind", ["white", "pink", "brown"])
def test_noisy_gaps_around_speech_stay_silent(
    detector: SileroVoiceActivityDetector, one_two_three: PCM16, kind: str
) -> None:
    lead, tail = 3.0, 3.0
    mixed = noise(kind, lead + one_two_three.size / SAMPLE_RATE + tail, dbfs=-50.0, seed=3)
    at = int(lead * SAMPLE_RATE)
    mixed[at : at + one_two_three.size] += one_two_three
    speech_end = lead + one_two_three.size / SAMPLE_RATE

    segments = speech_segments(mixed, detector)

    assert len(segments) == 3
    assert all(lead <= start and end <= speech_end for start, end in segments)


def test_matches_pipecat_reference_wrapper(
    detector: SileroVoiceActivityDetector, jfk: PCM16
) -> None:
    """Pipecat's SileroOnnxModel is the reference way to feed this model file."""
    with warnings.catch_warnings():
        # Pipecat's audio utilities import the deprecated stdlib audioop module.
        warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
        from pipecat.audio.vad.silero import SileroOnnxModel

    reference = SileroOnnxModel(str(locate(SILERO_VAD)))  # type: ignore[no-untyped-call]
    expected = [
        float(reference(frame.astype(np.float32) / 32768.0, SAMPLE_RATE)[0, 0])
        for frame in frames(jfk)
    ]

    np.testing.assert_allclose(probabilities(detector, jfk), expected, rtol=0, atol=1e-6)


def test_interleaved_streams_keep_separate_state(
    detector: SileroVoiceActivityDetector, jfk: PCM16
) -> None:
    lecture = load("silero-vad_test.wav")[: jfk.size]
    alone_jfk, alone_lecture = probabilities(detector, jfk), probabilities(detector, lecture)

    first, second = detector.new_stream(), detector.new_stream()
    together = [
        (first.probability(a), second.probability(b))
        for a, b in zip(frames(jfk), frames(lecture), strict=True)
    ]

    np.testing.assert_array_equal([p for p, _ in together], alone_jfk)
    np.testing.assert_array_equal([p for _, p in together], alone_lecture)


def test_streams_scored_concurrently_match_sequential_runs(
    detector: SileroVoiceActivityDetector, jfk: PCM16, one_two_three: PCM16
) -> None:
    clips = [jfk, one_two_three, load("silero-vad_test.wav")[: 20 * SAMPLE_RATE], jfk[::-1].copy()]
    sequential = [probabilities(detector, clip) for clip in clips]

    with ThreadPoolExecutor(len(clips)) as pool:
        concurrent = list(pool.map(lambda clip: probabilities(detector, clip), clips))

    for got, expected in zip(concurrent, sequential, strict=True):
        np.testing.assert_array_equal(got, expected)


def test_reset_forgets_what_the_stream_heard(
    detector: SileroVoiceActivityDetector, jfk: PCM16
) -> None:
    stream = detector.new_stream()
    for frame in frames(jfk)[:100]:
        stream.probability(frame)

    stream.reset()

    np.testing.assert_array_equal(
        [stream.probability(frame) for frame in frames(jfk)[:50]],
        probabilities(detector, jfk[: 50 * FRAME]),
    )


def test_speech_probabilities_pads_the_last_frame(
    detector: SileroVoiceActivityDetector, jfk: PCM16
) -> None:
    clip = jfk[: 10 * FRAME + 100]

    scores = speech_probabilities(clip, detector)

    assert scores.shape == (11,)
    assert ((scores >= 0.0) & (scores <= 1.0)).all()
    np.testing.assert_array_equal(scores[:10], probabilities(detector, clip[: 10 * FRAME]))


@pytest.mark.parametrize(
    "frame",
    [
        pytest.param(np.zeros(511, dtype=np.int16), id="short"),
        pytest.param(np.zeros(513, dtype=np.int16), id="long"),
        pytest.param(np.zeros(0, dtype=np.int16), id="empty"),
        pytest.param(np.zeros((1, 512), dtype=np.int16), id="two-dimensional"),
        pytest.param(np.zeros(512, dtype=np.float32), id="float"),
        pytest.param(np.zeros(512, dtype=np.int32), id="int32"),
    ],
)
def test_rejects_frames_that_are_not_512_int16_samples(
    detector: SileroVoiceActivityDetector, frame: PCM16
) -> None:
    stream = detector.new_stream()

    with pytest.raises(ValueError, match="512 int16 samples"):
        stream.probability(frame)


def test_rejects_threshold_outside_0_1(
    detector: SileroVoiceActivityDetector, one_two_three: PCM16
) -> None:
    with pytest.raises(ValueError, match="threshold"):
        speech_segments(one_two_three, detector, threshold=1.5)
