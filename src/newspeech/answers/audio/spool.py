"""Answers' recordings on local disk until they are stored and their key is committed.

The recorder writes each answer's PCM here first and removes it only once the recording is in
the audio store and its key in the answer's row (or it can never be stored: the audio does not
encode). What is still here after a crash, a database outage or a store outage is stored again
by :meth:`AnswerAudioRecorder.reconcile` at start-up: no recording is lost silently and none is
left in the store without its key.

The live exam writes the entry *before* the answer's transaction commits, so a crash at any
point leaves the recording attached to its answer or an entry here; reconciliation attaches the
entry when its answer committed and removes it when it did not.

One file per take of an answer, ``<answer>-<sitting>-<user>-<take>.pcm`` (16 kHz mono PCM16):
what the recorder needs to store it again. ``take`` is a digest of the transcript the take was
stored with (:func:`take_of`), so reconciliation attaches it only to the answer row that
committed with that transcript: not to a row that never committed, nor to the older take of an
answer the candidate went on with, nor (on SQLite, which reuses the id of a rolled-back row) to
another answer that took the same id. Files from before takes, ``<answer>-<sitting>-<user>.pcm``,
are still read (``take`` None: matched by answer and sitting only).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

_NAME = re.compile(r"^(\d+)-(\d+)-(\d+)(?:-([0-9a-f]{16}))?\.pcm$")


def take_of(transcript: str | None) -> str:
    """The digest naming a take: its transcript's, as stored in the answer's row."""
    return hashlib.sha256((transcript or "").encode()).hexdigest()[:16]


@dataclass(frozen=True)
class SpooledAnswer:
    answer_id: int
    exam_session_id: int
    user_id: int
    take: str | None = None
    """:func:`take_of` the transcript committed with this recording (None: an older file)."""

    @property
    def name(self) -> str:
        take = "" if self.take is None else f"-{self.take}"
        return f"{self.answer_id}-{self.exam_session_id}-{self.user_id}{take}.pcm"

    def matches(self, exam_session_id: int, transcript: str | None) -> bool:
        """The committed row (its sitting and transcript) is the one this take belongs to."""
        return self.exam_session_id == exam_session_id and (
            self.take is None or self.take == take_of(transcript)
        )


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
                answer, sitting, user, take = match.groups()
                found.append(SpooledAnswer(int(answer), int(sitting), int(user), take))
        return sorted(found, key=lambda entry: entry.answer_id)
