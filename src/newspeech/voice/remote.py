"""Speech engines on an OpenAI-compatible server, and the HTTP retry policy they share.

Any server speaking OpenAI's audio API works: a cloud API, faster-whisper or vLLM servers,
llama.cpp. :func:`post_with_retries` is the one place that decides what is worth retrying and
how an upstream failure is worded; it never lets the API key into a message.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

import httpx
from pydantic import SecretStr

from newspeech.config import Settings
from newspeech.errors import ConfigurationError, UpstreamError
from newspeech.voice.audio import encode_wav
from newspeech.voice.protocols import PCM16, SAMPLE_RATE, Transcript, Word
from newspeech.voice.stt import (
    check_pcm16,
    confidence_from_segments,
    empty_transcript,
    is_near_silent,
)


def is_retryable_status(status: int) -> bool:
    """Answers that say "not now" rather than "never": request timeout, rate limit and server
    errors, except 501 and 505 (the server cannot do this at all)."""
    return status in (408, 429) or (500 <= status < 600 and status not in (501, 505))


_MESSAGE_LIMIT = 300


@dataclass(frozen=True)
class Backoff:
    """Exponential back-off with jitter: attempt ``n`` waits between half and all of
    ``min(max_seconds, base_seconds * 2**n)``, so clients that failed together do not come
    back together."""

    base_seconds: float = 0.5
    max_seconds: float = 8.0
    max_retry_after_seconds: float = 30.0
    """A server asking for a longer pause than this fails the call at once: no student waits
    that long for a transcript."""

    def delay(self, attempt: int, rng: random.Random) -> float:
        ceiling = min(self.max_seconds, self.base_seconds * 2.0**attempt)
        return ceiling / 2 + rng.uniform(0.0, ceiling / 2)


async def post_with_retries(
    client: httpx.AsyncClient,
    url: str,
    *,
    retries: int,
    timeout_seconds: float,
    api_key: SecretStr | None = None,
    backoff: Backoff | None = None,
    service: str = "speech server",
    stream: bool = False,
    rng: random.Random | None = None,
    **request_kwargs: Any,
) -> httpx.Response:
    """POST to ``url`` and return its 2xx response, retrying transient failures.

    Connection errors, timeouts, 408, 429 (after the server's ``Retry-After`` when it sends
    one) and 5xx are tried again up to ``retries`` times; any other answer fails at once.
    Failures raise :class:`UpstreamError` naming the status and the server's own message;
    ``retryable`` says whether trying again later could help. ``api_key`` goes in the
    ``Authorization`` header only and is masked if a server echoes it.

    ``request_kwargs`` (``json``, ``data``, ``files`` ...) are sent again on each attempt, so
    file contents must be bytes, not streams. With ``stream=True`` the body of a successful
    response is left unread and the caller must close it.
    """
    if retries < 0:
        raise ValueError(f"retries must be 0 or more, got {retries}")
    backoff = backoff or Backoff()
    rng = rng or random.Random()
    headers = dict(request_kwargs.pop("headers", None) or {})
    if api_key is not None:
        headers["Authorization"] = f"Bearer {api_key.get_secret_value()}"
    attempt = _Attempt(client, url, headers, timeout_seconds, stream, service, api_key)
    attempts = retries + 1
    for number in range(attempts):
        outcome = await attempt.send(request_kwargs)
        if isinstance(outcome, httpx.Response):
            return outcome
        error, wait = outcome.error, outcome.wait
        if not error.retryable:
            raise error from outcome.cause
        if wait is not None and wait > backoff.max_retry_after_seconds:
            raise UpstreamError(
                f"{error.detail} (it asks to retry after {wait:g} s)", retryable=True
            ) from outcome.cause
        if number == attempts - 1:
            tried = f" (tried {attempts} times)" if attempts > 1 else ""
            raise UpstreamError(error.detail + tried, retryable=True) from outcome.cause
        await asyncio.sleep(max(wait or 0.0, backoff.delay(number, rng)))
    raise AssertionError("unreachable: the last attempt returns or raises")


@dataclass(frozen=True)
class _Failure:
    error: UpstreamError
    cause: BaseException | None = None
    wait: float | None = None
    """What the server's ``Retry-After`` asked for, if anything."""


