"""The examiner's mouth: utterances to small audio chunks, from a phrase cache when possible.

Questions, case presentations and fixed phrases recur across every exam in the process, so
their audio is synthesised once and kept in a bounded LRU cache, and (with a
:class:`~newspeech.voice.phrase_store.PhraseStore`) on disk for every process and restart;
everything else streams from the TTS engine clause by clause. Pacing the chunks in real time
is the session loop's job.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, AsyncIterator

from newspeech.errors import NewSpeechError
from newspeech.voice.conversation import Utterance
from newspeech.voice.phrase_cache import PhraseCache
from newspeech.voice.phrase_store import PhraseStore
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
        store: PhraseStore | None = None,
    ) -> None:
        self.tts = tts
        self.cache = cache
        self.store = store if store is not None and store.sample_rate == tts.sample_rate else None
        # A fallback voice at another sample rate would contradict the rate announced at start.
        self._fallback = fallback if fallback and fallback.sample_rate == tts.sample_rate else None
        self.sample_rate = tts.sample_rate

    async def chunks(self, utterance: Utterance) -> AsyncGenerator[AudioChunk, None]:
        """The utterance's audio, at most 40 ms a chunk. Closing the iterator stops synthesis."""
        if utterance.cacheable:
            cached = await self._cached(utterance.text)
            if cached is not None:
                for chunk in slice_pcm(cached, self.sample_rate):
                    yield chunk
                return
        async for chunk in self._synthesise_and_keep(utterance):
            yield chunk

    async def _synthesise_and_keep(self, utterance: Utterance) -> AsyncIterator[AudioChunk]:
        """Synthesise the utterance; a cacheable one spoken whole is kept in memory and on disk."""
        spoken: list[bytes] = []
        voices: list[TextToSpeech] = []
        async for chunk in self._synthesise(utterance.text, voices):
            spoken.append(chunk.pcm)
            yield chunk
        if utterance.cacheable:
            # Only reached when the whole utterance was synthesised (not cut by a barge-in).
            pcm = b"".join(spoken)
            self.cache.put(utterance.text, pcm)
            if self.store is not None and voices == [self.tts]:  # not the fallback voice's
                await self.store.put(utterance.text, pcm)

    async def _cached(self, text: str) -> bytes | None:
        cached = self.cache.get(text)
        if cached is None and self.store is not None:
            cached = await self.store.get(text)
            if cached is not None:
                self.cache.put(text, cached)
        return cached

    async def _synthesise(self, text: str, voices: list[TextToSpeech]) -> AsyncIterator[AudioChunk]:
        """The main voice's audio, or the fallback's if the main one fails before its first
        chunk; ``voices`` gets the voice that spoke."""
        started = False
        try:
            voices.append(self.tts)
            async for chunk in self.tts.stream(text):
                started = True
                yield chunk
        except NewSpeechError:
            if started or self._fallback is None:
                raise
            logger.warning("main voice failed; speaking with the fallback voice", exc_info=True)
            voices[:] = [self._fallback]
            async for chunk in self._fallback.stream(text):
                yield chunk

    async def prepare(self, utterance: Utterance) -> bool:
        """Synthesise a cacheable utterance now so it plays without waiting later; whether it
        had to be synthesised (False when memory or the disk store already held it)."""
        if not utterance.cacheable or await self._cached(utterance.text) is not None:
            return False
        async for _ in self._synthesise_and_keep(utterance):
            pass
        return True
