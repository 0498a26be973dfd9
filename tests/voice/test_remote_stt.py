"""OpenAISpeechToText against a real OpenAI-compatible server (uvicorn, faster-whisper inside)."""

from __future__ import annotations

import io
import random
import re
import socket
import wave
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from pydantic import SecretStr

from newspeech.config import Settings
from newspeech.errors import UpstreamError
from newspeech.voice.audio import decode_audio
from newspeech.voice.pool import InferencePool
from newspeech.voice.protocols import PCM16, SAMPLE_RATE
from newspeech.voice.remote import Backoff, OpenAISpeechToText, post_with_retries
from newspeech.voice.stt import WhisperSpeechToText
from newspeech.weights import whisper_tiny_en_dir
from tests.fixtures.openai_speech_server import TranscriptionServerScript, create_stt_app
from tests.fixtures.openai_tts_server import serving
from tests.voice.wer import word_error_rate

AUDIO = Path(__file__).resolve().parents[3] / "shared" / "audio"
JFK_TEXT = (
    "And so my fellow Americans, ask not what your country can do for you, "
    "ask what you can do for your country."
)
API_KEY = "sk-test-0123456789abcdef"
WRONG_KEY = "sk-wrong-fedcba9876543210"
QUESTION = "What did President Kennedy ask of his fellow Americans?"
FAST = Backoff(base_seconds=0.01, max_seconds=0.05)
"""Back-off shortened: waiting proves nothing here."""


@pytest.fixture(scope="module")
def jfk() -> PCM16:
    return decode_audio((AUDIO / "whisper_jfk.flac").read_bytes(), max_seconds=60)


@pytest.fixture(scope="module")
def whisper() -> Iterator[WhisperSpeechToText]:
    pool = InferencePool()
    yield WhisperSpeechToText.load(whisper_tiny_en_dir(), pool=pool)
    pool.close()


@pytest.fixture(scope="module")
def script() -> TranscriptionServerScript:
    return TranscriptionServerScript(api_key=API_KEY)


@pytest.fixture(scope="module")
async def base_url(
    whisper: WhisperSpeechToText, script: TranscriptionServerScript
) -> AsyncIterator[str]:
    async with serving(create_stt_app(whisper, script)) as url:
        yield url


@pytest.fixture
async def client(script: TranscriptionServerScript) -> AsyncIterator[httpx.AsyncClient]:
    script.reset()
    async with httpx.AsyncClient() as client:
        yield client


def remote(client: httpx.AsyncClient, base_url: str, **options: Any) -> OpenAISpeechToText:
    settings: dict[str, Any] = {"api_key": SecretStr(API_KEY), "backoff": FAST, **options}
    return OpenAISpeechToText(base_url, client=client, **settings)


async def test_transcribes_an_answer_through_the_server(
    client: httpx.AsyncClient,
    base_url: str,
    jfk: PCM16,
    whisper: WhisperSpeechToText,
    script: TranscriptionServerScript,
) -> None:
    transcript = await remote(client, base_url).transcribe(jfk)

    assert word_error_rate(JFK_TEXT, transcript.text) <= 0.10, transcript.text
    local = await whisper.transcribe(jfk)
    assert transcript.confidence == pytest.approx(local.confidence)
    assert transcript.confidence > 0.5
    assert transcript.audio_seconds == pytest.approx(jfk.size / SAMPLE_RATE)
    starts = [word.start for word in transcript.words]
    assert len(starts) == len(transcript.text.split())
    assert starts == sorted(starts)
    assert all(0 <= w.start <= w.end <= transcript.audio_seconds for w in transcript.words)
    assert len(script.requests) == 1


async def test_sends_a_wav_with_the_question_and_keywords_as_prompt(
    client: httpx.AsyncClient, base_url: str, jfk: PCM16, script: TranscriptionServerScript
) -> None:
    stt = remote(client, base_url, model="whisper-large-v3")

    await stt.transcribe(jfk, prompt=f"  {QUESTION} ", hotwords=["Americans", " ", "country"])

    (upload,) = script.requests
    assert upload.fields == {
        "model": ["whisper-large-v3"],
        "language": ["en"],
        "response_format": ["verbose_json"],
        "timestamp_granularities[]": ["word", "segment"],
        "prompt": [f"{QUESTION} Americans country"],
    }
    with wave.open(io.BytesIO(upload.files["file"])) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, SAMPLE_RATE)
        sent = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    assert np.array_equal(sent, jfk)