@dataclass(frozen=True)
class _Attempt:
    """One POST, turned into either a successful response or a worded failure."""

    client: httpx.AsyncClient
    url: str
    headers: dict[str, str]
    timeout_seconds: float
    stream: bool
    service: str
    api_key: SecretStr | None

    async def send(self, request_kwargs: dict[str, Any]) -> httpx.Response | _Failure:
        where = f"{self.service} at {_display_url(self.url)}"
        try:
            request = self.client.build_request(
                "POST",
                self.url,
                headers=self.headers,
                timeout=self.timeout_seconds,
                **request_kwargs,
            )
            response = await self.client.send(request, stream=self.stream)
        except httpx.TimeoutException as exc:
            message = f"{where} did not answer within {self.timeout_seconds:g} s"
            return _Failure(UpstreamError(message, retryable=True), exc)
        except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            message = f"could not reach {where}: {self._detail(exc)}"
            return _Failure(UpstreamError(message, retryable=True), exc)
        except httpx.HTTPError as exc:
            return _Failure(UpstreamError(f"request to {where} failed: {self._detail(exc)}"), exc)
        if response.is_success:
            return response
        body = await response.aread()
        await response.aclose()
        status = response.status_code
        hint = " (check NEWSPEECH_SPEECH_API_KEY)" if status in (401, 403) else ""
        message = (
            f"{where} answered HTTP {status}{hint}: {_redact(server_message(body), self.api_key)}"
        )
        return _Failure(
            UpstreamError(message, retryable=is_retryable_status(status)),
            wait=_retry_after(response),
        )

    def _detail(self, exc: Exception) -> str:
        return _redact(str(exc), self.api_key) or type(exc).__name__


def server_message(body: bytes) -> str:
    """The server's explanation: OpenAI's ``{"error": {"message": ...}}``, FastAPI's
    ``{"detail": ...}``, or the start of the body, on one line."""
    text = body.decode(errors="replace").strip()
    try:
        data: Any = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and error.get("message"):
            text = str(error["message"])
        elif isinstance(error, str):
            text = error
        elif "detail" in data:
            text = str(data["detail"])
        elif "message" in data:
            text = str(data["message"])
    text = " ".join(text.split())
    if len(text) > _MESSAGE_LIMIT:
        text = text[:_MESSAGE_LIMIT] + "…"
    return text or "no message"


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds the server asks us to wait (``Retry-After`` as seconds or an HTTP date)."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = (when - datetime.now(UTC)).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _display_url(url: str) -> str:
    """``url`` without credentials, query or fragment, for messages."""
    parsed = httpx.URL(url)
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{parsed.host}{port}{parsed.path}"


def _redact(text: str, api_key: SecretStr | None) -> str:
    secret = api_key.get_secret_value() if api_key is not None else ""
    return text.replace(secret, "***") if secret else text


class OpenAICompatibleEngine:
    """What every engine on an OpenAI-compatible server holds: the endpoint, the key (kept
    out of messages), the retry policy, and the HTTP client, closed only if it made it."""

    def __init__(
        self,
        base_url: str,
        path: str,
        *,
        role: str,
        api_key: SecretStr | str | None,
        client: httpx.AsyncClient | None,
        timeout_seconds: float,
        retries: int,
        backoff: Backoff | None,
    ) -> None:
        if not base_url:
            raise ConfigurationError(f"the remote {role} engine needs a server URL")
        self.url = base_url.rstrip("/") + path
        self._api_key = SecretStr(api_key) if isinstance(api_key, str) else api_key
        self._owns_client = client is None
        self._client = client if client is not None else httpx.AsyncClient()
        self.timeout_seconds = timeout_seconds
        self.retries = retries
        self.backoff = backoff or Backoff()
        self._service = f"{role} server"

    async def _post(self, **request_kwargs: Any) -> httpx.Response:
        """POST to this engine's endpoint under the shared retry policy."""
        return await post_with_retries(
            self._client,
            self.url,
            retries=self.retries,
            timeout_seconds=self.timeout_seconds,
            api_key=self._api_key,
            backoff=self.backoff,
            service=self._service,
            **request_kwargs,
        )

    async def aclose(self) -> None:
        """Close the HTTP client if this engine created it."""
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()


