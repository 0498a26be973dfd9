"""OpenAITextToSpeech against a real OpenAI-compatible server (uvicorn, Piper inside)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import numpy as np
import pytest
from pydantic import SecretStr

from newspeech import weights
from newspeech.config import Settings
from newspeech.errors import ConfigurationError, UpstreamError
from newspeech.voice.pool import InferencePool
from newspeech.voice.protocols import AudioChunk
from newspeech.voice.remote import Backoff
from newspeech.voice.remote_tts import OpenAITextToSpeech
from newspeech.voice.text import split_clauses
from newspeech.voice.tts import CHUNK_SECONDS, PiperTextToSpeech
from tests.fixtures.openai_tts_server import SpeechServerScript, create_tts_app, serving

API_KEY = "sk-test-0123456789abcdef"
WRONG_KEY = "sk-wrong-fedcba9876543210"
SENTENCE = "Please describe how you would examine a patient with chest pain."
THREE_CLAUSES = (
    "Tell me about the heart. Which chamber pumps blood into the aorta, and what happens "
    "to the pressure during systole?"
)


@pytest.fixture(scope="module")
async def piper() -> AsyncIterator[PiperTextToSpeech]:
    pool = InferencePool(workers=2)
    tts = PiperTextToSpeech.load(
        weights.locate(weights.PIPER_JOE), weights.locate(weights.PIPER_JOE_CONFIG), pool
    )
    yield tts
    pool.close()


@pytest.fixture(scope="module")
def script() -> SpeechServerScript:
    return SpeechServerScript(api_key=API_KEY)


@pytest.fixture(scope="module")
async def base_url(piper: PiperTextToSpeech, script: SpeechServerScript) -> AsyncIterator[str]:
    async with serving(create_tts_app(piper, script)) as url:
        yield url


@pytest.fixture
async def client(script: SpeechServerScript) -> AsyncIterator[httpx.AsyncClient]:
    script.reset()
    async with httpx.AsyncClient() as client:
        yield client


def remote(client: httpx.AsyncClient, base_url: str, **options: Any) -> OpenAITextToSpeech:
    """The client under test; back-off shortened, since waiting proves nothing here."""
    settings = {"api_key": API_KEY, "backoff": Backoff(base_seconds=0.01, max_seconds=0.01)}
    return OpenAITextToSpeech(base_url, client=client, **{**settings, **options})


async def collect(chunks: AsyncIterator[AudioChunk]) -> list[AudioChunk]:
    return [chunk async for chunk in chunks]


async def test_speaks_24_khz_pcm16_streamed_from_the_server(
    client: httpx.AsyncClient, base_url: str, script: SpeechServerScript
) -> None:
    tts = remote(client, base_url, model="tts-1-hd", voice="onyx")
    assert tts.sample_rate == 24_000
    chunks = await collect(tts.stream(SENTENCE))

    assert chunks
    limit = int(24_000 * CHUNK_SECONDS) * 2
    assert all(c.sample_rate == 24_000 and 0 < len(c.pcm) <= limit for c in chunks)
    assert all(len(c.pcm) % 2 == 0 for c in chunks)
    audio = np.frombuffer(b"".join(c.pcm for c in chunks), dtype="<i2")
    seconds = audio.size / 24_000
    words = len(SENTENCE.split())
    assert 0.15 * words <= seconds <= 0.8 * words, seconds
    assert float(np.sqrt(np.mean(audio.astype(np.float64) ** 2))) > 300
    assert script.requests == [
        {"model": "tts-1-hd", "voice": "onyx", "input": SENTENCE, "response_format": "pcm"}
    ]


async def test_requests_one_clause_at_a_time_first_clause_first(
    client: httpx.AsyncClient, base_url: str, script: SpeechServerScript
) -> None:
    tts = remote(client, base_url)
    clauses = split_clauses(THREE_CLAUSES)
    assert len(clauses) == 3

    stream = tts.stream(THREE_CLAUSES)
    await anext(stream)
    assert [request["input"] for request in script.requests] == clauses[:1]
    await collect(stream)
    assert [request["input"] for request in script.requests] == clauses


async def test_the_server_is_asked_for_what_an_examiner_says_not_what_is_written(
    client: httpx.AsyncClient, base_url: str, script: SpeechServerScript
) -> None:
    await collect(remote(client, base_url).stream("Give IV fluids, 30 ml/kg."))
    assert [request["input"] for request in script.requests] == split_clauses(
        "Give I V fluids, 30 millilitres per kilogram."
    )


async def test_closing_the_stream_early_requests_no_further_clause(
    client: httpx.AsyncClient, base_url: str, script: SpeechServerScript
) -> None:
    stream = remote(client, base_url).stream(THREE_CLAUSES)
    await anext(stream)
    await stream.aclose()
    assert len(script.requests) == 1
    with pytest.raises(StopAsyncIteration):
        await anext(stream)


async def test_empty_text_sends_no_request(
    client: httpx.AsyncClient, base_url: str, script: SpeechServerScript
) -> None:
    assert await collect(remote(client, base_url).stream("")) == []
    assert script.requests == []


async def test_retries_after_503_then_speaks(
    client: httpx.AsyncClient, base_url: str, script: SpeechServerScript
) -> None:
    script.fail_with.extend([503, 503])
    chunks = await collect(remote(client, base_url, retries=3).stream(SENTENCE))
    assert chunks
    assert [request["input"] for request in script.requests] == [SENTENCE] * 3


async def test_gives_up_after_its_retries_with_the_servers_message(
    client: httpx.AsyncClient, base_url: str, script: SpeechServerScript
) -> None:
    script.fail_with.extend([503] * 5)
    with pytest.raises(UpstreamError) as caught:
        await collect(remote(client, base_url, retries=2).stream(SENTENCE))
    assert caught.value.retryable
    assert "HTTP 503" in caught.value.detail
    assert "currently overloaded" in caught.value.detail
    assert "tried 3 times" in caught.value.detail
    assert len(script.requests) == 3


async def test_unauthorized_fails_at_once_without_revealing_the_key(
    client: httpx.AsyncClient, base_url: str, script: SpeechServerScript
) -> None:
    with pytest.raises(UpstreamError) as caught:
        await collect(remote(client, base_url, api_key=WRONG_KEY, retries=3).stream(SENTENCE))
    assert not caught.value.retryable
    assert "HTTP 401" in caught.value.detail
    assert "Incorrect API key provided" in caught.value.detail
    assert "NEWSPEECH_SPEECH_API_KEY" in caught.value.detail
    assert WRONG_KEY not in str(caught.value)
    assert len(script.requests) == 1


async def test_missing_key_is_unauthorized(
    client: httpx.AsyncClient, base_url: str, script: SpeechServerScript
) -> None:
    with pytest.raises(UpstreamError, match="401"):
        await collect(remote(client, base_url, api_key=None).stream(SENTENCE))


async def test_a_server_dying_mid_clause_is_not_retried(
    client: httpx.AsyncClient, base_url: str, script: SpeechServerScript
) -> None:
    script.cut_after_bytes = 4_800  # 0.1 s of audio
    received: list[AudioChunk] = []

    async def listen() -> None:
        async for chunk in remote(client, base_url, retries=3).stream(SENTENCE):
            received.append(chunk)

    with pytest.raises(UpstreamError, match="failed while streaming audio") as caught:
        await listen()
    assert not caught.value.retryable
    assert received  # what arrived was handed on; repeating it would be worse
    assert len(script.requests) == 1


async def test_a_server_that_never_answers_times_out(
    client: httpx.AsyncClient, base_url: str, script: SpeechServerScript
) -> None:
    """Timing by design (a 0.3 s limit) against a server that stalls for good: load cannot
    change the outcome."""
    script.stall = True
    tts = remote(client, base_url, timeout_seconds=0.3, retries=1)
    with pytest.raises(UpstreamError, match=r"did not answer within 0\.3 s") as caught:
        await collect(tts.stream(SENTENCE))
    assert caught.value.retryable
    assert len(script.requests) == 2


async def test_an_unreachable_server_is_a_retryable_upstream_error(
    client: httpx.AsyncClient,
) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    tts = remote(client, f"http://127.0.0.1:{port}/v1", retries=1)
    with pytest.raises(UpstreamError, match="could not reach") as caught:
        await collect(tts.stream(SENTENCE))
    assert caught.value.retryable


async def test_built_from_settings(client: httpx.AsyncClient) -> None:
    settings = Settings(
        tts_engine="openai",
        speech_api_url="http://gpu.local:8000/v1/",
        speech_api_key=SecretStr(API_KEY),
        tts_remote_model="kokoro",
        tts_remote_voice="af_bella",
    )
    tts = OpenAITextToSpeech.from_settings(settings, client=client)
    assert tts.url == "http://gpu.local:8000/v1/audio/speech"
    assert (tts.model, tts.voice, tts.sample_rate) == ("kokoro", "af_bella", 24_000)


async def test_settings_without_a_server_are_refused(client: httpx.AsyncClient) -> None:
    with pytest.raises(ConfigurationError, match="NEWSPEECH_SPEECH_API_URL"):
        OpenAITextToSpeech.from_settings(Settings(), client=client)
