"""Storing an answer's audio, finding it for a listener, and forgetting it after retention.

The live exam hands each stored answer's PCM to :class:`AnswerAudioRecorder`, which encodes and
uploads it in the background (the examiner never waits for it) and then records the storage key
in a short transaction of its own. A storage failure costs only the recording: the answer stays,
its path stays NULL, and an audit row says why.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from newspeech.answers.audio.repository import AnswerAudioRepository, AnswerAudioRow
from newspeech.audits.repository import AuditLogRepository
from newspeech.auth.scope import Scope
from newspeech.db.engine import unit_of_work
from newspeech.errors import NewSpeechError, NotFound
from newspeech.storage import AudioStore, ObjectMissing
from newspeech.voice.audio import OPUS_CONTENT_TYPE, encode_ogg_opus

logger = logging.getLogger(__name__)

CONTENT_TYPE = OPUS_CONTENT_TYPE
Offload = Callable[[Callable[[], bytes]], Awaitable[bytes]]
"""Runs a CPU-bound call off the event loop (the inference pool, or a thread)."""


class AudioNotFound(NotFound):
    """The answer exists and may be heard, but has no recording (none kept, or purged)."""

    code = "audio_not_found"


def audio_key(exam_session_id: int, answer_id: int) -> str:
    return f"session-{exam_session_id}/answer-{answer_id}.ogg"


def audio_url(answer_id: int) -> str:
    return f"/api/v1/answers/{answer_id}/audio"


async def _in_thread(call: Callable[[], bytes]) -> bytes:
    return await asyncio.to_thread(call)


class AnswerAudioRecorder:
    """Keeps each answer's recording; one per process, shared by every sitting."""

    def __init__(
        self,
        store: AudioStore,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        offload: Offload = _in_thread,
        audit_enabled: bool = True,
    ) -> None:
        self.store = store
        self._sessionmaker = sessionmaker
        self._offload = offload
        self._audit_enabled = audit_enabled
        self._tasks: set[asyncio.Task[str | None]] = set()
        self._latest: dict[int, asyncio.Task[str | None]] = {}

    def keep(self, answer_id: int, exam_session_id: int, user_id: int, pcm: bytes) -> None:
        """Store the answer's 16 kHz mono PCM16 in the background. Kept again (the candidate
        went on with the answer), the newer recording is stored after the older one, so the
        stored audio is always the whole answer."""
        before = self._latest.get(answer_id)
        task = asyncio.create_task(self._after(before, answer_id, exam_session_id, user_id, pcm))
        self._tasks.add(task)
        self._latest[answer_id] = task
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(lambda done: self._forget(answer_id, done))

    async def _after(
        self,
        before: asyncio.Task[str | None] | None,
        answer_id: int,
        exam_session_id: int,
        user_id: int,
        pcm: bytes,
    ) -> str | None:
        if before is not None:
            await asyncio.wait([before])
        return await self.store_now(answer_id, exam_session_id, user_id, pcm)

    def _forget(self, answer_id: int, done: asyncio.Task[str | None]) -> None:
        if self._latest.get(answer_id) is done:
            del self._latest[answer_id]

    async def drain(self, *, wait_seconds: float | None = None) -> None:
        """Wait for the recordings still being stored (at shutdown; in tests); what is not
        done after ``wait_seconds`` goes on (and is lost if the process stops)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=wait_seconds)

    async def store_now(
        self, answer_id: int, exam_session_id: int, user_id: int, pcm: bytes
    ) -> str | None:
        """Encode, upload, record the key; the key, or ``None`` when it failed."""
        key = audio_key(exam_session_id, answer_id)
        samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2")
        try:
            data = await self._offload(lambda: encode_ogg_opus(samples))
            await self.store.put(key, data, CONTENT_TYPE)
        except (NewSpeechError, ValueError, OSError) as exc:  # av.FFmpegError is an OSError
            logger.warning("answer %s: audio not stored: %s", answer_id, exc)
            await self._audit(
                "answer.audio_failed",
                answer_id,
                exam_session_id,
                user_id,
                {"store": self.store.name, "error": repr(exc)[:500]},
                status="failure",
            )
            return None
        async with unit_of_work(self._sessionmaker) as db:
            await AnswerAudioRepository(db).set_path(answer_id, key)
            await AuditLogRepository(db, enabled=self._audit_enabled).log(
                "answer.audio_stored",
                user_id=user_id,
                session_id=exam_session_id,
                resource_type="answer",
                resource_id=answer_id,
                details={"store": self.store.name, "key": key, "bytes": len(data)},
            )
        return key

    async def _audit(
        self,
        action: str,
        answer_id: int,
        exam_session_id: int,
        user_id: int,
        details: dict[str, object],
        *,
        status: str,
    ) -> None:
        try:
            async with unit_of_work(self._sessionmaker) as db:
                await AuditLogRepository(db, enabled=self._audit_enabled).log(
                    action,
                    user_id=user_id,
                    session_id=exam_session_id,
                    resource_type="answer",
                    resource_id=answer_id,
                    status=status,
                    details=details,
                )
        except Exception:  # the audit must not turn a lost recording into a crashed exam
            logger.exception("answer %s: could not audit %s", answer_id, action)


async def audio_key_for(db: AsyncSession, scope: Scope, answer_id: int) -> str:
    """The storage key of an answer's audio the caller may hear. Out of scope reads as absent."""
    row = await AnswerAudioRepository(db).get(answer_id)
    if row is None:
        raise NotFound(f"answer {answer_id} does not exist")
    scope.require(row.college_type, row.owner_id, f"answer {answer_id}")
    if row.key is None:
        raise AudioNotFound(f"answer {answer_id} has no stored audio (none kept, or purged)")
    return row.key


