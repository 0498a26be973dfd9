"""Offline speech-to-text: faster-whisper (CTranslate2) on the CPU.

One :class:`WhisperSpeechToText` (one model in memory) serves every exam in the process. Each call
decodes in the shared :class:`~newspeech.voice.pool.InferencePool`; CTranslate2 keeps
``num_workers`` decoders over the same weights so that concurrent calls really run in parallel.

An answer of up to 30 s is decoded in one window whose encoder input is the audio plus a margin
of padding instead of Whisper's full 30 s (whisper.cpp's ``audio_ctx``): the encoder's cost grows
with its input, and on two cores the full window alone took 0.33-0.42 s however short the answer.
With too little padding the decoder loops, so the margin was measured on real recordings (see
:data:`CONTEXT_MARGIN_FRAMES`), and an output that still looks degenerate
(:func:`looks_degenerate`), or that leaves voiced audio without words
(:func:`~newspeech.voice.coverage.covers_too_little`: whisper base ends some short answers after
a word or two), is decoded again with the full 30 s, which is the reference.

Longer answers are cut into chunks of at most 30 s at the quietest moment, and each chunk is
decoded as an answer of that length is, with the same checks and retries. faster-whisper's
sequential long-form loop re-decodes the fraction of a second after the last word when word
timestamps are on, and with hotwords that tail decode loops through every fallback temperature
(a 2.7 s answer took 12-16 s on two cores) and can come out as the hotwords themselves ("three
three four three ..."), i.e. keywords the student never said. Its batched pipeline checks no
chunk for loops: an espeak-voiced 36 s answer came back with "norepinephrine," (a hotword)
28 times in place of its last sentence. Every decode is greedy (or a beam search) without
sampling and no chunk is conditioned on another, so the same audio always gives the same
transcript. A full-window decode that still loops with hotwords is decoded once more without
them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import math
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from faster_whisper import BatchedInferencePipeline, WhisperModel  # type: ignore[import-untyped]
from faster_whisper.audio import pad_or_trim  # type: ignore[import-untyped]
from faster_whisper.tokenizer import Tokenizer  # type: ignore[import-untyped]
from faster_whisper.transcribe import get_suppressed_tokens  # type: ignore[import-untyped]

from newspeech.errors import ConfigurationError
from newspeech.voice.coverage import covers_too_little, ends_in_phantom_word, uncovered_tail
from newspeech.voice.pool import InferencePool, component
from newspeech.voice.protocols import PCM16, SAMPLE_RATE, Transcript, Word
from newspeech.voice.settings import WhisperSettings
from newspeech.voice.transcripts import (
    check_pcm16,
    confidence_from_segments,
    empty_transcript,
    is_near_silent,
)
from newspeech.weights import whisper_base_dir, whisper_tiny_en_dir

MAX_CHUNK_SECONDS = 30.0
"""Whisper's window; a longer chunk would be truncated."""
_CUT_SEARCH_SECONDS = 10.0
_CUT_WINDOW_SECONDS = 0.2
_MIN_LAST_CHUNK_SECONDS = 1.0

FRAMES_PER_SECOND = 100
"""Whisper's log-mel frames: one per 10 ms."""
FULL_CONTEXT_FRAMES = 3000
"""Whisper's 30 s window, the only input length it was trained on."""
CONTEXT_MARGIN_FRAMES = 1000
MIN_CONTEXT_FRAMES = 1000
"""A short window is the audio plus 10 s of padding, and at least 10 s: a 5 s answer is
encoded as 15 s. Measured with tiny.en on 126 windows of 3, 5 and 8 s of a lecture, clean and
under noise, against base (beam 5) on the clean window. With 1 s of padding 23 of 59 windows
loop, with 3 s 9; with these settings 2 of 126 (decoded again with 30 s). Transcripts differ
from the 30 s ones on half the windows, but no more often than the 30 s path differs from
itself when the audio starts 10 ms later, and in total they are no less accurate (253 word
errors against 264; on 16 noisy JFK clips 90 against 91)."""

