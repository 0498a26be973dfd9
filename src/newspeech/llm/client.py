"""Chat completions on an OpenAI-compatible server: vLLM, Ollama, llama.cpp server, a cloud API.

:class:`OpenAIChatClient` speaks ``POST {base_url}/chat/completions`` with httpx, under the
shared retry policy of :mod:`newspeech.kit.http_retry` (connection errors, timeouts, 408, 429
and 5xx are retried with jittered exponential back-off; other failures raise at once). Every
failure is an :class:`~newspeech.errors.UpstreamError` whose message names the server and its
own explanation, never the API key.

Structured output: with a JSON schema the request asks for ``response_format`` ``json_schema``
(OpenAI, vLLM, recent Ollama and llama.cpp). Servers that answer 400 to it are asked again once
with ``json_object`` (the older, widely supported mode), and the client remembers that. Either
way the caller validates what comes back: a server may ignore the format.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import httpx
from pydantic import SecretStr

from newspeech.errors import ConfigurationError, UpstreamError
from newspeech.kit.http_retry import (
    Backoff,
    HttpClientUser,
    display_url,
    post_with_retries,
    server_message,
)

Role = Literal["system", "user", "assistant"]
ResponseFormat = Literal["json_schema", "json_object"]


@dataclass(frozen=True)
class ChatMessage:
    role: Role
    content: str


@dataclass(frozen=True)
class ChatCompletion:
    content: str
    model: str
    finish_reason: str | None = None
    usage: dict[str, Any] = field(default_factory=dict)


class LLMClient(Protocol):
    """A chat model behind some API. ``json_schema`` asks for JSON output of that shape."""

    model: str

    async def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        json_schema: Mapping[str, Any] | None = None,
        schema_name: str = "result",
        temperature: float = 0.0,
        max_tokens: int | None = None,
    ) -> ChatCompletion: ...

    async def aclose(self) -> None: ...


class OpenAIChatClient(HttpClientUser):
    """:class:`LLMClient` over an OpenAI-compatible ``/chat/completions`` endpoint."""

    def __init__(
        self,
        base_url: str,
        *,
        model: str,
        api_key: SecretStr | str | None = None,
        client: httpx.AsyncClient | None = None,
        timeout_seconds: float = 20.0,
        retries: int = 2,
        backoff: Backoff | None = None,
        response_format: ResponseFormat = "json_schema",
    ) -> None:
        if not base_url:
            raise ConfigurationError("the LLM client needs a server URL (NEWSPEECH_LLM_API_URL)")
        if timeout_seconds <= 0 or retries < 0:
            raise ConfigurationError("LLM timeout must be positive and retries 0 or more")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self._api_key = SecretStr(api_key) if isinstance(api_key, str) else api_key
        super().__init__(client)
        self.timeout_seconds = timeout_seconds
        self.retries = retries
        self.backoff = backoff or Backoff(max_seconds=4.0)
        self.response_format: ResponseFormat = response_format

    async def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        json_schema: Mapping[str, Any] | None = None,
        schema_name: str = "result",
        temperature: float = 0.0,
        max_tokens: int | None = None,
    ) -> ChatCompletion:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "temperature": temperature,
        }
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
        if json_schema is None:
            return self._completion(await self._post(body))
        if self.response_format == "json_schema":
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": schema_name, "schema": dict(json_schema), "strict": True},
            }
            try:
                return self._completion(await self._post(body))
            except UpstreamError as exc:
                if " 400" not in exc.detail or "response_format" not in exc.detail.lower():
                    raise
                self.response_format = "json_object"
        body["response_format"] = {"type": "json_object"}
        return self._completion(await self._post(body))

    async def _post(self, body: dict[str, Any]) -> httpx.Response:
        return await post_with_retries(
            self._client,
            self.url,
            retries=self.retries,
            timeout_seconds=self.timeout_seconds,
            api_key=self._api_key,
            backoff=self.backoff,
            service="LLM server",
            key_setting="NEWSPEECH_LLM_API_KEY",
            json=body,
        )

    def _completion(self, response: httpx.Response) -> ChatCompletion:
        where = f"LLM server at {display_url(self.url)}"
        try:
            data: Any = response.json()
        except ValueError as exc:
            raise UpstreamError(
                f"{where} answered with something that is not JSON: "
                f"{server_message(response.content)}"
            ) from exc
        try:
            choice = data["choices"][0]
            content = choice["message"]["content"]
        except (KeyError, IndexError, TypeError) as exc:
            raise UpstreamError(
                f"{where} answered without a message: {server_message(response.content)}"
            ) from exc
        if not isinstance(content, str):
            refusal = choice["message"].get("refusal") if isinstance(choice, dict) else None
            raise UpstreamError(f"{where} answered with no text content (refusal: {refusal!r})")
        usage = data.get("usage")
        return ChatCompletion(
            content=content,
            model=str(data.get("model") or self.model),
            finish_reason=choice.get("finish_reason"),
            usage=usage if isinstance(usage, dict) else {},
        )


def parse_json_object(content: str) -> dict[str, Any]:
    """The JSON object in a model's reply; tolerates a Markdown code fence around it."""
    text = content.strip()
    if text.startswith("```"):
        text = text.strip("`")
        text = text.removeprefix("json").strip()
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError("the reply is JSON but not an object")
    return value
