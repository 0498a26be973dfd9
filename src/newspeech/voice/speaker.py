"""The examiner's mouth: utterances to small audio chunks, from a phrase cache when possible.

Questions, case presentations and fixed phrases recur across every exam in the process, so
their audio is synthesised once and kept in a bounded LRU cache; everything else streams from
the TTS engine clause by clause. Pacing the chunks in real time is the session loop's job.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator

from newspeech.errors import NewSpeechError
from newspeech.voice.conversation import Utterance
from newspeech.voice.protocols import AudioChunk, TextToSpeech
from newspeech.voice.tts import slice_pcm

logger = logging.getLogger(__name__)


class PhraseCache:
    """Synthesised audio of cacheable utterances, per process, least recently used out first.

    Bounded by entries and by total bytes (a 10 s question at 22 kHz is about 440 kB).
    """

    def __init__(self, max_entries: int = 256, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, bytes] = OrderedDict()
        self._bytes = 0
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, text: str) -> bytes | None:
        pcm = self._entries.get(text)
        if pcm is None:
            self.misses += 1
            return None
        self._entries.move_to_end(text)
        self.hits += 1
        return pcm

    def put(self, text: str, pcm: bytes) -> None:
        if self.max_entries == 0 or len(pcm) > self.max_bytes:
            return
        old = self._entries.pop(text, None)
        if old is not None:
            self._bytes -= len(old)
        self._entries[text] = pcm
        self._bytes += len(pcm)
        while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self._bytes -= len(evicted)


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
