"""OpenAIChatClient against a real HTTP server speaking the chat-completions protocol."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from newspeech.errors import ConfigurationError, UpstreamError
from newspeech.kit.http_retry import Backoff
from newspeech.llm import ChatMessage, OpenAIChatClient, parse_json_object
from tests.fixtures.openai_chat_server import ChatServerScript, create_chat_app
from tests.fixtures.openai_tts_server import serving

API_KEY = "sk-chat-test-0123456789"
SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "string"}},
    "required": ["answer"],
    "additionalProperties": False,
}
HELLO = [ChatMessage("system", "Reply in JSON."), ChatMessage("user", "Say hi.")]


@pytest.fixture(scope="module")
def script() -> ChatServerScript:
    return ChatServerScript(api_key=API_KEY)


@pytest.fixture(scope="module")
async def base_url(script: ChatServerScript) -> AsyncIterator[str]:
    async with serving(create_chat_app(script)) as url:
        yield url


@pytest.fixture
async def http(script: ChatServerScript) -> AsyncIterator[httpx.AsyncClient]:
    script.reset()
    async with httpx.AsyncClient() as client:
        yield client


def chat(http: httpx.AsyncClient, base_url: str, **options: Any) -> OpenAIChatClient:
    settings: dict[str, Any] = {
        "model": "examiner-model",
        "api_key": API_KEY,
        "backoff": Backoff(base_seconds=0.01, max_seconds=0.01),
        "client": http,
    }
    return OpenAIChatClient(base_url, **{**settings, **options})


async def test_sends_messages_and_json_schema_and_reads_the_reply(
    http: httpx.AsyncClient, base_url: str, script: ChatServerScript
) -> None:
    script.replies.append('{"answer": "hi"}')
    result = await chat(http, base_url).complete(HELLO, json_schema=SCHEMA, schema_name="greet")

    assert parse_json_object(result.content) == {"answer": "hi"}
    assert result.model == "fake-examiner-1"
    assert result.finish_reason == "stop"
    assert result.usage["total_tokens"] == 120
    (body,) = script.requests
    assert body["model"] == "examiner-model"
    assert body["messages"] == [
        {"role": "system", "content": "Reply in JSON."},
        {"role": "user", "content": "Say hi."},
    ]
    assert body["temperature"] == 0.0
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "greet", "schema": SCHEMA, "strict": True},
    }


async def test_retries_a_server_error_then_succeeds(
    http: httpx.AsyncClient, base_url: str, script: ChatServerScript
) -> None:
    script.fail_with.extend([500, 503])
    script.replies.append('{"answer": "after two failures"}')
    result = await chat(http, base_url, retries=2).complete(HELLO, json_schema=SCHEMA)
    assert json.loads(result.content)["answer"] == "after two failures"
    assert len(script.requests) == 3


async def test_rate_limit_is_retried_after_the_servers_pause(
    http: httpx.AsyncClient, base_url: str, script: ChatServerScript
) -> None:
    script.fail_with.append(429)
    script.retry_after = "0"
    script.replies.append('{"answer": "ok"}')
    await chat(http, base_url, retries=1).complete(HELLO)
    assert len(script.requests) == 2


async def test_gives_up_after_its_retries_with_a_retryable_error(
    http: httpx.AsyncClient, base_url: str, script: ChatServerScript
) -> None:
    script.fail_with.extend([502, 502, 502])
    with pytest.raises(UpstreamError, match=r"HTTP 502.*tried 2 times") as caught:
        await chat(http, base_url, retries=1).complete(HELLO)
    assert caught.value.retryable
    assert len(script.requests) == 2


async def test_a_bad_key_fails_at_once_without_echoing_it(
    http: httpx.AsyncClient, base_url: str, script: ChatServerScript
) -> None:
    wrong = "sk-wrong-key-zyxwvu"
    with pytest.raises(UpstreamError, match="NEWSPEECH_LLM_API_KEY") as caught:
        await chat(http, base_url, api_key=wrong, retries=3).complete(HELLO)
    assert wrong not in caught.value.detail
    assert not caught.value.retryable
    assert len(script.requests) == 1


async def test_a_stalled_server_times_out(
    http: httpx.AsyncClient, base_url: str, script: ChatServerScript
) -> None:
    """Timing by design: the server stalls 1 s, the client's limit is 0.2 s; load can only
    delay the timeout, never turn it into an answer."""
    script.stall_seconds = 1.0
    with pytest.raises(UpstreamError, match=r"did not answer within 0\.2 s"):
        await chat(http, base_url, timeout_seconds=0.2, retries=0).complete(HELLO)


async def test_falls_back_to_json_object_when_json_schema_is_refused(
    http: httpx.AsyncClient, base_url: str, script: ChatServerScript
) -> None:
    script.reject_json_schema = True
    script.replies.extend(['{"answer": "one"}', '{"answer": "two"}'])
    client = chat(http, base_url)
    await client.complete(HELLO, json_schema=SCHEMA)
    await client.complete(HELLO, json_schema=SCHEMA)

    kinds = [body["response_format"]["type"] for body in script.requests]
    assert kinds == ["json_schema", "json_object", "json_object"]


async def test_unreachable_server_is_a_retryable_upstream_error(http: httpx.AsyncClient) -> None:
    with pytest.raises(UpstreamError, match="could not reach LLM server") as caught:
        await chat(http, "http://127.0.0.1:9/v1", retries=0).complete(HELLO)
    assert caught.value.retryable


async def test_closes_only_the_client_it_made(base_url: str) -> None:
    async with OpenAIChatClient(base_url, model="m", api_key=API_KEY) as own:
        assert own.url.endswith("/v1/chat/completions")
    assert own._client.is_closed


def test_needs_a_server_url() -> None:
    with pytest.raises(ConfigurationError, match="NEWSPEECH_LLM_API_URL"):
        OpenAIChatClient("", model="m")


def test_parses_json_in_a_code_fence_and_rejects_non_objects() -> None:
    assert parse_json_object('```json\n{"score": 3}\n```') == {"score": 3}
    with pytest.raises(ValueError, match="not an object"):
        parse_json_object("[1, 2]")
    with pytest.raises(json.JSONDecodeError, match="Expecting value"):
        parse_json_object("score: 10")
