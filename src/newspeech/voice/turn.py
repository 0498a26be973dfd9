"""End of turn: has the student finished answering, or only paused to think?

Silence alone cannot tell: students stop mid-sentence to think ("the first thing I would do is …
[two seconds] … check the airway"). Smart Turn v3.2 (the ONNX file shipped in the pinned
``pipecat-ai`` wheel) listens to the last 8 s of the answer and says how likely it is that the
speaker has finished, from intonation and the words' rhythm.

The model runs here through onnxruntime, as Pipecat's ``LocalSmartTurnAnalyzerV3`` runs it, but
without Pipecat's frame machinery: input is Whisper's 80-bin log-mel spectrogram of exactly 8 s
of 16 kHz audio (the answer's end, zero-padded at the front when shorter), computed from the
waveform normalised to zero mean and unit variance; output is one sigmoid probability.
Features come from faster-whisper's numpy ``FeatureExtractor`` (no torch, no transformers).

One ONNX session per process serves every exam; ``InferenceSession.run`` is thread-safe, so
calls run in the shared inference pool.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt
import onnxruntime as ort  # type: ignore[import-untyped]  # ships no stubs or py.typed marker
from faster_whisper.feature_extractor import FeatureExtractor  # type: ignore[import-untyped]

from newspeech.voice.pool import InferencePool, component
from newspeech.voice.protocols import PCM16, SAMPLE_RATE

WINDOW_SECONDS = 8
"""The model hears the last 8 s of the answer."""
WINDOW_SAMPLES = WINDOW_SECONDS * SAMPLE_RATE
MEL_BINS = 80
MEL_FRAMES = 800
"""One log-mel frame per 10 ms of the window."""
_NORMALISE_EPS = 1e-7


class TurnDetector(Protocol):
    """Scores whether an utterance is a finished turn."""

    async def completion_probability(self, pcm: PCM16) -> float:
        """Probability (0..1) that the speaker of ``pcm`` (16 kHz mono, ending in the current
        pause) has finished their turn."""
        ...


def window(pcm: PCM16) -> npt.NDArray[np.float32]:
    """The model's 8 s input: the last 8 s of ``pcm`` as float32, zero-padded in front."""
    audio = pcm[-WINDOW_SAMPLES:].astype(np.float32) / 32768.0
    if audio.size < WINDOW_SAMPLES:
        audio = np.pad(audio, (WINDOW_SAMPLES - audio.size, 0))
    return audio


class SmartTurnFeatures:
    """Whisper log-mel features as Smart Turn v3 was trained on them, shape (80, 800)."""

    def __init__(self) -> None:
        self._extractor = FeatureExtractor(feature_size=MEL_BINS, chunk_length=WINDOW_SECONDS)

    def __call__(self, audio: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        if audio.shape != (WINDOW_SAMPLES,):
            raise ValueError(f"expected {WINDOW_SAMPLES} samples, got shape {audio.shape}")
        normalised = (audio - audio.mean()) / np.sqrt(audio.var() + _NORMALISE_EPS)
        features = self._extractor(normalised, padding=0)
        return np.asarray(features[:, :MEL_FRAMES], dtype=np.float32)


class SmartTurnDetector:
    """Smart Turn v3.2 on the CPU; one per process, shared by every exam."""

    def __init__(self, model_path: Path, pool: InferencePool) -> None:
        options = ort.SessionOptions()
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        # One thread per call: concurrency comes from many exams sharing the pool.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(
            str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._features = SmartTurnFeatures()
        self._pool = pool

    def probability(self, pcm: PCM16) -> float:
        """Blocking: the completion probability of ``pcm``'s last 8 s."""
        features = self._features(window(pcm))[np.newaxis]
        (output,) = self._session.run(None, {"input_features": features})
        return float(np.asarray(output).reshape(-1)[0])

    async def completion_probability(self, pcm: PCM16) -> float:
        with component("turn"):
            return await self._pool.run(self.probability, pcm)

    async def warm_up(self) -> None:
        """Run once so the first exam does not pay ONNX's first-call cost."""
        await self.completion_probability(np.zeros(SAMPLE_RATE, dtype=np.int16))
