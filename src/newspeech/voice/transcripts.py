"""What every speech-to-text engine does alike, local or remote: check the samples, skip
silence, report an empty transcript, and turn per-segment log-probabilities into a confidence.

Kept apart from :mod:`.stt` so that the remote engine does not load faster-whisper.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from newspeech.errors import ValidationFailed
from newspeech.voice.protocols import PCM16, Transcript, Word

SILENCE_PEAK = 32
"""Peak sample magnitude (int16) at or below which audio counts as silent: about -60 dBFS,
below any microphone's speech level. Such audio is not decoded at all: Whisper tends to
hallucinate a "Thank you." into silence, and the decode would cost the pool for nothing."""


def is_near_silent(pcm: PCM16) -> bool:
    """True for audio with no samples or nothing louder than :data:`SILENCE_PEAK`."""
    return pcm.size == 0 or int(np.max(np.abs(pcm.astype(np.int32)))) <= SILENCE_PEAK


def empty_transcript(audio_seconds: float) -> Transcript:
    """The transcript of audio in which nobody spoke: no text, no confidence."""
    return Transcript(text="", confidence=0.0, audio_seconds=audio_seconds, decode_seconds=0.0)


def check_pcm16(pcm: PCM16) -> None:
    """Refuse anything but 1-D int16 samples, naming what was given instead."""
    if not isinstance(pcm, np.ndarray) or pcm.dtype != np.int16 or pcm.ndim != 1:
        shape = getattr(pcm, "shape", None)
        dtype = getattr(pcm, "dtype", type(pcm).__name__)
        raise ValidationFailed(
            f"speech-to-text expects 16 kHz mono PCM16 (1-D int16 samples), got {dtype} {shape}"
        )


def confidence_from_segments(segments: Iterable[tuple[float, int]]) -> float:
    """exp of the token-weighted mean of per-segment average log-probabilities, in 0..1.

    ``segments`` are ``(avg_logprob, token_count)`` pairs. Whisper reports one average per
    decoded window, so long segments must weigh more than a trailing one-word segment.
    """
    total_tokens = 0
    weighted = 0.0
    for avg_logprob, tokens in segments:
        if tokens <= 0 or math.isnan(avg_logprob):
            continue
        total_tokens += tokens
        weighted += avg_logprob * tokens
    if total_tokens == 0:
        return 0.0
    return min(1.0, max(0.0, math.exp(weighted / total_tokens)))


def joined(parts: Iterable[tuple[float, Transcript]], audio_seconds: float) -> Transcript:
    """One transcript of consecutive pieces of the same audio, each given with the second it
    starts at: texts joined, word times shifted onto the whole, confidence the word-weighted
    geometric mean of the pieces that heard words, decode time summed (the CPU it took)."""
    texts: list[str] = []
    words: list[Word] = []
    weighted = 0.0
    counted = 0
    decode_seconds = 0.0
    language = "en"
    for start, piece in parts:
        decode_seconds += piece.decode_seconds
        language = piece.language
        if not piece.text.strip():
            continue
        texts.append(piece.text.strip())
        words += [
            Word(word.text, word.start + start, word.end + start, word.probability)
            for word in piece.words
        ]
        weight = max(1, len(piece.words) or len(piece.text.split()))
        if piece.confidence > 0.0:
            weighted += math.log(piece.confidence) * weight
            counted += weight
    text = " ".join(texts)
    return Transcript(
        text=text,
        confidence=math.exp(weighted / counted) if text and counted else 0.0,
        audio_seconds=audio_seconds,
        decode_seconds=decode_seconds,
        words=tuple(words),
        language=language,
    )
