"""Whether a transcript covers the speech it was decoded from.

Whisper base, given a short encoder window (:data:`~newspeech.voice.stt.MIN_CONTEXT_FRAMES`),
sometimes ends its decode after the first word or two of a short answer spoken at a microphone's
level: "The birch canoe slid on the smooth planks." comes back as "The bir", "Mend the coat
before you go out." as "men". The output is neither a loop nor a token flood, so
:func:`~newspeech.voice.stt.looks_degenerate` passes it; what gives it away is voiced audio that
no word accounts for. :func:`covers_too_little` measures that cheaply from the samples' energy
and the decode's own words, so the engine can decode such a window again with the full 30 s.

The rule and its thresholds were measured on 2 x 23 short sentences (Harvard sentences and exam
answers, 0.6-3.9 s) voiced by Piper (noise off) and espeak-ng, the two known real recordings
and 8 windows of 3-5 s of the real lecture, each at six levels and paddings (as they are;
padded with 0.3 s / 0.8 s of silence; that under white noise at 30 dB SNR; at -20 dB; at
-30 dB; at -20 dB padded): 336 decodes per model, each also decoded with the full 30 s window.

- whisper base cut short 26 of the 288 decodes with a known transcript (at least two words
  missing and fewer than three quarters left), 23 of them at -20 or -30 dB, where the short
  window comes back as "The bir", "men", "Ins". The rule decodes 24 again, every one of those
  cuts among them; 4 decodes stay short, none of them cut off: one garbled at -30 dB ("The
  Strat G A B", 12 letters in 1.4 s of voice) and three espeak ones whose words run together
  ("Lunasheet and anarch gloomak run"), which the 30 s window hears no better. Mean word error
  rate on the 288: 0.342 before, 0.304 after.
- whisper tiny.en cut none of them short; the rule decodes none of the 288 again.
- The rule also fires where nothing was cut: on real lecture windows that end mid-phrase or hold
  a second voice neither window transcribes ("... from here, sonny"), 9 of base's 307 and 5 of
  tiny.en's 329 decodes, and once (base, -20 dB) on "The right coronary" for "... artery", one
  word short. Each costs one more decode and changes nothing.
- Word alignment often stretches a truncated decode's last word to the end of the audio
  ("Give" aligned over 2.7 s), so voiced time after the last word alone misses a third of the
  cuts; too few letters for the voiced time catches them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from newspeech.voice.protocols import SAMPLE_RATE, Word

FRAME_SAMPLES = 320
"""20 ms frames: short enough to end where the voice ends, long enough to hold a pitch period."""
FRAME_SECONDS = FRAME_SAMPLES / SAMPLE_RATE
VOICED_RANGE_DB = 30.0
"""A frame is voiced within this many dB of the clip's loud frames (its 95th percentile): quiet
consonants are 20-25 dB below the vowels; the room is further down."""
ABOVE_FLOOR_DB = 10.0
"""... and at least this far above the clip's floor (its 10th percentile). Steady hiss or hum
that passes the silence gate is then not voice, nor is the crowd under JFK's speech (with the
30 dB rule alone it counted 0.6 s after his last word)."""
UNCOVERED_VOICE_SECONDS = 0.5
"""Voiced time after the decode's last word beyond which words are missing. Whole decodes leave
at most 0.4 s (the JFK clip 0.36 s: a trailing release or breath); cut ones 0.7-1.5 s, or 0.54
s when only the last word is missing ("The right coronary" for "... artery")."""
MIN_LETTERS_PER_VOICED_SECOND = 8.0
"""Fewer letters than this per voiced second (beyond the allowance) is too little text. Whole
decodes of the sentences have 12-25 letters per voiced second, the slow real "1, 2, 3." 7
(9 letters in 1.28 s); the cut decodes that alignment hides 0.4-3.2 ("V", "Give", "What")."""
LETTER_ALLOWANCE_SECONDS = 0.5
"""Voiced time that needs no letters: a one-word answer ("Yes.", 3 letters in 0.38 s of voice)
is short of letters for its time, and so is "1, 2, 3." (9 letters, where 8 x 1.28 s asks 10)."""
LETTERS_PER_DIGIT = 3
"""Whisper writes numbers in digits; "1" is said as "one"."""


_ONE_STEP_POWER = (1.0 / 32768.0) ** 2


def voiced_frames(audio: npt.NDArray[np.float32]) -> npt.NDArray[np.bool_]:
    """Which 20 ms frames of ``audio`` (samples in -1..1) hold voice, by energy alone."""
    count = audio.size // FRAME_SAMPLES
    if count == 0:
        return np.zeros(0, dtype=np.bool_)
    frames = audio[: count * FRAME_SAMPLES].astype(np.float64).reshape(count, FRAME_SAMPLES)
    # One int16 step of power keeps digital silence finite (at -90 dBFS).
    level = 10.0 * np.log10(np.mean(frames**2, axis=1) + _ONE_STEP_POWER)
    loud, floor = np.percentile(level, [95, 10])
    threshold = max(loud - VOICED_RANGE_DB, floor + ABOVE_FLOOR_DB)
    voiced: npt.NDArray[np.bool_] = level >= threshold
    return voiced


def spoken_letters(text: str) -> int:
    """Letters in ``text``, digits counted as the letters of the word said for them."""
    return sum(LETTERS_PER_DIGIT if c.isdigit() else 1 for c in text if c.isalnum())


def covers_too_little(audio: npt.NDArray[np.float32], text: str, words: Sequence[Word]) -> bool:
    """True when a decode of ``audio`` leaves voice unaccounted for: voiced time after its last
    word (all of it, without words), or too few letters for the voiced time."""
    voiced = voiced_frames(audio)
    voiced_seconds = float(np.count_nonzero(voiced)) * FRAME_SECONDS
    last_end = words[-1].end if words else 0.0
    first_after = min(voiced.size, int(np.ceil(last_end / FRAME_SECONDS)))
    uncovered = float(np.count_nonzero(voiced[first_after:])) * FRAME_SECONDS
    if uncovered > UNCOVERED_VOICE_SECONDS:
        return True
    expected = MIN_LETTERS_PER_VOICED_SECOND * (voiced_seconds - LETTER_ALLOWANCE_SECONDS)
    return spoken_letters(text) < expected


PHANTOM_WORD_SECONDS = 0.02
"""A word aligned to less than this is not in the audio."""


def ends_in_phantom_word(audio: npt.NDArray[np.float32], words: Sequence[Word]) -> bool:
    """True when the decode's last word has no duration and lies after the last voiced frame:
    a word the short encoder window made up, not one that was said. tiny.en heard a clear
    "Yes." with 0.2 s of silence before and 0.3 s after as "Yes. Yes.", the second aligned to
    the clip's very end for 0 s (the 30 s window hears "Yes.")."""
    if not words or words[-1].end - words[-1].start >= PHANTOM_WORD_SECONDS:
        return False
    voiced = np.flatnonzero(voiced_frames(audio))
    if voiced.size == 0:
        return False
    return words[-1].start >= float(voiced[-1] + 1) * FRAME_SECONDS


def uncovered_tail(audio: npt.NDArray[np.float32], words: Sequence[Word]) -> float | None:
    """Where voice that no word accounts for begins after the decode's last word (seconds from
    the start of ``audio``), when there is more of it than a trailing breath; else ``None``.

    Whisper decoding without timestamps may close its text at a sentence end that a pause
    follows and never reach the rest of the window: "Give aspirin and ticagrelor and arrange
    urgent primary PCI," [1.5 s] "and be cautious with nitrates ..." came back as the first
    clause alone from tiny.en, with the short window and the full 30 s alike."""
    if not words:
        return None
    voiced = voiced_frames(audio)
    first_after = min(voiced.size, int(np.ceil(words[-1].end / FRAME_SECONDS)))
    rest = voiced[first_after:]
    if float(np.count_nonzero(rest)) * FRAME_SECONDS <= UNCOVERED_VOICE_SECONDS:
        return None
    return float(first_after + int(np.argmax(rest))) * FRAME_SECONDS