class OpenAISpeechToText(OpenAICompatibleEngine):
    """:class:`~newspeech.voice.protocols.SpeechToText` on ``POST {base_url}/audio/transcriptions``.

    Confidence comes from the ``avg_logprob`` of the segments a ``verbose_json`` answer
    carries (OpenAI's and faster-whisper servers' do). A server that answers only
    ``{"text": ...}`` gives no log-probabilities, so its transcripts have confidence 0.0 and no
    words: unknown, rather than a made-up number. Word probabilities are 0.0 for the same
    reason whenever the server does not report them.
    """

    def __init__(
        self,
        base_url: str,
        *,
        model: str = "whisper-1",
        api_key: SecretStr | str | None = None,
        client: httpx.AsyncClient | None = None,
        timeout_seconds: float = 30.0,
        retries: int = 3,
        backoff: Backoff | None = None,
        language: str = "en",
    ) -> None:
        super().__init__(
            base_url,
            "/audio/transcriptions",
            role="speech-to-text",
            api_key=api_key,
            client=client,
            timeout_seconds=timeout_seconds,
            retries=retries,
            backoff=backoff,
        )
        self.model = model
        self.language = language

    @classmethod
    def from_settings(
        cls, settings: Settings, *, client: httpx.AsyncClient | None = None
    ) -> OpenAISpeechToText:
        """The server ``NEWSPEECH_SPEECH_API_URL`` names, with the model, key, timeout and
        retries of the ``NEWSPEECH_STT_REMOTE_MODEL`` / ``NEWSPEECH_SPEECH_*`` settings."""
        if not settings.speech_api_url:
            raise ConfigurationError("NEWSPEECH_STT_ENGINE=openai needs NEWSPEECH_SPEECH_API_URL")
        return cls(
            settings.speech_api_url,
            model=settings.stt_remote_model,
            api_key=settings.speech_api_key,
            client=client,
            timeout_seconds=settings.speech_timeout_seconds,
            retries=settings.speech_retries,
        )

    async def transcribe(
        self, pcm: PCM16, *, prompt: str | None = None, hotwords: Sequence[str] = ()
    ) -> Transcript:
        """Send the answer as a WAV upload; silent audio is answered without a request.

        OpenAI's API has no hotwords field; its advice for rare words is to name them in the
        prompt, so the keywords follow the question there. ``decode_seconds`` is the whole
        exchange, retries included.
        """
        check_pcm16(pcm)
        audio_seconds = pcm.size / SAMPLE_RATE
        if is_near_silent(pcm):
            return empty_transcript(audio_seconds)
        fields: dict[str, str | list[str]] = {
            "model": self.model,
            "language": self.language,
            "response_format": "verbose_json",
            # Segments carry avg_logprob (confidence); words carry the timings.
            "timestamp_granularities[]": ["word", "segment"],
        }
        full_prompt = " ".join(
            part.strip() for part in (prompt or "", *hotwords) if part and part.strip()
        )
        if full_prompt:
            fields["prompt"] = full_prompt
        started = time.perf_counter()
        response = await self._post(
            data=fields,
            files={"file": ("answer.wav", encode_wav(pcm, SAMPLE_RATE), "audio/wav")},
        )
        return self._transcript(response, audio_seconds, time.perf_counter() - started)

    def _transcript(
        self, response: httpx.Response, audio_seconds: float, decode_seconds: float
    ) -> Transcript:
        try:
            data: Any = response.json()
        except ValueError as exc:
            raise UpstreamError(
                f"speech-to-text server at {_display_url(self.url)} answered with something "
                f"that is not JSON: {server_message(response.content)}"
            ) from exc
        if not isinstance(data, dict) or not isinstance(data.get("text"), str):
            raise UpstreamError(
                f"speech-to-text server at {_display_url(self.url)} answered without a "
                f"transcript text: {server_message(response.content)}"
            )
        text = data["text"].strip()
        raw_segments = data.get("segments")
        segments = raw_segments if isinstance(raw_segments, list) else []
        confidence = confidence_from_segments(
            (float(segment["avg_logprob"]), len(segment.get("tokens") or ()) or 1)
            for segment in segments
            if isinstance(segment, dict) and isinstance(segment.get("avg_logprob"), int | float)
        )
        return Transcript(
            text=text,
            confidence=confidence if text else 0.0,
            words=_words(data.get("words"), audio_seconds),
            audio_seconds=audio_seconds,
            decode_seconds=decode_seconds,
            language=self.language,
        )


def _words(raw: Any, audio_seconds: float) -> tuple[Word, ...]:
    """verbose_json ``words`` as :class:`Word`, times kept inside the audio."""
    if not isinstance(raw, list):
        return ()
    words = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("word"), str):
            continue
        start, end = float(item.get("start", 0.0)), float(item.get("end", 0.0))
        words.append(
            Word(
                text=item["word"].strip(),
                start=min(max(0.0, start), audio_seconds),
                end=min(max(0.0, end), audio_seconds),
                probability=float(item.get("probability", 0.0)),
            )
        )
    return tuple(words)
