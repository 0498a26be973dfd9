"""Decoding a long recording to 16 kHz mono PCM16 (``pcm16_blocks``): the decoder's frames are
joined a second at a time before resampling, and what comes out is sample for sample what
resampling each frame on its own gives, for planar and packed, stereo, 44.1 kHz audio."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import av
import numpy as np
import pytest
from av.audio.resampler import AudioResampler
from av.audio.stream import AudioStream

from newspeech.voice.protocols import PCM16, SAMPLE_RATE
from newspeech.voice.recording import pcm16_blocks

RATE = 44_100
SECONDS = 6.0


def stereo_recording(path: Path, codec: str, sample_format: str) -> None:
    """Two tones, one per channel, at 44.1 kHz, written frame by frame as the codec wants."""
    with av.open(str(path), "w") as container:
        stream = cast(AudioStream, container.add_stream(codec, rate=RATE, layout="stereo"))
        size = 1152
        t = np.arange(int(RATE * SECONDS)) / RATE
        for at in range(0, t.size, size):
            span = t[at : at + size]
            tones = 0.3 * np.stack([np.sin(2 * np.pi * 440 * span), np.sin(2 * np.pi * 300 * span)])
            if sample_format == "s16":  # packed: one row, the channels interleaved
                packed = (tones * 32767).astype(np.int16).T.reshape(1, -1).copy()
                frame = av.AudioFrame.from_ndarray(packed, format="s16", layout="stereo")
            else:
                frame = av.AudioFrame.from_ndarray(
                    tones.astype(np.float32), format=sample_format, layout="stereo"
                )
            frame.sample_rate = RATE
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def frame_by_frame(path: Path) -> PCM16:
    """Every decoded frame resampled on its own (how recordings were decoded before)."""
    resampler = AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
    pieces = []
    with av.open(str(path)) as container:
        for frame in container.decode(container.streams.audio[0]):
            pieces += [out.to_ndarray().reshape(-1) for out in resampler.resample(frame)]
    pieces += [out.to_ndarray().reshape(-1) for out in resampler.resample(None)]
    return np.concatenate(pieces).astype(np.int16)


@pytest.mark.parametrize(
    ("name", "codec", "sample_format"),
    [("packed.flac", "flac", "s16"), ("planar.mp3", "libmp3lame", "fltp")],
)
def test_joined_frames_resample_to_the_samples_of_each_frame_alone(
    tmp_path: Path, name: str, codec: str, sample_format: str
) -> None:
    path = tmp_path / name
    stereo_recording(path, codec, sample_format)
    expected = frame_by_frame(path)

    whole = np.concatenate(list(pcm16_blocks(path, block_seconds=2.0)))
    assert whole.size == expected.size
    np.testing.assert_array_equal(whole, expected)
