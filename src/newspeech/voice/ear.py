"""The listening half of the session loop: voiced frames → speech started, paused, resumed.

A pure state machine over the VAD's per-frame speech probabilities. Durations are counted in
audio (frames), not wall time, so bursts of network jitter do not stretch a pause. Whether a
pause ends the turn is the turn model's call (:mod:`newspeech.voice.turn`), made by the loop.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass

import numpy as np

from newspeech.voice.protocols import PCM16, SAMPLE_RATE

HYSTERESIS = 0.15
"""A voiced stretch ends only below ``threshold - HYSTERESIS`` (as in Silero's own iterator),
so one wavering syllable does not split a word."""
PRE_ROLL_SECONDS = 0.3
"""Audio kept from before speech was detected: the start of the first word."""


@dataclass(frozen=True)
class EarSettings:
    frame_samples: int = 512
    threshold: float = 0.5
    start_seconds: float = 0.1
    stop_seconds: float = 0.2

    @property
    def frame_seconds(self) -> float:
        return self.frame_samples / SAMPLE_RATE


class Heard(enum.Enum):
    NOTHING = "nothing"
    SPEECH_STARTED = "speech_started"
    PAUSED = "paused"
    """Silence for ``stop_seconds`` after speech: ask the turn model, start decoding."""
    RESUMED = "resumed"
    """Speech again after a pause: the turn goes on."""


class EarState(enum.Enum):
    QUIET = "quiet"
    SPEAKING = "speaking"
    PAUSED = "paused"


class Ear:
    """One microphone's speech segmentation; the buffered audio is the answer so far."""

    def __init__(self, settings: EarSettings) -> None:
        self.settings = settings
        frame = settings.frame_seconds
        self._start_frames = max(1, round(settings.start_seconds / frame))
        self._stop_frames = max(1, round(settings.stop_seconds / frame))
        self._pre_roll: deque[PCM16] = deque(maxlen=max(1, round(PRE_ROLL_SECONDS / frame)))
        self._frames: list[PCM16] = []
        self._samples = 0
        self.state = EarState.QUIET
        self._voiced_run = 0
        self._silent_run = 0
        self._speech_frames = 0
        self._segment_frames = 0
        self._segment_start = 0
        """Index in the buffer of the frame where the current stretch of speech began."""

    @property
    def pause_seconds(self) -> float:
        """Silence since the last voiced frame (0 unless paused or about to be)."""
        return self._silent_run * self.settings.frame_seconds

    @property
    def speech_seconds(self) -> float:
        """Voiced time in the current answer (pauses excluded)."""
        return self._speech_frames * self.settings.frame_seconds

    @property
    def segment_seconds(self) -> float:
        """Voiced time of the current stretch of speech since it started or resumed."""
        return self._segment_frames * self.settings.frame_seconds

    @property
    def answer_seconds(self) -> float:
        """Everything buffered for this answer, pauses included."""
        return self._samples / SAMPLE_RATE

    def audio(self) -> PCM16:
        """The answer so far: pre-roll, speech and pauses, up to the last frame heard."""
        if not self._frames:
            return np.zeros(0, dtype=np.int16)
        return np.concatenate(self._frames)

    def reset(self) -> None:
        """Forget the current answer (after a backchannel, or once a turn is taken)."""
        self.state = EarState.QUIET
        self._frames = []
        self._samples = 0
        self._pre_roll.clear()
        self._voiced_run = self._silent_run = self._speech_frames = self._segment_frames = 0
        self._segment_start = 0

    def keep_current_segment(self) -> None:
        """Forget what came before the stretch of speech now under way, keep that stretch
        (speech already going on when the examiner finished: it starts the next answer and
        must not lose its first words). Quiet or paused, this is :meth:`reset`."""
        if self.state is not EarState.SPEAKING:
            self.reset()
            return
        self._frames = self._frames[self._segment_start :]
        self._samples = sum(f.size for f in self._frames)
        self._speech_frames = len(self._frames)
        self._silent_run = 0

    def hear(self, frame: PCM16, probability: float) -> Heard:
        threshold = self.settings.threshold
        voiced = probability >= threshold
        silent = probability < max(threshold - HYSTERESIS, 0.01)
        if voiced:
            self._voiced_run += 1
            self._silent_run = 0
        elif silent:
            self._voiced_run = 0
            self._silent_run += 1
        if self.state is EarState.QUIET:
            return self._while_quiet(frame)
        self._frames.append(frame)
        self._samples += frame.size
        if not silent:
            self._speech_frames += 1
        if self.state is EarState.SPEAKING:
            if not silent:
                self._segment_frames += 1
            if self._silent_run >= self._stop_frames:
                self.state = EarState.PAUSED
                self._segment_frames = 0
                return Heard.PAUSED
            return Heard.NOTHING
        if voiced:
            self.state = EarState.SPEAKING
            self._segment_frames = 1
            # From a pre-roll's length before the first voiced frame, like a first start.
            self._segment_start = max(0, len(self._frames) - (self._pre_roll.maxlen or 1))
            return Heard.RESUMED
        return Heard.NOTHING

    def _while_quiet(self, frame: PCM16) -> Heard:
        self._pre_roll.append(frame)
        if self._voiced_run < self._start_frames:
            return Heard.NOTHING
        self.state = EarState.SPEAKING
        self._frames = list(self._pre_roll)
        self._samples = sum(f.size for f in self._frames)
        self._pre_roll.clear()
        self._speech_frames = self._segment_frames = self._voiced_run
        self._segment_start = 0
        return Heard.SPEECH_STARTED
