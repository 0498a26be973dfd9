"""A bounded least-recently-used cache of synthesised audio, keyed by the text spoken.

The speaker keeps whole cacheable utterances in one (questions, case presentations, fixed
phrases); the Piper voice keeps single clauses in another, so a clause every student hears
(a question's model-answer summary in the feedback, "Partly right.") is synthesised once per
process, whatever utterance it comes in.
"""

from __future__ import annotations

from collections import OrderedDict


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
