"""Answers' recordings on local disk until they are stored and their key is committed.

The recorder writes each answer's PCM here first and removes it only once the recording is in
the audio store and its key in the answer's row (or it can never be stored: the audio does not
encode). What is still here after a crash, a database outage or a store outage is stored again
by :meth:`AnswerAudioRecorder.reconcile` at start-up: no recording is lost silently and none is
left in the store without its key.

One file per answer, ``<answer>-<sitting>-<user>.pcm`` (16 kHz mono PCM16): what the recorder
needs to store it again. A newer take of the same answer replaces the older file.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

_NAME = re.compile(r"^(\d+)-(\d+)-(\d+)\.pcm$")


@dataclass(frozen=True)
class SpooledAnswer:
    answer_id: int
    exam_session_id: int
    user_id: int

    @property
    def name(self) -> str:
        return f"{self.answer_id}-{self.exam_session_id}-{self.user_id}.pcm"


class AudioSpool:
    """A folder of recordings not yet safely stored. Blocking file calls: run in a thread."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def write(self, entry: SpooledAnswer, pcm: bytes) -> None:
        """Keep ``pcm`` for ``entry`` (atomically: a crash leaves the old file or the new)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        partial = self.folder / f".{entry.name}.partial"
        with partial.open("wb") as file:
            file.write(pcm)
            file.flush()
            os.fsync(file.fileno())
        partial.replace(self.folder / entry.name)

    def read(self, entry: SpooledAnswer) -> bytes:
        return (self.folder / entry.name).read_bytes()

    def remove(self, entry: SpooledAnswer) -> None:
        (self.folder / entry.name).unlink(missing_ok=True)

    def entries(self) -> list[SpooledAnswer]:
        """Every recording waiting, oldest answer first; stray files are left alone."""
        if not self.folder.is_dir():
            return []
        found = []
        for path in self.folder.iterdir():
            if match := _NAME.match(path.name):
                found.append(SpooledAnswer(*(int(part) for part in match.groups())))
        return sorted(found, key=lambda entry: entry.answer_id)
