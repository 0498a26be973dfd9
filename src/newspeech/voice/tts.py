"""Offline text-to-speech: Piper (the examiner's voice) and espeak-ng (the fast fallback).

Both speak clause by clause (:func:`newspeech.voice.spoken.spoken_clauses`): the first clause is
synthesized alone so playback can start early, and the next clause is synthesized while the
current one is being played out. Audio leaves as chunks of at most :data:`CHUNK_SECONDS`;
pacing them in real time is the caller's job.
"""

from __future__ import annotations

import asyncio
import io
import json
import shutil
import wave
from collections.abc import AsyncGenerator, Callable, Coroutine, Iterator, Sequence
from pathlib import Path
from typing import Any

import onnxruntime as ort  # type: ignore[import-untyped]  # ships no stubs or py.typed marker
from piper import PiperConfig, PiperVoice

from newspeech.errors import ConfigurationError, NewSpeechError
from newspeech.voice.phrase_cache import PhraseCache
from newspeech.voice.pool import InferencePool, Urgency, component, current_urgency, urgency
from newspeech.voice.protocols import AudioChunk
from newspeech.voice.spoken import spoken_clauses

CHUNK_SECONDS = 0.04
"""Longest chunk handed out: small enough that stopping after a chunk is immediate."""

ESPEAK_PACKAGE = "espeak-ng"
"""The Debian package that provides the ``espeak-ng`` command."""

ESPEAK_SAMPLE_RATE = 22_050
"""What ``espeak-ng --stdout`` writes for its own (non-MBROLA) voices."""

_WARM_UP_TEXT = "Good morning."

Render = Callable[[str], Coroutine[Any, Any, bytes]]
"""Synthesize one clause to mono PCM16."""


def slice_pcm(pcm: bytes, sample_rate: int) -> Iterator[AudioChunk]:
    """Cut mono PCM16 into chunks of at most CHUNK_SECONDS, in order; a trailing odd byte
    (half a sample) is dropped."""
    step = max(1, int(sample_rate * CHUNK_SECONDS)) * 2
    usable = len(pcm) - len(pcm) % 2
    for start in range(0, usable, step):
        yield AudioChunk(pcm[start : min(start + step, usable)], sample_rate)


async def stream_clauses(
    clauses: Sequence[str], render: Render, sample_rate: int
) -> AsyncGenerator[AudioChunk, None]:
    """Render ``clauses`` in order and yield their audio as small chunks.

    While one clause's chunks are being consumed, only the next clause is rendered: nothing
    runs further ahead of the consumer. When the consumer closes the generator, or is
    cancelled while waiting for a chunk, no further chunk is produced, the clause being
    rendered is cancelled (a thread already running finishes; its audio is dropped) and no
    later clause is started.
    """
    upcoming = iter(clauses)
    # The first clause is what the student waits for in silence; each next one is needed only
    # once the one before it has been said (the inference pool runs it after turn work).
    pending = _start(render, next(upcoming, None))
    try:
        while pending is not None:
            pcm = await pending
            with urgency(max(current_urgency(), Urgency.REPLY)):
                pending = _start(render, next(upcoming, None))
            for chunk in slice_pcm(pcm, sample_rate):
                yield chunk
    finally:
        if pending is not None:
            await _discard(pending)


def _start(render: Render, clause: str | None) -> asyncio.Task[bytes] | None:
    return None if clause is None else asyncio.create_task(render(clause))


async def _discard(task: asyncio.Task[bytes]) -> None:
    """Cancel ``task`` and wait until it has stopped (a killed subprocess is reaped), without
    raising what it raised: its audio, or its failure, no longer matters."""
    task.cancel()
    await asyncio.wait([task])
    if not task.cancelled():
        task.exception()


