"""The examiner's mouth: utterances to small audio chunks, from a phrase cache when possible.

Questions, case presentations and fixed phrases recur across every exam in the process, so
their audio is synthesised once and kept in a bounded LRU cache; everything else streams from
the TTS engine clause by clause. Pacing the chunks in real time is the session loop's job.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, AsyncIterator

from newspeech.errors import NewSpeechError
from newspeech.voice.conversation import Utterance
from newspeech.voice.phrase_cache import PhraseCache
from newspeech.voice.protocols import AudioChunk, TextToSpeech
from newspeech.voice.tts import slice_pcm

logger = logging.getLogger(__name__)


class Speaker:
    """Speaks utterances with the main voice (the fallback voice if the main one fails before
    its first chunk), caching the audio of cacheable ones."""

    def __init__(
        self,
        tts: TextToSpeech,
        cache: PhraseCache,
        fallback: TextToSpeech | None = None,
    ) -> None:
        self.tts = tts
        self.cache = cache
        # A fallback voice at another sample rate would contradict the rate announced at start.
        self._fallback = fallback if fallback and fallback.sample_rate == tts.sample_rate else None
        self.sample_rate = tts.sample_rate

    async def chunks(self, utterance: Utterance) -> AsyncGenerator[AudioChunk, None]:
        """The utterance's audio, at most 40 ms a chunk. Closing the iterator stops synthesis."""
        if utterance.cacheable:
            cached = self.cache.get(utterance.text)
            if cached is not None:
                for chunk in slice_pcm(cached, self.sample_rate):
                    yield chunk
                return
        spoken: list[bytes] = []
        async for chunk in self._synthesise(utterance.text):
            spoken.append(chunk.pcm)
            yield chunk
        if utterance.cacheable:
            # Only reached when the whole utterance was synthesised (not cut by a barge-in).
            self.cache.put(utterance.text, b"".join(spoken))

    async def _synthesise(self, text: str) -> AsyncIterator[AudioChunk]:
        started = False
        try:
            async for chunk in self.tts.stream(text):
                started = True
                yield chunk
        except NewSpeechError:
            if started or self._fallback is None:
                raise
            logger.warning("main voice failed; speaking with the fallback voice", exc_info=True)
            async for chunk in self._fallback.stream(text):
                yield chunk

    async def prepare(self, utterance: Utterance) -> None:
        """Synthesise a cacheable utterance now so it plays without waiting later."""
        if utterance.cacheable and self.cache.get(utterance.text) is None:
            async for _ in self.chunks(utterance):
                pass
