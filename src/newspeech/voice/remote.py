"""Speech engines on an OpenAI-compatible server.

Any server speaking OpenAI's audio API works: a cloud API, faster-whisper or vLLM servers,
llama.cpp. The retry policy they share lives in :mod:`newspeech.kit.http_retry` (the LLM client
uses it too); its names are re-exported here for the speech engines' callers.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import httpx
from pydantic import SecretStr

from newspeech.errors import ConfigurationError, UpstreamError
from newspeech.kit.http_retry import (
    Backoff,
    HttpClientUser,
    display_url,
    is_retryable_status,
    post_with_retries,
    server_message,
)
from newspeech.voice.audio import encode_wav
from newspeech.voice.protocols import PCM16, SAMPLE_RATE, Transcript, Word
from newspeech.voice.settings import RemoteSpeechSettings
from newspeech.voice.transcripts import (
    check_pcm16,
    confidence_from_segments,
    empty_transcript,
    is_near_silent,
)

__all__ = [
    "Backoff",
    "OpenAICompatibleEngine",
    "OpenAISpeechToText",
    "is_retryable_status",
    "post_with_retries",
    "server_message",
]


class OpenAICompatibleEngine(HttpClientUser):
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
        super().__init__(client)
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
        cls, settings: RemoteSpeechSettings, *, client: httpx.AsyncClient | None = None
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
        self,
        pcm: PCM16,
        *,
        prompt: str | None = None,
        hotwords: Sequence[str] = (),
        language: str | None = None,
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
            "language": language or self.language,
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
        return self._transcript(
            response, audio_seconds, time.perf_counter() - started, language or self.language
        )

    def _transcript(
        self, response: httpx.Response, audio_seconds: float, decode_seconds: float, language: str
    ) -> Transcript:
        try:
            data: Any = response.json()
        except ValueError as exc:
            raise UpstreamError(
                f"speech-to-text server at {display_url(self.url)} answered with something "
                f"that is not JSON: {server_message(response.content)}"
            ) from exc
        if not isinstance(data, dict) or not isinstance(data.get("text"), str):
            raise UpstreamError(
                f"speech-to-text server at {display_url(self.url)} answered without a "
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
            language=language,
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
