"""Decoding uploads to 16 kHz mono PCM16, on real recordings re-encoded by FFmpeg in each test."""

from __future__ import annotations

import io
import wave
from pathlib import Path
from typing import cast

import av
import numpy as np
import numpy.typing as npt
import pytest
from av.audio.stream import AudioStream

from newspeech.errors import ValidationFailed
from newspeech.voice.audio import (
    AudioNotEncoded,
    AudioRejected,
    EncoderMissing,
    decode_audio,
    encode_ogg_opus,
    encode_wav,
    opus_encoder_problem,
    pcm16_from_float,
    resample_pcm16,
)
from newspeech.voice.protocols import PCM16, SAMPLE_RATE

AUDIO = Path(__file__).resolve().parents[3] / "shared" / "audio"
JFK_SECONDS = 11.0
LIMIT = 600.0


@pytest.fixture(scope="module")
def jfk() -> PCM16:
    """JFK, 44.1 kHz stereo 24-bit FLAC, as the engine hears it."""
    return decode_audio((AUDIO / "whisper_jfk.flac").read_bytes(), max_seconds=LIMIT)


def encode(
    pcm: PCM16,
    *,
    container: str,
    codec: str,
    rate: int,
    layout: str = "mono",
    codec_options: dict[str, str] | None = None,
    container_options: dict[str, str] | None = None,
) -> bytes:
    """``pcm`` (16 kHz mono) encoded by FFmpeg; PyAV converts it to the encoder's rate."""
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=container, options=container_options or {}) as out:
        stream = cast(AudioStream, out.add_stream(codec, rate=rate, layout=layout))
        if codec_options:
            stream.codec_context.options = codec_options
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    return buffer.getvalue()


