"""POST to an HTTP service with retries on transient failures, and word its failures.

Shared by every client of an OpenAI-compatible server (speech engines, the LLM client).
:func:`post_with_retries` is the one place that decides what is worth retrying and how an
upstream failure is worded; it never lets the API key into a message.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

import httpx
from pydantic import SecretStr

from newspeech.errors import UpstreamError


class HttpClientUser:
    """A client of a remote service over an ``httpx.AsyncClient``: one handed in (shared, e.g.
    the app's) is left open; one it had to make is closed with it (``aclose`` or ``async
    with``)."""

    def __init__(self, client: httpx.AsyncClient | None) -> None:
        self._owns_client = client is None
        self._client = client if client is not None else httpx.AsyncClient()

    async def aclose(self) -> None:
        """Close the HTTP client if this object created it."""
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
    key_setting: str = "NEWSPEECH_SPEECH_API_KEY",
    stream: bool = False,
    rng: random.Random | None = None,
    **request_kwargs: Any,
) -> httpx.Response:
    """POST to ``url`` and return its 2xx response, retrying transient failures.

    Connection errors, timeouts, 408, 429 (after the server's ``Retry-After`` when it sends
    one) and 5xx are tried again up to ``retries`` times; any other answer fails at once.
    Failures raise :class:`UpstreamError` naming the status and the server's own message;
    ``retryable`` says whether trying again later could help. ``api_key`` goes in the
    ``Authorization`` header only and is masked if a server echoes it; a 401/403 names
    ``key_setting``, the setting to check.

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
    attempt = _Attempt(client, url, headers, timeout_seconds, stream, service, api_key, key_setting)
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
    key_setting: str

    async def send(self, request_kwargs: dict[str, Any]) -> httpx.Response | _Failure:
        where = f"{self.service} at {display_url(self.url)}"
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
        hint = f" (check {self.key_setting})" if status in (401, 403) else ""
        message = (
            f"{where} answered HTTP {status}{hint}: {redact(server_message(body), self.api_key)}"
        )
        return _Failure(
            UpstreamError(message, retryable=is_retryable_status(status)),
            wait=_retry_after(response),
        )

    def _detail(self, exc: Exception) -> str:
        return redact(str(exc), self.api_key) or type(exc).__name__


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


def display_url(url: str) -> str:
    """``url`` without credentials, query or fragment, for messages."""
    parsed = httpx.URL(url)
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{parsed.host}{port}{parsed.path}"


def redact(text: str, api_key: SecretStr | None) -> str:
    secret = api_key.get_secret_value() if api_key is not None else ""
    return text.replace(secret, "***") if secret else text
