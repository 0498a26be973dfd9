"""The work of each stage, without the database: cut a recording at silences, transcribe one
piece, assemble the pieces' words into a timed transcript. Outputs are plain JSON."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec, Protocol, TypeVar

import numpy as np

from newspeech.voice.pool import Urgency, urgency
from newspeech.voice.protocols import PCM16, SpeechToText, VoiceActivityDetector
from newspeech.voice.recording import cut_at_silences, pcm16_blocks

P = ParamSpec("P")
T = TypeVar("T")

SEGMENT_GAP_SECONDS = 0.8
"""A pause this long between words starts a new segment of the transcript."""
SEGMENT_MAX_SECONDS = 30.0


class Offload(Protocol):
    def __call__(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Awaitable[T]:
        """Run ``fn`` off the event loop (the inference pool)."""
        ...


@dataclass
class StageWork:
    """What the stages run on: the product's Silero VAD and speech-to-text engine (faster-whisper
    tiny.en by default), and the pool that runs them. Everything runs as background work, so a
    live exam on the same node is never kept waiting behind a recording."""

    vad: VoiceActivityDetector
    stt: SpeechToText
    offload: Offload
    chunk_seconds: float

    async def cut(self, path: Path) -> dict[str, Any]:
        with urgency(Urgency.BACKGROUND):
            cut = await self.offload(
                cut_at_silences, path, self.vad, max_chunk_seconds=self.chunk_seconds
            )
        return {
            "duration_seconds": round(cut.duration_seconds, 3),
            "searched_seconds": round(cut.searched_seconds, 3),
            "chunks": [[start, end] for start, end in cut.chunks],
        }

    async def transcribe(self, path: Path, start: float, end: float) -> dict[str, Any]:
        with urgency(Urgency.BACKGROUND):
            pcm = await self.offload(read_stretch, path, start, end)
            transcript = await self.stt.transcribe(pcm)
        return {
            "text": transcript.text,
            "language": transcript.language,
            "confidence": round(transcript.confidence, 4),
            "words": [
                [
                    round(start + w.start, 3),
                    round(start + w.end, 3),
                    w.text,
                    round(w.probability, 3),
                ]
                for w in transcript.words
            ],
        }


def read_stretch(path: Path, start: float, end: float) -> PCM16:
    blocks = list(pcm16_blocks(path, start=start, end=end))
    return np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.int16)


@dataclass(frozen=True)
class Assembled:
    text: str
    segments: list[dict[str, Any]]
    language: str | None


def assemble(pieces: list[dict[str, Any]]) -> Assembled:
    """The pieces' transcripts (in order) as one timed transcript: segments split at pauses,
    each with its words and their times. Speakers are not labelled yet (``speaker`` None)."""
    segments: list[dict[str, Any]] = []
    current: list[list[Any]] = []
    for word in (w for piece in pieces for w in piece["words"]):
        if current and (
            word[0] - current[-1][1] >= SEGMENT_GAP_SECONDS
            or word[1] - current[0][0] > SEGMENT_MAX_SECONDS
        ):
            segments.append(_segment(current))
            current = []
        current.append(word)
    if current:
        segments.append(_segment(current))
    text = " ".join(piece["text"].strip() for piece in pieces if piece["text"].strip())
    language = next((piece["language"] for piece in pieces if piece.get("language")), None)
    return Assembled(text, segments, language)


def _segment(words: list[list[Any]]) -> dict[str, Any]:
    return {
        "start": words[0][0],
        "end": words[-1][1],
        "speaker": None,
        "text": " ".join(w[2].strip() for w in words if w[2].strip()),
        "words": [{"start": s, "end": e, "word": text.strip()} for s, e, text, _ in words],
    }
