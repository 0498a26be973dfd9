"""Silero VAD: the probability of speech in each 32 ms frame.

The model is the ONNX file shipped in the pipecat-ai wheel (Silero v5/v6 interface).

One ONNX Runtime session per process serves every open microphone; ``InferenceSession.run`` is
thread-safe, so streams may be scored concurrently from the inference pool. Each stream keeps
only its own recurrent state and the tail of its previous frame.

At 16 kHz the model scores 512 new samples per call, but its input is 576 samples wide: the
last 64 samples of the previous frame (zeros for the first) followed by the new frame, as
float32 in [-1, 1) (int16 / 32768). The recurrent state goes in as ``state`` [2, 1, 128] and
comes back as ``stateN``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort  # type: ignore[import-untyped]  # ships no stubs or py.typed marker

from newspeech.voice.protocols import PCM16, SAMPLE_RATE, VoiceActivityDetector

FRAME_SAMPLES = 512
"""New samples per call at 16 kHz: 32 ms."""
CONTEXT_SAMPLES = 64
"""Samples carried over from the previous frame and prepended to the next one."""
_STATE_SHAPE = (2, 1, 128)
_SAMPLE_RATE_INPUT = np.array(SAMPLE_RATE, dtype=np.int64)


class SileroVoiceActivityDetector:
    """The shared Silero model; one per process, handing out cheap per-microphone streams."""

    def __init__(self, model_path: Path) -> None:
        options = ort.SessionOptions()
        # Frames are tiny: one thread per call is fastest, and parallelism comes from scoring
        # many streams at once in the inference pool rather than from splitting one frame.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(
            str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self.sample_rate = SAMPLE_RATE
        self.frame_samples = FRAME_SAMPLES

    def new_stream(self) -> SileroVadStream:
        return SileroVadStream(self._session)


class SileroVadStream:
    """One microphone's view of the model: recurrent state and the previous frame's tail.

    Frames must arrive in order from one caller at a time; different streams are independent
    and may be scored concurrently.
    """

    def __init__(self, session: ort.InferenceSession) -> None:
        self._session = session
        self._state = np.zeros(_STATE_SHAPE, dtype=np.float32)
        self._input = np.zeros((1, CONTEXT_SAMPLES + FRAME_SAMPLES), dtype=np.float32)

    def probability(self, frame: PCM16) -> float:
        """Speech probability (0..1) of exactly 512 int16 samples following the last frame."""
        if frame.dtype != np.int16 or frame.shape != (FRAME_SAMPLES,):
            raise ValueError(
                f"a VAD frame is {FRAME_SAMPLES} int16 samples (32 ms at {SAMPLE_RATE} Hz); "
                f"got shape {frame.shape} of {frame.dtype}"
            )
        # The input buffer already holds the previous frame: move its tail to the front as the
        # context, then write the new frame behind it.
        self._input[0, :CONTEXT_SAMPLES] = self._input[0, -CONTEXT_SAMPLES:]
        self._input[0, CONTEXT_SAMPLES:] = frame
        self._input[0, CONTEXT_SAMPLES:] /= 32768.0
        output, state = self._session.run(
            ["output", "stateN"],
            {"input": self._input, "state": self._state, "sr": _SAMPLE_RATE_INPUT},
        )
        self._state = np.asarray(state, dtype=np.float32)
        return float(np.asarray(output).reshape(-1)[0])

    def reset(self) -> None:
        """Forget everything heard so far, as if the stream were new."""
        self._state = np.zeros(_STATE_SHAPE, dtype=np.float32)
        self._input.fill(0.0)


def speech_probabilities(pcm: PCM16, detector: VoiceActivityDetector) -> npt.NDArray[np.float32]:
    """The probability of every frame of ``pcm`` from a fresh stream; the tail is zero-padded."""
    frame = detector.frame_samples
    padded = np.zeros(-(-pcm.size // frame) * frame, dtype=np.int16)
    padded[: pcm.size] = pcm
    stream = detector.new_stream()
    return np.array(
        [stream.probability(padded[i : i + frame]) for i in range(0, padded.size, frame)],
        dtype=np.float32,
    )


def speech_segments(
    pcm: PCM16,
    detector: VoiceActivityDetector,
    *,
    threshold: float = 0.5,
    min_silence_ms: int = 100,
    min_speech_ms: int = 250,
) -> list[tuple[float, float]]:
    """Stretches of speech in a whole recording, as (start, end) seconds; for offline analysis.

    Speech starts at a frame scoring ``threshold`` or more and ends once frames have stayed
    below ``threshold - 0.15`` for ``min_silence_ms``; the band between the two keeps a wavering
    syllable from splitting a word. Segments shorter than ``min_speech_ms`` (clicks, breaths)
    are dropped. The defaults are those of Silero's own ``get_speech_timestamps``; unlike it,
    no padding is added around segments.
    """
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be between 0 and 1, got {threshold}")
    rate, frame = detector.sample_rate, detector.frame_samples
    probabilities = speech_probabilities(pcm, detector)
    release = max(threshold - 0.15, 0.01)
    min_silence = min_silence_ms * rate // 1000
    min_speech = min_speech_ms * rate // 1000
    segments: list[tuple[int, int]] = []
    start: int | None = None
    silence_from: int | None = None
    for index, probability in enumerate(probabilities):
        at = index * frame
        if probability >= threshold:
            silence_from = None
            if start is None:
                start = at
        elif probability < release and start is not None:
            if silence_from is None:
                silence_from = at
            if at + frame - silence_from >= min_silence:
                segments.append((start, silence_from))
                start = silence_from = None
    if start is not None:
        segments.append((start, pcm.size if silence_from is None else silence_from))
    return [
        (begin / rate, min(end, pcm.size) / rate)
        for begin, end in segments
        if end - begin >= min_speech
    ]