def envelope(pcm: PCM16) -> npt.NDArray[np.float64]:
    """RMS per 20 ms: follows the speech, indifferent to what a lossy codec does to phase."""
    window = SAMPLE_RATE // 50
    frames = pcm[: pcm.size // window * window].astype(np.float64).reshape(-1, window)
    rms: npt.NDArray[np.float64] = np.sqrt(np.mean(frames**2, axis=1))
    return rms


def assert_same_speech(decoded: PCM16, original: PCM16, *, delay_samples: int = 0) -> None:
    """Same envelope; ``delay_samples`` is a codec's known priming delay to skip first."""
    a, b = envelope(decoded[delay_samples:]), envelope(original)
    n = min(a.size, b.size)
    assert np.corrcoef(a[:n], b[:n])[0, 1] > 0.99


def rejection(data: bytes, max_seconds: float = LIMIT) -> str:
    with pytest.raises(AudioRejected) as caught:
        decode_audio(data, max_seconds=max_seconds)
    assert caught.value.code == "audio_rejected"
    return caught.value.detail


def test_decodes_44k_stereo_24bit_flac_to_16k_mono(jfk: PCM16) -> None:
    assert jfk.dtype == np.int16
    assert jfk.ndim == 1
    assert jfk.size == JFK_SECONDS * SAMPLE_RATE
    assert np.abs(jfk).max() > 10_000


def test_resamples_44k_wav_like_soxr() -> None:
    data = (AUDIO / "speech_recognition_english.wav").read_bytes()
    with wave.open(io.BytesIO(data)) as reader:
        assert reader.getframerate() == 44_100
        original = np.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2")

    decoded = decode_audio(data, max_seconds=LIMIT)

    expected = resample_pcm16(original.astype(np.int16), 44_100)
    assert abs(decoded.size - expected.size) <= 2
    assert decoded.size / SAMPLE_RATE == pytest.approx(original.size / 44_100, abs=0.001)
    n = min(decoded.size, expected.size)
    assert np.corrcoef(decoded[:n].astype(float), expected[:n].astype(float))[0, 1] > 0.99


@pytest.mark.parametrize(
    ("container", "codec", "rate", "layout", "options"),
    [
        pytest.param("ogg", "libopus", 48_000, "mono", {}, id="ogg-opus"),
        # FFmpeg's own Vorbis encoder is marked experimental and only writes stereo.
        pytest.param(
            "ogg", "vorbis", 44_100, "stereo", {"strict": "experimental"}, id="ogg-vorbis-stereo"
        ),
        pytest.param("mp3", "libmp3lame", 44_100, "mono", {}, id="mp3"),
        pytest.param("webm", "libopus", 48_000, "mono", {}, id="webm-opus"),
        pytest.param("mp4", "aac", 44_100, "mono", {}, id="m4a-aac"),
        pytest.param("wav", "pcm_s16le", 8_000, "mono", {}, id="wav-8k"),
    ],
)
def test_decodes_lossy_and_resampled_formats(
    jfk: PCM16, container: str, codec: str, rate: int, layout: str, options: dict[str, str]
) -> None:
    data = encode(
        jfk, container=container, codec=codec, rate=rate, layout=layout, codec_options=options
    )

    decoded = decode_audio(data, max_seconds=LIMIT)

    assert decoded.dtype == np.int16
    assert decoded.ndim == 1
    assert decoded.size / SAMPLE_RATE == pytest.approx(JFK_SECONDS, abs=0.05)
    # FFmpeg's AAC encoder primes 1024 samples, and PyAV's MP4 muxer writes no edit list to
    # hide them (a phone's or Safari's recorder does), so the speech starts that much later.
    delay = round(1024 * SAMPLE_RATE / rate) if codec == "aac" else 0
    assert_same_speech(decoded, jfk, delay_samples=delay)


def test_decodes_streamed_webm_without_a_declared_duration(jfk: PCM16) -> None:
    """Browsers' MediaRecorder writes WebM live: no duration, no cues."""
    data = encode(
        jfk, container="webm", codec="libopus", rate=48_000, container_options={"live": "1"}
    )
    with av.open(io.BytesIO(data), mode="r") as probe:
        assert probe.duration is None

    decoded = decode_audio(data, max_seconds=LIMIT)

    assert decoded.size / SAMPLE_RATE == pytest.approx(JFK_SECONDS, abs=0.05)
    assert_same_speech(decoded, jfk)


@pytest.mark.parametrize(
    ("container", "codec"), [("flac", "flac"), ("wav", "pcm_s16le")], ids=["flac", "wav"]
)
def test_lossless_16k_mono_decodes_bit_exact(jfk: PCM16, container: str, codec: str) -> None:
    data = encode(jfk, container=container, codec=codec, rate=SAMPLE_RATE)

    np.testing.assert_array_equal(decode_audio(data, max_seconds=LIMIT), jfk)


def test_encode_wav_round_trips(jfk: PCM16) -> None:
    data = encode_wav(jfk)

    with wave.open(io.BytesIO(data)) as reader:
        assert (reader.getnchannels(), reader.getsampwidth(), reader.getframerate()) == (
            1,
            2,
            SAMPLE_RATE,
        )
    np.testing.assert_array_equal(decode_audio(data, max_seconds=LIMIT), jfk)


def test_encode_ogg_opus_keeps_the_voice(jfk: PCM16) -> None:
    data = encode_ogg_opus(jfk)

    assert data[:4] == b"OggS"
    assert len(data) < jfk.nbytes / 5  # compressed, not PCM
    decoded = decode_audio(data, max_seconds=LIMIT)
    assert decoded.size / SAMPLE_RATE == pytest.approx(jfk.size / SAMPLE_RATE, abs=0.1)


@pytest.mark.parametrize(
    ("samples", "bitrate", "raised"),
    [
        # libopus answers an empty frame with ENOMEM: neither an OSError nor a ValueError.
        pytest.param(0, 24_000, av.error.MemoryError, id="no-samples"),
        pytest.param(SAMPLE_RATE, 10**9, av.error.ArgumentError, id="bitrate-refused"),
    ],
)
def test_encode_ogg_opus_turns_each_encoder_failure_into_one_error(
    samples: int, bitrate: int, raised: type[Exception]
) -> None:
    with pytest.raises(AudioNotEncoded, match="libopus could not encode") as caught:
        encode_ogg_opus(np.ones(samples, dtype=np.int16), bitrate=bitrate)

    assert type(caught.value.__cause__) is raised
    assert isinstance(caught.value, ValueError)  # callers that catch bad input still do


def test_an_encoder_this_ffmpeg_lacks_is_told_apart_and_named_by_the_start_up_check() -> None:
    with pytest.raises(EncoderMissing, match="no no-such-codec encoder"):
        encode_ogg_opus(np.zeros(SAMPLE_RATE, dtype=np.int16), codec="no-such-codec")
    problem = opus_encoder_problem("no-such-codec")
    assert problem is not None
    assert problem.startswith("FFmpeg has no no-such-codec encoder (PyAV ")
    assert opus_encoder_problem() is None


def test_encode_ogg_opus_refuses_more_than_one_channel() -> None:
    with pytest.raises(AudioNotEncoded, match="mono"):
        encode_ogg_opus(np.zeros((2, 160), dtype=np.int16))


def test_rejects_empty_upload() -> None:
    detail = rejection(b"")

    assert "empty" in detail
    assert "WAV, FLAC, OGG" in detail


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(np.random.default_rng(1).bytes(20_000), id="random-bytes"),
        pytest.param(b"My answer is that photosynthesis makes sugar.\n" * 40, id="text"),
        pytest.param(b"1\n00:00:01,000 --> 00:00:02,500\nHello\n\n", id="subtitles"),
    ],
)
def test_rejects_data_that_is_not_audio(data: bytes) -> None:
    detail = rejection(data)

    assert "not a recording we can read" in detail
    assert "WAV, FLAC, OGG (Vorbis or Opus), MP3, WebM (Opus) or MP4/M4A (AAC)" in detail