MAX_TOKENS_PER_SECOND = 6.0
"""More than anyone says: fast speech is about 3 words (4 tokens) a second."""
TOKEN_ALLOWANCE = 8
"""Tokens any clip may have on top of :data:`MAX_TOKENS_PER_SECOND`: a one-second "Yes, 3.14."
is already 7 (punctuation and digits are tokens of their own)."""
LOOP_TOKENS = 12
"""A stretch this long made of one phrase said three or more times in a row is a decoder loop,
not a student repeating a word ("no, no, no")."""

NO_SPEECH_THRESHOLD = 0.6
LOG_PROB_THRESHOLD = -1.0
"""Whisper's rule: a chunk is silence when no-speech probability is above 0.6 and the average
token log-probability below -1."""

MAX_NEW_TOKENS = 216
"""Tokens one 30 s chunk may produce: ~160 words, more than anyone says in 30 s. Bounds the cost
of a decoder that falls into a repetition loop."""
PROMPT_TOKENS = 128
HOTWORD_TOKENS = 96
"""Budgets for the question (its end is kept: nearest the answer) and the keywords (the first
are kept). With :data:`MAX_NEW_TOKENS` and :data:`PROMPT_SPECIAL_TOKENS` they stay inside
Whisper's 448-token context (:data:`CONTEXT_TOKENS`).

The keywords' budget was 64, which cut the last synonyms of 25 of the banks' 72 questions (10
of the 12 medical ones: their terms and synonyms, with commas, run to 56-101 tokens; 96 cuts
one). ``scripts/bench terms --voices espeak --conditions biased`` (whole espeak set, 1592 key
terms said, tiny.en): greedy with 64 tokens 93.2 % heard after correction (91.3 % raw); beam 5
with 64 tokens 94.6 % (93.0 %); beam 5 with 96 tokens 95.3 % (94.2 %), the product's decoding
(see ``NEWSPEECH_WHISPER_BEAM_SIZE``)."""
CONTEXT_TOKENS = 448
"""Whisper's decoder context: prompt and transcript together."""
PROMPT_SPECIAL_TOKENS = 8
"""Room for the tokens around the question and keywords (start of previous text, start of
transcript, no timestamps) and for re-encoding them with a leading space."""

_PIPELINE_DEFAULTS = inspect.signature(BatchedInferencePipeline.transcribe).parameters
PREPEND_PUNCTUATIONS: str = _PIPELINE_DEFAULTS["prepend_punctuations"].default
APPEND_PUNCTUATIONS: str = _PIPELINE_DEFAULTS["append_punctuations"].default
"""The batched pipeline's rules for joining punctuation to the next or previous word, so that
both paths give words alike ("Americans," rather than "Americans" and ",")."""

_WARM_UP_SECONDS = 1.0