async def test_a_sittings_language_is_sent_instead_of_the_engines(
    client: httpx.AsyncClient, base_url: str, jfk: PCM16, script: TranscriptionServerScript
) -> None:
    stt = remote(client, base_url)

    transcript = await stt.transcribe(jfk, prompt=QUESTION, language="de")

    (upload,) = script.requests
    assert upload.fields["language"] == ["de"]
    assert transcript.language == "de"


async def test_api_key_travels_only_in_the_authorization_header(
    client: httpx.AsyncClient, base_url: str, jfk: PCM16, script: TranscriptionServerScript
) -> None:
    await remote(client, base_url).transcribe(jfk, prompt=QUESTION)

    (upload,) = script.requests
    assert upload.headers["authorization"] == f"Bearer {API_KEY}"
    other_headers = {k: v for k, v in upload.headers.items() if k != "authorization"}
    assert API_KEY not in repr(other_headers)
    assert API_KEY not in repr(upload.fields)
    assert API_KEY.encode() not in upload.files["file"]


@pytest.mark.parametrize(
    ("status", "retry_after"), [(503, None), (500, None), (429, "0"), (502, None)]
)
async def test_retries_transient_failures_then_succeeds(
    client: httpx.AsyncClient,
    base_url: str,
    jfk: PCM16,
    script: TranscriptionServerScript,
    status: int,
    retry_after: str | None,
) -> None:
    script.fail_with.extend([status, status])
    script.retry_after = retry_after

    transcript = await remote(client, base_url, retries=2).transcribe(jfk)

    assert word_error_rate(JFK_TEXT, transcript.text) <= 0.10
    assert len(script.requests) == 3


async def test_gives_up_after_its_retries_with_the_servers_message(
    client: httpx.AsyncClient, base_url: str, jfk: PCM16, script: TranscriptionServerScript
) -> None:
    script.fail_with.extend([503] * 5)

    with pytest.raises(UpstreamError) as caught:
        await remote(client, base_url, retries=2).transcribe(jfk)

    assert caught.value.retryable
    message = str(caught.value)
    assert "HTTP 503" in message
    assert "currently overloaded" in message
    assert "tried 3 times" in message
    assert len(script.requests) == 3


async def test_a_rejected_key_fails_at_once_without_leaking_it(
    client: httpx.AsyncClient, base_url: str, jfk: PCM16, script: TranscriptionServerScript
) -> None:
    stt = remote(client, base_url, api_key=SecretStr(WRONG_KEY), retries=3)

    with pytest.raises(UpstreamError) as caught:
        await stt.transcribe(jfk)

    assert not caught.value.retryable
    assert len(script.requests) == 1
    message = str(caught.value)
    assert "HTTP 401" in message
    assert "Incorrect API key provided" in message  # the server's own words
    assert WRONG_KEY not in message  # which echoed the key: it must not be passed on
    assert WRONG_KEY not in repr(caught.value.__cause__)


@pytest.mark.parametrize("status", [400, 404, 413, 422, 501])
async def test_answers_that_will_not_change_are_not_retried(
    client: httpx.AsyncClient,
    base_url: str,
    jfk: PCM16,
    script: TranscriptionServerScript,
    status: int,
) -> None:
    script.fail_with.append(status)

    with pytest.raises(UpstreamError, match=f"HTTP {status}") as caught:
        await remote(client, base_url, retries=3).transcribe(jfk)

    assert not caught.value.retryable
    assert len(script.requests) == 1