class PiperTextToSpeech:
    """Piper's neural voice; synthesis runs in the shared inference pool.

    One instance (one ONNX session, about 60 MB) serves every exam in the process. With a
    ``clauses`` cache, a clause synthesised once is not synthesised again: the feedback's
    model-answer sentence of a question is the same for every student who hears it.

    The session runs without ONNX Runtime's CPU memory arena: the vocoder's tensors grow with
    the clause (tens of MB for a 10 s one), and the arena keeps its largest ever, rounded up to
    a power of two, for the life of the process. Measured on the 2-core box (load 15): 369 MB
    RSS after two long feedback clauses with the arena, 191 MB without; the price is CPU spent
    faulting fresh pages in, 145 instead of 136 ms for "Partly right." and 878 instead of
    672 ms for a 75-character sentence (TTS is about 7 % of the CPU a 20-exam class uses).
    """

    def __init__(
        self, voice: PiperVoice, pool: InferencePool, clauses: PhraseCache | None = None
    ) -> None:
        self._voice = voice
        self._pool = pool
        self.clauses = clauses
        self.sample_rate: int = voice.config.sample_rate

    @classmethod
    def load(
        cls,
        model_path: Path,
        config_path: Path,
        pool: InferencePool,
        clauses: PhraseCache | None = None,
    ) -> PiperTextToSpeech:
        """Load a voice (``.onnx`` and its ``.onnx.json``), e.g. ``models.locate(PIPER_JOE)``."""
        try:
            config = PiperConfig.from_dict(json.loads(config_path.read_text(encoding="utf-8")))
            options = ort.SessionOptions()
            options.enable_cpu_mem_arena = False
            session = ort.InferenceSession(
                str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
            )
            voice = PiperVoice(session=session, config=config)
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise ConfigurationError(
                f"cannot load the Piper voice {model_path} (config {config_path}): {exc}"
            ) from exc
        return cls(voice, pool, clauses)

    def stream(self, text: str) -> AsyncGenerator[AudioChunk, None]:
        """Speak ``text`` as chunks of at most CHUNK_SECONDS, first clause first."""
        return stream_clauses(spoken_clauses(text), self._render, self.sample_rate)

    async def warm_up(self) -> None:
        """Synthesize a short phrase once, so the first exam does not pay ONNX's first run."""
        await self._render(_WARM_UP_TEXT)

    async def _render(self, clause: str) -> bytes:
        if self.clauses is not None and (cached := self.clauses.get(clause)) is not None:
            return cached
        with component("tts"):
            pcm = await self._pool.run(self._synthesize, clause)
        if self.clauses is not None:
            self.clauses.put(clause, pcm)
        return pcm

    def _synthesize(self, clause: str) -> bytes:
        return b"".join(
            chunk.audio_int16_array.astype("<i2", copy=False).tobytes()
            for chunk in self._voice.synthesize(clause)
        )


class EspeakTextToSpeech:
    """espeak-ng's formant voice: robotic, but starts in milliseconds and needs no model.

    Each clause is one ``espeak-ng --stdout`` process (text on stdin, so no text can be taken
    for an option); a cancelled clause's process is killed.
    """

    def __init__(self, voice: str = "en-us", *, executable: str = "espeak-ng") -> None:
        path = shutil.which(executable)
        if path is None:
            raise _missing_command(executable)
        self.voice = voice
        self._executable = path
        self.sample_rate: int = ESPEAK_SAMPLE_RATE

    def stream(self, text: str) -> AsyncGenerator[AudioChunk, None]:
        """Speak ``text`` as chunks of at most CHUNK_SECONDS, first clause first."""
        return stream_clauses(spoken_clauses(text), self._render, self.sample_rate)

    async def warm_up(self) -> None:
        """Speak a short phrase once: checks the command and the voice at start-up."""
        await self._render(_WARM_UP_TEXT)

    async def _render(self, clause: str) -> bytes:
        try:
            process = await asyncio.create_subprocess_exec(
                self._executable,
                "-v",
                self.voice,
                "--stdout",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except FileNotFoundError as exc:
            raise _missing_command(self._executable) from exc
        try:
            wav, errors = await process.communicate(clause.encode())
        except BaseException:
            # Cancelled (or failed) mid-clause: the process must not outlive its clause.
            if process.returncode is None:
                process.kill()
                await process.wait()
            raise
        if process.returncode != 0:
            message = errors.decode(errors="replace").strip() or "no message"
            raise ConfigurationError(
                f"espeak-ng -v {self.voice} failed (exit {process.returncode}): {message}"
            )
        return self._pcm(wav)

    def _pcm(self, wav: bytes) -> bytes:
        try:
            with wave.open(io.BytesIO(wav), "rb") as reader:
                shape = (reader.getframerate(), reader.getsampwidth(), reader.getnchannels())
                # The header's frame count is a placeholder (stdout cannot be rewound): read
                # up to the end instead.
                pcm = reader.readframes(reader.getnframes())
        except (wave.Error, EOFError) as exc:
            raise NewSpeechError(f"espeak-ng wrote no readable WAV: {exc}") from exc
        if shape != (self.sample_rate, 2, 1):
            raise ConfigurationError(
                f"espeak-ng voice {self.voice!r} produces {shape[0]} Hz, {8 * shape[1]}-bit, "
                f"{shape[2]}-channel audio; NewSpeech needs {self.sample_rate} Hz 16-bit mono "
                "(MBROLA voices are not supported)"
            )
        return pcm


def _missing_command(executable: str) -> ConfigurationError:
    return ConfigurationError(
        f"the espeak-ng command ({executable!r}) was not found; install the Debian package "
        f"{ESPEAK_PACKAGE} (apt-get install {ESPEAK_PACKAGE}) or choose another "
        "NEWSPEECH_TTS_ENGINE"
    )