def test_rejects_audio_formats_outside_the_accepted_list(jfk: PCM16) -> None:
    detail = rejection(encode(jfk, container="au", codec="pcm_s16be", rate=SAMPLE_RATE))

    assert "WAV, FLAC, OGG" in detail


def test_rejects_file_cut_inside_its_header() -> None:
    data = (AUDIO / "whisper_jfk.flac").read_bytes()

    assert "damaged or cut short" in rejection(data[:1000])


def test_rejects_flac_cut_mid_stream() -> None:
    data = (AUDIO / "whisper_jfk.flac").read_bytes()

    assert "corrupt or cut short" in rejection(data[: len(data) // 2])


@pytest.mark.parametrize(
    ("container", "codec", "rate"),
    [("mp3", "libmp3lame", 44_100), ("webm", "libopus", 48_000)],
    ids=["mp3", "webm"],
)
def test_rejects_upload_shorter_than_its_declared_duration(
    jfk: PCM16, container: str, codec: str, rate: int
) -> None:
    data = encode(jfk, container=container, codec=codec, rate=rate)

    detail = rejection(data[: len(data) // 2])

    assert "cut short" in detail
    assert "11.0 s" in detail


def test_rejects_recording_longer_than_the_limit() -> None:
    detail = rejection((AUDIO / "whisper_jfk.flac").read_bytes(), max_seconds=5)

    assert detail == "the recording is 11.0 s long; the limit is 5 s"


def test_stops_decoding_once_the_limit_is_passed(jfk: PCM16) -> None:
    """The second half of this MP3 is garbage: only a decoder that reads past the limit sees it."""
    damaged = bytearray(encode(jfk, container="mp3", codec="libmp3lame", rate=44_100))
    middle = len(damaged) // 2
    damaged[middle : middle + 4000] = np.random.default_rng(2).bytes(4000)

    assert "corrupt" in rejection(bytes(damaged))
    assert "limit is 2 s" in rejection(bytes(damaged), max_seconds=2)


def test_rejects_container_without_audio() -> None:
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="webm") as out:
        stream = out.add_stream("libvpx", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for index in range(5):
            image = np.full((48, 64, 3), index * 40, dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = index
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)

    assert "no audio stream" in rejection(buffer.getvalue())


def test_rejects_recording_without_samples() -> None:
    assert "no audio samples" in rejection(encode_wav(np.zeros(0, dtype=np.int16)))


def test_audio_rejected_is_a_validation_failure() -> None:
    assert issubclass(AudioRejected, ValidationFailed)
    assert AudioRejected.http_status == 422


def test_pcm16_from_float_scales_and_clips() -> None:
    samples = np.array([0.0, 0.5, -0.5, 1.0, -1.0, 1.7, -3.0], dtype=np.float32)

    pcm = pcm16_from_float(samples)

    assert pcm.dtype == np.int16
    assert pcm.tolist() == [0, 16384, -16384, 32767, -32767, 32767, -32767]


def test_resample_pcm16_keeps_duration_and_pitch() -> None:
    rate, seconds, pitch = 44_100, 2.0, 440.0
    t = np.arange(int(rate * seconds)) / rate
    tone = pcm16_from_float(0.5 * np.sin(2 * np.pi * pitch * t))

    resampled = resample_pcm16(tone, rate)

    assert resampled.dtype == np.int16
    assert resampled.size == seconds * SAMPLE_RATE
    spectrum = np.abs(np.fft.rfft(resampled.astype(np.float64)))
    peak = np.fft.rfftfreq(resampled.size, 1 / SAMPLE_RATE)[int(np.argmax(spectrum))]
    assert peak == pytest.approx(pitch, abs=1.0)