async def test_a_server_that_never_answers_times_out_as_retryable(
    client: httpx.AsyncClient, jfk: PCM16
) -> None:
    """Timing by design (a 0.3 s limit), against a server that never answers at all: the
    outcome cannot depend on the machine's speed."""
    # A listening socket nobody accepts from: the connection opens, no answer ever comes.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/v1"
        stt = remote(client, url, timeout_seconds=0.3, retries=1, api_key=SecretStr(API_KEY))

        with pytest.raises(UpstreamError) as caught:
            await stt.transcribe(jfk)

    assert caught.value.retryable
    assert "did not answer within 0.3 s" in str(caught.value)
    assert "tried 2 times" in str(caught.value)
    assert isinstance(caught.value.__cause__, httpx.TimeoutException)
    assert API_KEY not in str(caught.value)


async def test_a_server_that_is_down_is_retryable(client: httpx.AsyncClient, jfk: PCM16) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # bound, never listening: connections are refused

        with pytest.raises(UpstreamError, match="could not reach") as caught:
            await remote(client, f"http://127.0.0.1:{port}/v1", retries=1).transcribe(jfk)

    assert caught.value.retryable


async def test_a_text_only_answer_has_no_confidence_and_no_words(
    client: httpx.AsyncClient, base_url: str, jfk: PCM16, script: TranscriptionServerScript
) -> None:
    script.text_only = True

    transcript = await remote(client, base_url).transcribe(jfk)

    assert word_error_rate(JFK_TEXT, transcript.text) <= 0.10
    assert transcript.confidence == 0.0
    assert transcript.words == ()


async def test_silence_is_answered_without_a_request(
    client: httpx.AsyncClient, base_url: str, script: TranscriptionServerScript
) -> None:
    transcript = await remote(client, base_url).transcribe(np.zeros(SAMPLE_RATE, dtype=np.int16))

    assert transcript.text == ""
    assert transcript.confidence == 0.0
    assert script.requests == []


async def test_a_long_retry_after_fails_at_once(
    client: httpx.AsyncClient, base_url: str, jfk: PCM16, script: TranscriptionServerScript
) -> None:
    script.fail_with.extend([429, 429])
    script.retry_after = "3600"

    with pytest.raises(UpstreamError, match=re.escape("retry after 3600 s")) as caught:
        await remote(client, base_url, retries=3).transcribe(jfk)

    assert caught.value.retryable
    assert len(script.requests) == 1


async def test_post_with_retries_returns_the_successful_response(
    client: httpx.AsyncClient, base_url: str, script: TranscriptionServerScript
) -> None:
    # The helper other remote engines build on, used directly.
    script.fail_with.append(503)
    wav = (AUDIO / "speech_recognition_english.wav").read_bytes()

    response = await post_with_retries(
        client,
        f"{base_url}/audio/transcriptions",
        retries=1,
        timeout_seconds=30,
        api_key=SecretStr(API_KEY),
        backoff=FAST,
        rng=random.Random(0),
        data={"model": "whisper-1"},
        files={"file": ("clip.wav", wav, "audio/wav")},
    )

    assert response.status_code == 200
    assert word_error_rate("one two three", response.json()["text"]) == 0.0


async def test_builds_from_settings(tmp_path: Path) -> None:
    settings = Settings(
        environment="test",
        data_dir=tmp_path,
        stt_engine="openai",
        speech_api_url="http://speech.internal:8000/v1/",
        speech_api_key=SecretStr(API_KEY),
        stt_remote_model="distil-whisper",
        speech_timeout_seconds=12,
        speech_retries=5,
    )

    async with OpenAISpeechToText.from_settings(settings) as stt:
        assert stt.url == "http://speech.internal:8000/v1/audio/transcriptions"
        assert (stt.model, stt.timeout_seconds, stt.retries) == ("distil-whisper", 12, 5)
        assert API_KEY not in repr(vars(stt))


def test_backoff_grows_exponentially_with_jitter_and_is_capped() -> None:
    backoff = Backoff(base_seconds=0.5, max_seconds=4.0)
    rng = random.Random(0)

    for attempt, ceiling in enumerate([0.5, 1.0, 2.0, 4.0, 4.0, 4.0]):
        delays = {backoff.delay(attempt, rng) for _ in range(20)}
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
        assert len(delays) > 1
