"""Cutting a long recording into pieces at pauses (the analysis job's ``cut`` stage): only the
search window before each cut is decoded and scored by Silero, and a recording that fits in one
piece is not decoded at all."""

from __future__ import annotations

from pathlib import Path

import pytest

from newspeech.voice.protocols import SAMPLE_RATE
from newspeech.voice.recording import cut_at_silences, pcm16_blocks, recording_seconds
from newspeech.voice.vad import SileroVoiceActivityDetector
from newspeech.weights import SILERO_VAD, locate
from tests.fixtures.recordings import encode, shared_pcm, with_pauses

PAUSE_SECONDS = 2.0


@pytest.fixture(scope="module")
def detector() -> SileroVoiceActivityDetector:
    return SileroVoiceActivityDetector(locate(SILERO_VAD))


@pytest.fixture(scope="module")
def sayings(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    """JFK's sentence (11 s) said four times with 2 s pauses, as Ogg/Opus; and the sentence's
    length."""
    jfk = shared_pcm(shared_dir)
    path = tmp_path_factory.mktemp("cut") / "sayings.ogg"
    path.write_bytes(encode(with_pauses(jfk, 4, PAUSE_SECONDS), "ogg"))
    return path, jfk.size / SAMPLE_RATE


def test_a_recording_that_fits_in_one_piece_is_one_piece_and_none_of_it_is_scored(
    detector: SileroVoiceActivityDetector, sayings: tuple[Path, float]
) -> None:
    path, _ = sayings
    decoded = sum(block.size for block in pcm16_blocks(path)) / SAMPLE_RATE

    cut = cut_at_silences(path, detector, max_chunk_seconds=60.0)

    assert cut.chunks == [(0.0, round(cut.duration_seconds, 3))]
    assert cut.searched_seconds == 0.0
    assert cut.duration_seconds == pytest.approx(decoded, abs=0.05)
    assert recording_seconds(path) == cut.duration_seconds


def test_each_cut_falls_in_a_pause_and_only_the_seconds_before_it_are_scored(
    detector: SileroVoiceActivityDetector, sayings: tuple[Path, float]
) -> None:
    path, saying = sayings
    pauses = [
        (k * (saying + PAUSE_SECONDS) - PAUSE_SECONDS, k * (saying + PAUSE_SECONDS))
        for k in (1, 2, 3)
    ]

    cut = cut_at_silences(path, detector, max_chunk_seconds=15.0)

    starts = [start for start, _ in cut.chunks]
    ends = [end for _, end in cut.chunks]
    assert starts[0] == 0.0
    assert ends[-1] == round(cut.duration_seconds, 3)
    assert starts[1:] == ends[:-1]  # end to end, nothing left out or heard twice
    assert all(0 < end - start <= 15.0 for start, end in cut.chunks)
    assert len(ends) - 1 == len(pauses)
    for at, (pause_from, pause_to) in zip(ends[:-1], pauses, strict=True):
        assert pause_from <= at <= pause_to, (at, pauses)
    # Three windows of 7.5 s (half a piece) and the lead-in before each, not the 50 s.
    assert 3 * 7.5 <= cut.searched_seconds <= 3 * 10.0
