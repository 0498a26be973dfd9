"""Engines that time themselves: each wraps a port's implementation and implements the same
Protocol, so the voice engine and the exam service are measured without knowing it."""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Sequence

from newspeech.grading import AsyncGrader, Grade, GradingQuestion
from newspeech.models.enums import EvaluatorType
from newspeech.observability.metrics import Metrics
from newspeech.voice.protocols import PCM16, AudioChunk, SpeechToText, TextToSpeech, Transcript


class TimedSpeechToText:
    def __init__(self, stt: SpeechToText, metrics: Metrics) -> None:
        self.inner = stt
        self._metrics = metrics

    async def transcribe(
        self,
        pcm: PCM16,
        *,
        prompt: str | None = None,
        hotwords: Sequence[str] = (),
        language: str | None = None,
    ) -> Transcript:
        started = time.perf_counter()
        try:
            return await self.inner.transcribe(
                pcm, prompt=prompt, hotwords=hotwords, language=language
            )
        finally:
            self._metrics.asr.observe(time.perf_counter() - started)


class TimedTextToSpeech:
    """Times a synthesis to its first chunk: the rest of the stream is paced by the listener."""

    def __init__(self, tts: TextToSpeech, metrics: Metrics) -> None:
        self.inner = tts
        self.sample_rate = tts.sample_rate
        self._metrics = metrics

    async def stream(self, text: str) -> AsyncGenerator[AudioChunk, None]:
        started = time.perf_counter()
        first = True
        async for chunk in self.inner.stream(text):
            if first:
                self._metrics.tts_first_audio.observe(time.perf_counter() - started)
                first = False
            yield chunk


class TimedGrader:
    """An :class:`AsyncGrader` whose ``grade_async`` calls are timed; ``prepare_async`` (the
    exam service looks for it) passes through when the wrapped grader has it."""

    def __init__(self, grader: AsyncGrader, metrics: Metrics) -> None:
        self.inner = grader
        self.evaluator: EvaluatorType = grader.evaluator
        self._metrics = metrics

    async def grade_async(
        self,
        question: GradingQuestion,
        answer_transcript: str,
        *,
        asr_confidence: float | None = None,
    ) -> Grade:
        started = time.perf_counter()
        try:
            return await self.inner.grade_async(
                question, answer_transcript, asr_confidence=asr_confidence
            )
        finally:
            self._metrics.grading.observe(time.perf_counter() - started)

    async def prepare_async(self, question: GradingQuestion) -> None:
        prepare = getattr(self.inner, "prepare_async", None)
        if prepare is not None:
            await prepare(question)