DecodePath = Literal[
    "short_context",
    "full_context",
    "full_context_retry",
    "coverage_retry",
    "phantom_retry",
    "unbiased_retry",
    "rest",
    "chunked",
]
MAX_REST_DECODES = 3
"""Voice left after the last word is decoded on its own at most this many times per window."""
REST_LEAD_SECONDS = 0.2
"""Audio kept before the voice that follows the last word: the onset of its first word."""


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity, not the machine's total)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def chunk_bounds(pcm: PCM16) -> list[tuple[float, float]]:
    """Cut audio into chunks of at most :data:`MAX_CHUNK_SECONDS`, in seconds.

    Each cut falls in the quietest 0.2 s of the last 10 s before the limit, which is a pause
    between words in anything but a breathless monologue; the last chunk keeps at least 1 s.
    """
    duration = pcm.size / SAMPLE_RATE
    bounds: list[tuple[float, float]] = []
    start = 0.0
    window = int(_CUT_WINDOW_SECONDS * SAMPLE_RATE)
    while duration - start > MAX_CHUNK_SECONDS:
        low = int((start + MAX_CHUNK_SECONDS - _CUT_SEARCH_SECONDS) * SAMPLE_RATE)
        high = int(min(start + MAX_CHUNK_SECONDS, duration - _MIN_LAST_CHUNK_SECONDS) * SAMPLE_RATE)
        running = np.cumsum(pcm[low:high].astype(np.float64) ** 2)
        energy = running[window:] - running[:-window]  # energy of each 0.2 s window
        cut = (low + int(np.argmin(energy)) + window // 2) / SAMPLE_RATE
        bounds.append((start, cut))
        start = cut
    bounds.append((start, duration))
    return bounds


def is_silence(no_speech_prob: float, avg_logprob: float) -> bool:
    """Whisper's no-speech rule for one decoded window (see :data:`LOG_PROB_THRESHOLD`)."""
    return no_speech_prob > NO_SPEECH_THRESHOLD and avg_logprob < LOG_PROB_THRESHOLD


def context_frames(audio_frames: int, *, margin: int, minimum: int) -> int:
    """Mel frames the encoder sees for ``audio_frames`` of audio: the audio plus ``margin``
    frames of padding, at least ``minimum``, rounded up to whole seconds, at most 30 s."""
    wanted = max(audio_frames + margin, minimum, 1)
    whole_seconds = -(-wanted // FRAMES_PER_SECOND) * FRAMES_PER_SECOND
    return min(FULL_CONTEXT_FRAMES, whole_seconds)


def has_repetition_loop(tokens: Sequence[int]) -> bool:
    """True when some n-gram repeats back to back at least three times over at least
    :data:`LOOP_TOKENS` tokens."""
    ids = np.asarray(tokens)
    for n in range(1, ids.size // 3 + 1):
        # A phrase of n tokens said r times in a row is a run of (r - 1) * n tokens that equal
        # the token n places later.
        same = np.concatenate(([False], ids[n:] == ids[:-n], [False]))
        edges = np.flatnonzero(np.diff(same.astype(np.int8)))
        runs = edges[1::2] - edges[::2]
        if np.any((runs >= 2 * n) & (runs + n >= LOOP_TOKENS)):
            return True
    return False


def looks_degenerate(tokens: Sequence[int], audio_seconds: float) -> bool:
    """True when a decode cannot be a transcript of ``audio_seconds`` of speech: more tokens
    than anyone could say in that time, or a phrase looping."""
    too_many = len(tokens) > TOKEN_ALLOWANCE + MAX_TOKENS_PER_SECOND * audio_seconds
    return too_many or has_repetition_loop(tokens)


@dataclass
class DecodeCounts:
    """How many decodes took each path since the engine was built."""

    short_context: int = 0
    """Answers up to 30 s decoded once with a short encoder context: the usual case."""
    full_context: int = 0
    """Answers up to 30 s whose window came out at the full 30 s anyway."""
    full_context_retry: int = 0
    """Short-context decodes that looked degenerate and were decoded again with 30 s."""
    rest: int = 0
    """Voice after a window's last word (Whisper ended its text at a pause), decoded on its own
    and appended."""
    coverage_retry: int = 0
    """Short-context decodes that left voiced audio without words (cut short) and were decoded
    again with 30 s."""
    phantom_retry: int = 0
    """Short-context decodes that ended in a made-up word (no duration, after the voice: "Yes.
    Yes." for "Yes.") and were decoded again with 30 s."""
    unbiased_retry: int = 0
    """Full-window decodes that still looped with hotwords and were decoded again without
    them (the question stays the prompt)."""
    chunked: int = 0
    """Answers over 30 s, cut into chunks of at most 30 s, each decoded as above."""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, path: DecodePath) -> None:
        # Pool threads count concurrently; += on an attribute is not atomic.
        with self._lock:
            setattr(self, path, getattr(self, path) + 1)


@dataclass(frozen=True)
class _Decoded:
    """One window's raw decode."""

    tokens: list[int]
    avg_logprob: float
    no_speech_prob: float


@dataclass(frozen=True)
class _Speech:
    """A stretch of audio that held speech: its text, words and the decoder's average
    log-probability over ``tokens`` tokens."""

    text: str
    words: tuple[Word, ...]
    avg_logprob: float
    tokens: int


def _shifted(piece: _Speech, seconds: float) -> _Speech:
    """``piece`` decoded from audio that began ``seconds`` into the answer, in the answer's time."""
    words = tuple(
        dataclasses.replace(word, start=word.start + seconds, end=word.end + seconds)
        for word in piece.words
    )
    return dataclasses.replace(piece, words=words)


def _word(text: str, start: float, end: float, probability: float, audio_seconds: float) -> Word:
    # Alignment can overshoot the last frame by a few hundredths of a second.
    return Word(
        text=text.strip(),
        start=min(max(0.0, float(start)), audio_seconds),
        end=min(max(0.0, float(end)), audio_seconds),
        probability=float(probability),
    )


class WhisperSpeechToText:
    """:class:`~newspeech.voice.protocols.SpeechToText` on a local faster-whisper model.

    The decoder is biased towards the exam, never towards the expected answer: ``prompt`` (the
    examiner's question) becomes Whisper's ``initial_prompt`` and ``hotwords`` (the question's
    keywords) its hotword prefix. Passing the model answer would make the student "say" it.

    ``context_margin_frames`` and ``min_context_frames`` size the encoder window of answers up
    to 30 s (:func:`context_frames`); ``min_context_frames=FULL_CONTEXT_FRAMES`` always uses
    Whisper's full 30 s.
    """

    suppress_blank = True
    """Whisper's own rule (no blank or end-of-text as the first token), as faster-whisper
    decodes; ``scripts/bench terms --decoding blank`` measures it off."""

    def __init__(
        self,
        model: WhisperModel,
        pool: InferencePool,
        *,
        beam_size: int = 1,
        language: str = "en",
        num_workers: int = 1,
        chunk_workers: int = 1,
        context_margin_frames: int = CONTEXT_MARGIN_FRAMES,
        min_context_frames: int = MIN_CONTEXT_FRAMES,
    ) -> None:
        if chunk_workers < 1:
            raise ValueError(f"chunk_workers must be at least 1, got {chunk_workers}")
        if beam_size < 1:
            raise ValueError(f"beam_size must be at least 1, got {beam_size}")
        if context_margin_frames < 0 or min_context_frames < 0:
            raise ValueError("context_margin_frames and min_context_frames cannot be negative")
        self.model = model
        self.pool = pool
        self.beam_size = beam_size
        self.language = language
        self.num_workers = num_workers
        """How many decodes CTranslate2 runs at once (what :meth:`warm_up` primes)."""
        self.chunk_workers = min(chunk_workers, num_workers)
        """How many 30 s chunks of one long recording are decoded at once (on their own
        decoders; chunks never depend on one another, so the transcript is the same)."""
        self.context_margin_frames = context_margin_frames
        self.min_context_frames = min_context_frames
        self.decode_counts = DecodeCounts()
        self._tokenizer = self._new_tokenizer(language)
        self._tokenizers = {language: self._tokenizer}
        """Per language a sitting asks for (only the start of a decode's prompt differs)."""
        # -1 stands for Whisper's non-speech symbols, expanded as faster-whisper does.
        self._suppress_tokens = list(get_suppressed_tokens(self._tokenizer, [-1]))

    @classmethod
    def load(
        cls,
        model_dir: Path,
        *,
        pool: InferencePool,
        compute_type: str = "int8",
        cpu_threads: int | None = None,
        num_workers: int | None = None,
        chunk_workers: int = 1,
        beam_size: int = 1,
        language: str = "en",
    ) -> WhisperSpeechToText:
        """Load the CTranslate2 Whisper model in ``model_dir`` once, for the whole process.

        By default ``num_workers`` is the pool's size (capped at the cores): every pool thread
        that is transcribing gets its own decoder instead of queueing behind another student.
        ``cpu_threads`` then defaults to the cores divided among those workers, so a full pool
        uses every core without oversubscribing them (``cpu_threads * num_workers <= cores``).
        """
        if not model_dir.is_dir():
            # A string that is not a folder would make faster-whisper download from the hub.
            raise ConfigurationError(f"Whisper model folder {model_dir} does not exist")
        cores = available_cores()
        workers = num_workers or max(1, min(pool.workers, cores))
        threads = cpu_threads or max(1, cores // workers)
        model = WhisperModel(
            str(model_dir),
            device="cpu",
            compute_type=compute_type,
            cpu_threads=threads,
            num_workers=workers,
            local_files_only=True,
        )
        return cls(
            model,
            pool,
            beam_size=beam_size,
            language=language,
            num_workers=workers,
            chunk_workers=chunk_workers,
        )

    @classmethod
    def from_settings(
        cls,
        settings: WhisperSettings,
        *,
        pool: InferencePool,
        num_workers: int | None = None,
        chunk_workers: int = 1,
    ) -> WhisperSpeechToText:
        """The engine ``settings`` ask for (model size, compute type, beam size); ``num_workers``
        and ``chunk_workers`` as :meth:`load` takes them."""
        model_dir = (
            whisper_tiny_en_dir()
            if settings.whisper_model == "tiny.en"
            else whisper_base_dir(settings.models_dir)
        )
        return cls.load(
            model_dir,
            pool=pool,
            compute_type=settings.whisper_compute_type,
            beam_size=settings.whisper_beam_size,
            num_workers=num_workers,
            chunk_workers=chunk_workers,
        )

    async def transcribe(
        self,
        pcm: PCM16,
        *,
        prompt: str | None = None,
        hotwords: Sequence[str] = (),
        language: str | None = None,
    ) -> Transcript:
        """Transcribe 16 kHz mono PCM16 off the event loop.

        Silent or empty audio gives an empty transcript with confidence 0. ``decode_seconds``
        is the decode itself, without the time spent waiting for a free pool thread. An
        English-only model hears English whatever ``language`` says.
        """
        check_pcm16(pcm)
        if is_near_silent(pcm):
            return empty_transcript(pcm.size / SAMPLE_RATE)
        initial_prompt = prompt.strip() if prompt and prompt.strip() else None
        joined = " ".join(word.strip() for word in hotwords if word.strip()) or None
        with component("decode"):
            return await self.pool.run(
                self._decode, pcm, initial_prompt, joined, language or self.language
            )

    async def warm_up(self) -> None:
        """Decode a second of faint noise on every CTranslate2 worker, so the first students
        do not pay for lazy allocations inside the model."""
        rng = np.random.default_rng(0)
        noise = np.rint(rng.normal(0.0, 300.0, int(_WARM_UP_SECONDS * SAMPLE_RATE)))
        pcm: PCM16 = noise.astype(np.int16)
        await asyncio.gather(
            *(
                self.pool.run(self._decode, pcm, None, None, self.language)
                for _ in range(self.num_workers)
            )
        )

    def _new_tokenizer(self, language: str) -> Tokenizer:
        return Tokenizer(
            self.model.hf_tokenizer,
            self.model.model.is_multilingual,
            task="transcribe",
            language=language,
        )

    def _decode(
        self, pcm: PCM16, prompt: str | None, hotwords: str | None, language: str
    ) -> Transcript:
        started = time.perf_counter()
        audio_seconds = pcm.size / SAMPLE_RATE
        audio: npt.NDArray[np.float32] = pcm.astype(np.float32) / 32768.0
        prompt = self._clip_tokens(prompt, PROMPT_TOKENS, keep_end=True)
        hotwords = self._clip_tokens(hotwords, HOTWORD_TOKENS, keep_end=False)
        if audio_seconds <= MAX_CHUNK_SECONDS:
            speech = self._decode_window(audio, prompt, hotwords, language)
        else:
            speech = self._decode_chunks(pcm, prompt, hotwords, language)
        text = " ".join(piece.text for piece in speech)
        confidence = confidence_from_segments((piece.avg_logprob, piece.tokens) for piece in speech)
        heard_in = self._tokenizer_for(language).language_code  # "en" for an English-only model
        return Transcript(
            text=text,
            confidence=confidence if text else 0.0,
            words=tuple(word for piece in speech for word in piece.words),
            audio_seconds=audio_seconds,
            decode_seconds=time.perf_counter() - started,
            language=heard_in,
        )

    def _decode_window(
        self,
        audio: npt.NDArray[np.float32],
        prompt: str | None,
        hotwords: str | None,
        language: str,
    ) -> list[_Speech]:
        """Audio of at most 30 s decoded as one window, then any voice after its last word on
        its own (:func:`~newspeech.voice.coverage.uncovered_tail`), as Whisper's long-form loop
        seeks past what it has transcribed: an answer with a pause after a full stop is heard
        to its end."""
        speech = self._decode_once(audio, prompt, hotwords, language)
        for _ in range(MAX_REST_DECODES):
            words = [word for piece in speech for word in piece.words]
            start = uncovered_tail(audio, words)
            if start is None:
                break
            cut = max(words[-1].end, start - REST_LEAD_SECONDS)
            said = " ".join(filter(None, [prompt, *(piece.text for piece in speech)]))
            context = self._clip_tokens(said, PROMPT_TOKENS, keep_end=True)
            rest = self._decode_once(audio[round(cut * SAMPLE_RATE) :], context, hotwords, language)
            self.decode_counts.add("rest")
            if not rest:
                break
            speech += [_shifted(piece, cut) for piece in rest]
        return speech

    def _decode_once(
        self,
        audio: npt.NDArray[np.float32],
        prompt: str | None,
        hotwords: str | None,
        language: str,
    ) -> list[_Speech]:
        """Audio of at most 30 s decoded as one window: no speech, or one piece of it."""
        audio_seconds = audio.size / SAMPLE_RATE
        # The batched pipeline drops the last frame too: it only covers the STFT's padding.
        features = self.model.feature_extractor(audio)[..., :-1]
        frames = context_frames(
            features.shape[-1], margin=self.context_margin_frames, minimum=self.min_context_frames
        )
        prompt_tokens = self._prompt_tokens(prompt, hotwords, language)
        if frames == FULL_CONTEXT_FRAMES:
            self.decode_counts.add("full_context")
        else:
            encoder_output = self._encode(features, frames)
            decoded = self._generate(encoder_output, prompt_tokens)
            if looks_degenerate(decoded.tokens, audio_seconds):
                self.decode_counts.add("full_context_retry")
            else:
                speech = self._speech(decoded, encoder_output, frames, audio_seconds, language)
                text = " ".join(piece.text for piece in speech)
                words = [word for piece in speech for word in piece.words]
                if ends_in_phantom_word(audio, words):
                    self.decode_counts.add("phantom_retry")
                elif not covers_too_little(audio, text, words):
                    self.decode_counts.add("short_context")
                    return speech
                else:
                    self.decode_counts.add("coverage_retry")
        encoder_output = self._encode(features, FULL_CONTEXT_FRAMES)
        decoded = self._generate(encoder_output, prompt_tokens)
        if hotwords and looks_degenerate(decoded.tokens, audio_seconds):
            # The hotwords themselves can make the loop: espeak's "start noradrenaline, aiming
            # for a mean arterial pressure ..." came back as "start norepinephrine,
            # norepinephrine, norepinephrine, ..." with "noradrenaline, norepinephrine," among
            # the hotwords, and as "start norerenaline, aiming for a mi arterial pressure"
            # without them (which the term correction then mends).
            self.decode_counts.add("unbiased_retry")
            decoded = self._generate(encoder_output, self._prompt_tokens(prompt, None, language))
        return self._speech(decoded, encoder_output, FULL_CONTEXT_FRAMES, audio_seconds, language)

    def _tokenizer_for(self, language: str) -> Tokenizer:
        tokenizer = self._tokenizers.get(language)
        if tokenizer is None:  # a dict write is atomic: two threads at worst build it twice
            tokenizer = self._tokenizers[language] = self._new_tokenizer(language)
        return tokenizer

    def _prompt_tokens(self, prompt: str | None, hotwords: str | None, language: str) -> list[int]:
        tokenizer = self._tokenizer_for(language)
        tokens: list[int] = self.model.get_prompt(
            tokenizer,
            previous_tokens=tokenizer.encode(prompt) if prompt else [],
            without_timestamps=True,
            hotwords=hotwords,
        )
        return tokens

    def _speech(
        self,
        decoded: _Decoded,
        encoder_output: Any,
        frames: int,
        audio_seconds: float,
        language: str,
    ) -> list[_Speech]:
        """One window's decode as speech (with word timestamps), or none if it is silence."""
        # Whisper's own no-speech rule: without it, noise comes back as the prompt ("President
        # Kennedy") or a keyword.
        text = self._tokenizer.decode(decoded.tokens).strip()
        if is_silence(decoded.no_speech_prob, decoded.avg_logprob) or not text:
            return []
        words = self._align(decoded.tokens, encoder_output, frames, audio_seconds, language)
        return [_Speech(text, words, decoded.avg_logprob, len(decoded.tokens))]

    def _encode(self, features: npt.NDArray[np.float32], frames: int) -> Any:
        """``features`` padded (with zeros, as faster-whisper pads) to ``frames`` and encoded;
        kept for decoding again and for word alignment."""
        return self.model.encode(pad_or_trim(features, frames))

    def _generate(self, encoder_output: Any, prompt: list[int]) -> _Decoded:
        """Decode ``encoder_output`` after ``prompt``, greedily or by beam search."""
        (result,) = self.model.model.generate(
            encoder_output,
            [prompt],
            beam_size=self.beam_size,
            patience=1,
            length_penalty=1,
            max_length=min(CONTEXT_TOKENS, len(prompt) + MAX_NEW_TOKENS),
            suppress_blank=self.suppress_blank,
            suppress_tokens=self._suppress_tokens,
            return_scores=True,
            return_no_speech_prob=True,
            sampling_temperature=0.0,
        )
        tokens: list[int] = list(result.sequences_ids[0])
        # faster-whisper's average: the score is normalised by the length (penalty 1), and the
        # end-of-text token counts as one more.
        avg_logprob = float(result.scores[0]) * len(tokens) / (len(tokens) + 1)
        return _Decoded(tokens, avg_logprob, float(result.no_speech_prob))

    def _align(
        self,
        tokens: list[int],
        encoder_output: Any,
        frames: int,
        audio_seconds: float,
        language: str,
    ) -> tuple[Word, ...]:
        """Word timestamps by faster-whisper's own alignment, as the batched pipeline does."""
        segment: dict[str, Any] = {"seek": 0, "start": 0.0, "end": audio_seconds, "tokens": tokens}
        # The batched pipeline aligns over the audio rounded up to whole seconds; the window
        # always holds that many frames (context_frames rounds up to whole seconds too).
        num_frames = min(math.ceil(audio_seconds) * FRAMES_PER_SECOND, frames)
        self.model.add_word_timestamps(
            [[segment]],
            self._tokenizer_for(language),
            encoder_output,
            [num_frames],
            PREPEND_PUNCTUATIONS,
            APPEND_PUNCTUATIONS,
            0.0,
        )
        return tuple(
            _word(word["word"], word["start"], word["end"], word["probability"], audio_seconds)
            for word in segment["words"]
        )

    def _decode_chunks(
        self, pcm: PCM16, prompt: str | None, hotwords: str | None, language: str
    ) -> list[_Speech]:
        """Audio over 30 s cut into chunks of at most 30 s (:func:`chunk_bounds`), each decoded
        as an answer of that length is, with the same checks and retries. Every chunk is
        decoded after the question alone, never after the previous chunk's text, so a
        misheard phrase cannot spread through the rest of the answer."""
        self.decode_counts.add("chunked")

        def decode(bounds: tuple[float, float]) -> list[_Speech]:
            start, end = bounds
            chunk = pcm[round(start * SAMPLE_RATE) : round(end * SAMPLE_RATE)]
            pieces = self._decode_window(
                chunk.astype(np.float32) / 32768.0, prompt, hotwords, language
            )
            return [_shifted(piece, start) for piece in pieces]

        bounds = chunk_bounds(pcm)
        if self.chunk_workers == 1 or len(bounds) == 1:
            decoded = [decode(b) for b in bounds]
        else:
            # Each thread waits in CTranslate2 (which releases the GIL) on a decoder of its own.
            with ThreadPoolExecutor(self.chunk_workers, thread_name_prefix="whisper-chunk") as ex:
                decoded = list(ex.map(decode, bounds))
        return [piece for pieces in decoded for piece in pieces]

    def _clip_tokens(self, text: str | None, limit: int, *, keep_end: bool) -> str | None:
        """``text`` cut to ``limit`` tokens, so prompt + answer always fit Whisper's 448."""
        if not text:
            return None
        ids: list[int] = self.model.hf_tokenizer.encode(text, add_special_tokens=False).ids
        if len(ids) <= limit:
            return text
        kept = ids[-limit:] if keep_end else ids[:limit]
        clipped: str = self.model.hf_tokenizer.decode(kept).strip()
        return clipped or None
