"""build_grader turns settings into the configured grader, and the settings are validated."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from newspeech.config import load_settings
from newspeech.errors import ConfigurationError
from newspeech.grading.embeddings import MiniLMEmbedder
from newspeech.grading.factory import (
    GraderCache,
    PooledGrader,
    build_grader,
    grader_builder,
    keyword_graders,
    llm_client_from_settings,
)
from newspeech.grading.hybrid import HybridGrader
from newspeech.grading.keyword import KeywordGrader, SeedKeywordGrader
from newspeech.grading.llm import LLMGrader
from newspeech.grading.protocols import GradingThresholds
from newspeech.llm import OpenAIChatClient
from newspeech.models.enums import EvaluatorType
from newspeech.voice.pool import InferencePool
from tests.fixtures.openai_chat_server import ChatServerScript, create_chat_app
from tests.fixtures.openai_tts_server import serving
from tests.grading.cases import bank_question

QUESTION = bank_question("law", 1, 1)


@pytest.fixture(scope="module")
def chat_script() -> ChatServerScript:
    return ChatServerScript(api_key="k")


@pytest.fixture(scope="module")
async def chat_url(chat_script: ChatServerScript) -> AsyncIterator[str]:
    async with serving(create_chat_app(chat_script)) as url:
        yield url


@pytest.mark.parametrize(
    ("name", "kind"), [("seed", SeedKeywordGrader), ("keyword", KeywordGrader)]
)
async def test_keyword_graders_run_in_the_given_pool(name: str, kind: type) -> None:
    pool = InferencePool(workers=1)
    try:
        grader = build_grader(load_settings(grader=name), run=pool.run)
        assert isinstance(grader, PooledGrader)
        assert isinstance(grader.grader, kind)
        grade = await grader.grade_async(QUESTION, QUESTION.model_answer)
        assert grade.score >= 8
        assert grade.evaluator is EvaluatorType.KEYWORD_MATCH
    finally:
        pool.close()


async def test_hybrid_is_the_offline_default(minilm: MiniLMEmbedder) -> None:
    settings = load_settings()
    assert settings.grader == "hybrid"
    assert settings.llm_api_url is None
    grader = build_grader(settings, embedder=minilm)
    assert isinstance(grader, PooledGrader)
    assert isinstance(grader.grader, HybridGrader)
    await grader.prepare_async(QUESTION)
    grade = await grader.grade_async(QUESTION, QUESTION.model_answer, asr_confidence=0.9)
    assert grade.evaluator is EvaluatorType.HYBRID
    assert grade.score >= 8


async def test_a_configured_llm_joins_the_hybrid_grade(
    minilm: MiniLMEmbedder, chat_url: str
) -> None:
    settings = load_settings(llm_api_url=chat_url, llm_api_key="k", llm_model="m")
    client = llm_client_from_settings(settings)
    assert isinstance(client, OpenAIChatClient)
    async with client:
        grader = build_grader(settings, embedder=minilm, llm_client=client)
        assert isinstance(grader, LLMGrader)
        assert grader.combine
        grade = await grader.grade_async(QUESTION, QUESTION.model_answer)
    assert grade.evaluator is EvaluatorType.HYBRID
    assert "llm_fraction" in grade.details


async def test_llm_mode_grades_with_the_llm(minilm: MiniLMEmbedder, chat_url: str) -> None:
    settings = load_settings(grader="llm", llm_api_url=chat_url, llm_api_key="k")
    async with httpx.AsyncClient() as http:
        client = llm_client_from_settings(settings, client=http)
        assert client is not None
        grader = build_grader(settings, embedder=minilm, llm_client=client)
        grade = await grader.grade_async(QUESTION, QUESTION.model_answer)
    assert grade.evaluator is EvaluatorType.LLM_BASED


async def test_the_configured_llm_temperature_is_sent_with_each_request(
    minilm: MiniLMEmbedder, chat_url: str, chat_script: ChatServerScript
) -> None:
    settings = load_settings(grader="llm", llm_api_url=chat_url, llm_api_key="k")
    chat_script.reset()
    async with httpx.AsyncClient() as http:
        client = llm_client_from_settings(settings, client=http)
        graders = GraderCache(grader_builder(settings, embedder=minilm, llm_client=client))
        await graders.get(GradingThresholds(), 0.0).grade_async(QUESTION, QUESTION.model_answer)
        await graders.get(GradingThresholds(), 0.4).grade_async(QUESTION, QUESTION.model_answer)
    assert [body["temperature"] for body in chat_script.requests] == [0.0, 0.4]


def test_one_grader_per_set_of_configured_values() -> None:
    graders = keyword_graders()
    strict = GradingThresholds(correct=0.9)
    first = graders.get(GradingThresholds(), 0.0)
    assert graders.get(GradingThresholds(), 0.0) is first
    other = graders.get(strict, 0.0)
    assert other is not first
    assert isinstance(other, PooledGrader)
    assert isinstance(other.grader, KeywordGrader)
    assert other.grader.thresholds == strict


def test_llm_mode_needs_a_server() -> None:
    with pytest.raises(ConfigurationError, match="NEWSPEECH_LLM_API_URL"):
        load_settings(grader="llm")


def test_llm_settings_are_validated() -> None:
    with pytest.raises(ConfigurationError, match="LLM_TIMEOUT_SECONDS"):
        load_settings(llm_timeout_seconds=0)
    assert llm_client_from_settings(load_settings()) is None
