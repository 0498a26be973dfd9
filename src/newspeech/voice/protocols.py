"""Ports of the speech engine. Offline implementations by default, remote ones by setting."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

SAMPLE_RATE = 16_000
"""Everything the engine hears is 16 kHz mono PCM16."""

PCM16 = npt.NDArray[np.int16]


class VadStream(Protocol):
    """Per-stream VAD state (RNN state, a little context); small, one per open microphone."""

    def probability(self, frame: PCM16) -> float:
        """Speech probability of one frame of exactly ``frame_samples`` samples."""
        ...

    def reset(self) -> None: ...


class VoiceActivityDetector(Protocol):
    sample_rate: int
    frame_samples: int

    def new_stream(self) -> VadStream: ...


@dataclass(frozen=True)
class Word:
    text: str
    start: float
    end: float
    probability: float


@dataclass(frozen=True)
class Transcript:
    text: str
    confidence: float
    """0..1, from the decoder's token log-probabilities (exp of their mean)."""
    audio_seconds: float
    decode_seconds: float
    words: Sequence[Word] = field(default_factory=tuple)
    language: str = "en"


class SpeechToText(Protocol):
    async def transcribe(
        self,
        pcm: PCM16,
        *,
        prompt: str | None = None,
        hotwords: Sequence[str] = (),
        language: str | None = None,
    ) -> Transcript:
        """Transcribe 16 kHz mono PCM16. ``prompt`` is the examiner's question (biases the
        decoder towards its vocabulary); ``hotwords`` are the question's keywords;
        ``language`` (ISO 639-1, such as ``en``) is the sitting's, ``None`` the engine's own."""
        ...


@dataclass(frozen=True)
class AudioChunk:
    pcm: bytes
    """Mono PCM16 little-endian at ``sample_rate``."""
    sample_rate: int

    @property
    def seconds(self) -> float:
        return len(self.pcm) / 2 / self.sample_rate


class TextToSpeech(Protocol):
    sample_rate: int

    def stream(self, text: str) -> AsyncGenerator[AudioChunk, None]:
        """Speak ``text`` as small chunks, first clause first. Cancelling the consumer (or
        closing the iterator) stops synthesis: no further chunk is produced."""
        ...