async def audio_size(store: AudioStore, answer_id: int, key: str) -> int:
    size = await store.size(key)
    if size is None:
        raise AudioNotFound(f"the audio of answer {answer_id} is no longer stored")
    return size


@dataclass
class PurgeReport:
    retention_days: int
    cutoff: dt.datetime
    dry_run: bool
    purged: list[AnswerAudioRow] = field(default_factory=list)
    failed: list[tuple[AnswerAudioRow, str]] = field(default_factory=list)

    def summary(self) -> str:
        verb = "would delete" if self.dry_run else "deleted"
        text = (
            f"{verb} the audio of {len(self.purged)} answers created before "
            f"{self.cutoff:%Y-%m-%d %H:%M} UTC (retention {self.retention_days} days)"
        )
        return text + (f"; {len(self.failed)} failed" if self.failed else "")


async def purge_expired_audio(
    sessionmaker: async_sessionmaker[AsyncSession],
    store: AudioStore,
    *,
    retention_days: int,
    now: dt.datetime,
    dry_run: bool = False,
    audit_enabled: bool = True,
    batch: int = 500,
) -> PurgeReport:
    """Delete the audio of answers older than ``retention_days`` and clear their paths, a batch
    per transaction with one audit row each. ``retention_days`` 0 keeps everything."""
    report = PurgeReport(retention_days, now - dt.timedelta(days=retention_days), dry_run)
    if retention_days <= 0:
        return report
    after_id = 0
    while True:
        async with unit_of_work(sessionmaker) as db:
            rows = await AnswerAudioRepository(db).stored_before(
                report.cutoff, after_id=after_id, limit=batch
            )
        if not rows:
            return report
        after_id = rows[-1].answer_id
        if dry_run:
            report.purged.extend(rows)
            continue
        deleted = await _delete_objects(store, rows, report)
        async with unit_of_work(sessionmaker) as db:
            await AnswerAudioRepository(db).clear_paths([r.answer_id for r in deleted])
            await AuditLogRepository(db, enabled=audit_enabled).log(
                "answer.audio_purged",
                status="success" if len(deleted) == len(rows) else "partial",
                details={
                    "store": store.name,
                    "retention_days": retention_days,
                    "cutoff": report.cutoff.isoformat(),
                    "answer_ids": [r.answer_id for r in deleted],
                    "failed_answer_ids": [r.answer_id for r in rows if r not in deleted],
                },
            )


async def _delete_objects(
    store: AudioStore, rows: list[AnswerAudioRow], report: PurgeReport
) -> list[AnswerAudioRow]:
    deleted = []
    for row in rows:
        assert row.key is not None
        try:
            await store.delete(row.key)
        except ObjectMissing:
            pass  # already gone: clearing the path is all that is left
        except (NewSpeechError, ValueError) as exc:
            report.failed.append((row, str(exc)))
            logger.warning("answer %s: audio not purged: %s", row.answer_id, exc)
            continue
        deleted.append(row)
    report.purged.extend(deleted)
    return deleted
