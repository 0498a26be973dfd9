"""Text-to-speech through an OpenAI-compatible server (``POST {base_url}/audio/speech``).

Any server speaking OpenAI's audio API works: a cloud API, vLLM, a Kokoro or Piper server.
Each clause is one request for raw PCM (``response_format: "pcm"``, 24 kHz 16-bit mono in
OpenAI's API), and the response body is streamed out as it arrives, in chunks of at most
:data:`~newspeech.voice.tts.CHUNK_SECONDS`. The retry policy and error wording are those of
:func:`newspeech.voice.remote.post_with_retries`, shared with speech-to-text.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing

import httpx
from pydantic import SecretStr

from newspeech.errors import ConfigurationError, UpstreamError
from newspeech.voice.protocols import AudioChunk
from newspeech.voice.remote import Backoff, OpenAICompatibleEngine
from newspeech.voice.settings import RemoteSpeechSettings
from newspeech.voice.spoken import spoken_clauses
from newspeech.voice.tts import CHUNK_SECONDS

OPENAI_PCM_SAMPLE_RATE = 24_000
"""The rate of OpenAI's ``pcm`` response format."""


class OpenAITextToSpeech(OpenAICompatibleEngine):
    """:class:`~newspeech.voice.protocols.TextToSpeech` on ``POST {base_url}/audio/speech``.

    Retries follow :func:`~newspeech.voice.remote.post_with_retries`: a clause whose request
    fails before its first audio byte (connection errors, timeouts, 408/429/5xx) is tried
    again; a failure after audio has been handed out is not, since that would repeat what was
    already said.
    """

    def __init__(
        self,
        base_url: str,
        *,
        model: str = "tts-1",
        voice: str = "alloy",
        api_key: SecretStr | str | None = None,
        client: httpx.AsyncClient | None = None,
        sample_rate: int = OPENAI_PCM_SAMPLE_RATE,
        timeout_seconds: float = 30.0,
        retries: int = 3,
        backoff: Backoff | None = None,
    ) -> None:
        if sample_rate <= 0:
            raise ConfigurationError(f"sample rate must be positive, got {sample_rate}")
        super().__init__(
            base_url,
            "/audio/speech",
            role="text-to-speech",
            api_key=api_key,
            client=client,
            timeout_seconds=timeout_seconds,
            retries=retries,
            backoff=backoff,
        )
        parsed = httpx.URL(self.url)
        port = f":{parsed.port}" if parsed.port else ""
        # For messages: no credentials, query or fragment.
        self._where = f"text-to-speech server at {parsed.scheme}://{parsed.host}{port}{parsed.path}"
        self.model = model
        self.voice = voice
        self.sample_rate = sample_rate

    @classmethod
    def from_settings(
        cls, settings: RemoteSpeechSettings, *, client: httpx.AsyncClient | None = None
    ) -> OpenAITextToSpeech:
        """The server ``NEWSPEECH_SPEECH_API_URL`` names, with the model, voice, key, timeout
        and retries of the ``NEWSPEECH_TTS_REMOTE_*`` / ``NEWSPEECH_SPEECH_*`` settings."""
        if not settings.speech_api_url:
            raise ConfigurationError("NEWSPEECH_TTS_ENGINE=openai needs NEWSPEECH_SPEECH_API_URL")
        return cls(
            settings.speech_api_url,
            model=settings.tts_remote_model,
            voice=settings.tts_remote_voice,
            api_key=settings.speech_api_key,
            client=client,
            timeout_seconds=settings.speech_timeout_seconds,
            retries=settings.speech_retries,
        )

    def stream(self, text: str) -> AsyncGenerator[AudioChunk, None]:
        """Speak ``text`` clause by clause as chunks of at most CHUNK_SECONDS, each clause's
        audio handed on as its response body arrives.

        Closing the iterator (or cancelling its consumer) closes the open response: the
        server sees the connection go and no later clause is requested.
        """
        return self._stream(spoken_clauses(text))

    async def _stream(self, clauses: Sequence[str]) -> AsyncGenerator[AudioChunk, None]:
        step = max(1, int(self.sample_rate * CHUNK_SECONDS)) * 2
        for clause in clauses:
            pending = bytearray()
            # aclosing: closing this generator must close the open response now, not
            # whenever the inner generator is garbage-collected.
            async with aclosing(self._clause_bytes(clause)) as pieces:
                async for piece in pieces:
                    pending += piece
                    while len(pending) >= step:
                        chunk = bytes(pending[:step])
                        del pending[:step]
                        yield AudioChunk(chunk, self.sample_rate)
            usable = len(pending) - len(pending) % 2
            if usable:
                yield AudioChunk(bytes(pending[:usable]), self.sample_rate)

    async def _clause_bytes(self, clause: str) -> AsyncGenerator[bytes, None]:
        """The raw PCM of one clause, as the server sends it."""
        response = await self._post(
            stream=True,
            json={
                "model": self.model,
                "voice": self.voice,
                "input": clause,
                "response_format": "pcm",
            },
        )
        try:
            async for piece in response.aiter_bytes():
                yield piece
        except httpx.HTTPError as exc:
            # Not retried: some of this clause may already have been handed out.
            raise UpstreamError(
                f"{self._where} failed while streaming audio ({type(exc).__name__})"
            ) from exc
        finally:
            await response.aclose()
