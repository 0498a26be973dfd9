"""The configured grader, built from settings and shared resources: once per set of configured
grading values (:class:`GraderCache`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Literal, Protocol

from pydantic import SecretStr

from newspeech.grading.embeddings import Embedder, MiniLMEmbedder
from newspeech.grading.hybrid import HybridGrader
from newspeech.grading.keyword import KeywordGrader, SeedKeywordGrader
from newspeech.grading.llm import LLMGrader, Runner
from newspeech.grading.protocols import (
    AsyncGrader,
    Grade,
    Grader,
    GradingQuestion,
    GradingThresholds,
)
from newspeech.llm.client import LLMClient, OpenAIChatClient, ResponseFormat


class LLMSettings(Protocol):
    """The ``NEWSPEECH_LLM_*`` settings the chat client is built from (``Settings`` has them)."""

    @property
    def llm_api_url(self) -> str | None: ...
    @property
    def llm_model(self) -> str: ...
    @property
    def llm_api_key(self) -> SecretStr | None: ...
    @property
    def llm_timeout_seconds(self) -> float: ...
    @property
    def llm_max_retries(self) -> int: ...
    @property
    def llm_response_format(self) -> ResponseFormat: ...


class GraderSettings(LLMSettings, Protocol):
    """What :func:`build_grader` reads: ``NEWSPEECH_GRADER`` and the LLM server. A protocol,
    so that grading never imports the application's settings."""

    @property
    def grader(self) -> Literal["hybrid", "keyword", "seed", "llm"]: ...


class PooledGrader:
    """An offline :class:`Grader` awaited through ``run`` (the inference pool)."""

    def __init__(self, grader: Grader, run: Runner | None = None) -> None:
        self.grader = grader
        self.evaluator = grader.evaluator
        self.run: Runner = run or asyncio.to_thread

    def grade(
        self,
        question: GradingQuestion,
        answer_transcript: str,
        *,
        asr_confidence: float | None = None,
    ) -> Grade:
        return self.grader.grade(question, answer_transcript, asr_confidence=asr_confidence)

    async def prepare_async(self, question: GradingQuestion) -> None:
        """Let the grader do the question's share of the work now (when it is asked)."""
        prepare = getattr(self.grader, "prepare", None)
        if prepare is not None:
            await self.run(prepare, question)

    async def grade_async(
        self,
        question: GradingQuestion,
        answer_transcript: str,
        *,
        asr_confidence: float | None = None,
    ) -> Grade:
        grade: Grade = await self.run(
            self.grader.grade, question, answer_transcript, asr_confidence=asr_confidence
        )
        return grade


def llm_client_from_settings(settings: LLMSettings, **kwargs: Any) -> OpenAIChatClient | None:
    """The chat client ``NEWSPEECH_LLM_*`` describe, or None when no server is configured."""
    if not settings.llm_api_url:
        return None
    return OpenAIChatClient(
        settings.llm_api_url,
        model=settings.llm_model,
        api_key=settings.llm_api_key,
        timeout_seconds=settings.llm_timeout_seconds,
        retries=settings.llm_max_retries,
        response_format=settings.llm_response_format,
        **kwargs,
    )


def build_grader(
    settings: GraderSettings,
    *,
    thresholds: GradingThresholds | None = None,
    temperature: float = 0.0,
    embedder: Embedder | None = None,
    llm_client: LLMClient | None = None,
    run: Runner | None = None,
) -> AsyncGrader:
    """The grader ``NEWSPEECH_GRADER`` names.

    ``seed`` and ``keyword`` need nothing; ``hybrid`` needs the MiniLM embedder (built here
    when not given: pass the process's shared one); ``llm`` and ``hybrid`` with
    ``NEWSPEECH_LLM_API_URL`` set need an LLM client (built from settings when not given; the
    caller closes it). ``thresholds`` and ``temperature`` (of the LLM's requests) come from the
    stored configuration; ``run`` is the inference pool's ``run``.
    """
    thresholds = thresholds or GradingThresholds()
    if settings.grader == "seed":
        return PooledGrader(SeedKeywordGrader(thresholds), run)
    if settings.grader == "keyword":
        return PooledGrader(KeywordGrader(thresholds), run)
    hybrid = HybridGrader(embedder or MiniLMEmbedder(), thresholds)
    client = llm_client or llm_client_from_settings(settings)
    if client is None:
        return PooledGrader(hybrid, run)
    return LLMGrader(
        client,
        hybrid,
        thresholds=thresholds,
        run=run,
        combine=settings.grader == "hybrid",
        temperature=temperature,
    )


GraderBuilder = Callable[[GradingThresholds, float], AsyncGrader]
"""``(thresholds, LLM temperature)`` -> a grader: :func:`build_grader` with the rest bound."""


class GraderCache:
    """The process's graders, one per set of configured grading values, each built on first use
    and shared by every sitting (and regrade) that uses those values: an admin's edit gives
    new sittings a new grader while running ones keep theirs. Few sets are ever in use (one per
    edit), so nothing is evicted."""

    def __init__(self, build: GraderBuilder) -> None:
        self._build = build
        self._graders: dict[tuple[GradingThresholds, float], AsyncGrader] = {}

    def get(self, thresholds: GradingThresholds, temperature: float) -> AsyncGrader:
        key = (thresholds, temperature)
        grader = self._graders.get(key)
        if grader is None:
            grader = self._graders[key] = self._build(thresholds, temperature)
        return grader


def grader_builder(
    settings: GraderSettings,
    *,
    embedder: Embedder | None = None,
    llm_client: LLMClient | None = None,
    run: Runner | None = None,
) -> GraderBuilder:
    """:func:`build_grader` with everything but the configured values bound."""

    def build(thresholds: GradingThresholds, temperature: float) -> AsyncGrader:
        return build_grader(
            settings,
            thresholds=thresholds,
            temperature=temperature,
            embedder=embedder,
            llm_client=llm_client,
            run=run,
        )

    return build


def keyword_graders() -> GraderCache:
    """Graders for a node without speech engines (nor their embedder): the keyword grader with
    each set of configured thresholds."""
    return GraderCache(lambda thresholds, _temperature: PooledGrader(KeywordGrader(thresholds)))
