"""Storing an answer's audio, finding it for a listener, and forgetting it after retention.

The live exam writes each answer's PCM to a local spool (newspeech.answers.audio.spool) inside
the transaction that stores the answer, before it commits (:class:`AnswerTake`); after the
commit :class:`AnswerAudioRecorder` encodes and uploads it in the background (the examiner never
waits for it) and records the storage key in a short transaction of its own. The PCM stays in
the spool until both are done, so a store or database outage, or a crash at any point, costs no
recording: it is tried again, and attached at the next start if its answer committed (removed if
it did not). Meanwhile the answer stays, its path stays NULL, and an audit row says why.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import enum
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from newspeech.answers.audio.repository import AnswerAudioRepository, AnswerAudioRow
from newspeech.answers.audio.spool import AudioSpool, SpooledAnswer, take_of
from newspeech.audits.repository import AuditLogRepository
from newspeech.audits.service import record_apart
from newspeech.auth.scope import Scope
from newspeech.db.engine import unit_of_work
from newspeech.db.outage import database_unavailable
from newspeech.errors import NewSpeechError, NotFound
from newspeech.kit.retry import retry_while
from newspeech.models import Answer
from newspeech.storage import AudioStore, ObjectMissing
from newspeech.voice.audio import (
    OPUS_CODEC,
    OPUS_CONTENT_TYPE,
    AudioNotEncoded,
    encode_ogg_opus,
    opus_encoder_problem,
)
from newspeech.voice.pool import PoolClosed

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


async def check_encoder(codec: str = OPUS_CODEC) -> str | None:
    """At start-up: why answer recordings cannot be encoded here (logged once, as an error),
    or ``None`` when they can. Without an encoder the server keeps no recordings (exams go on
    and keep their answers) rather than fail every take one by one."""
    problem = await asyncio.to_thread(opus_encoder_problem, codec)
    if problem is not None:
        logger.error(
            "answer recordings will not be stored: %s. Exams run and keep their answers "
            "without them. Install PyAV with libopus (its wheels include it) and restart; "
            "recordings already in the spool are stored at that start.",
            problem,
        )
    return problem


class _Outcome(enum.Enum):
    STORED = "stored"
    LOST = "lost"
    """It can never be stored (the audio does not encode); audited."""
    PENDING = "pending"
    """The store or the database is away: kept in the spool, tried again."""
    REPLACED = "replaced"
    """The answer no longer holds this take (a newer one committed, or it is gone)."""


@dataclass
class ReconcileReport:
    stored: int = 0
    lost: int = 0
    """Recordings that can never be stored (they do not encode); audited."""
    dropped: int = 0
    """Recordings of answers that no longer exist, or that were stored already."""
    pending: int = 0


class AnswerAudioRecorder:
    """Keeps each answer's recording; one per process, shared by every sitting.

    With a ``spool``, the PCM is on local disk before anything else happens and stays there
    until the recording is stored and its key committed: a store or database outage is tried
    again every ``retry_seconds`` (``retries`` times), and what is left after that or after a
    crash is stored by :meth:`reconcile` at the next start."""

    def __init__(
        self,
        store: AudioStore,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        offload: Offload = _in_thread,
        audit_enabled: bool = True,
        spool: AudioSpool | None = None,
        retry_seconds: float = 30.0,
        retries: int = 10,
    ) -> None:
        self.store = store
        self.spool = spool
        self._sessionmaker = sessionmaker
        self._offload = offload
        self._audit_enabled = audit_enabled
        self._retry_seconds = retry_seconds
        self._retries = retries
        self._tasks: set[asyncio.Task[str | None]] = set()
        self._latest: dict[int, tuple[asyncio.Task[str | None], SpooledAnswer]] = {}
        """Each answer's newest take being stored, and its spool entry."""

    async def spool_take(
        self, answer_id: int, exam_session_id: int, user_id: int, transcript: str | None, pcm: bytes
    ) -> SpooledAnswer:
        """Put a take of the answer on local disk: inside the answer's transaction, after its
        row has an id and *before* it commits, so a crash at any point leaves the recording
        attached to the committed answer or in the spool (where :meth:`reconcile` attaches it
        if the answer committed with ``transcript``, and removes it if not)."""
        entry = SpooledAnswer(answer_id, exam_session_id, user_id, take_of(transcript))
        if self.spool is not None:
            await asyncio.to_thread(self.spool.write, entry, pcm)
        return entry

    async def discard(self, entry: SpooledAnswer) -> None:
        """The take's transaction did not commit: its spooled recording belongs to nothing."""
        await self._unspool(entry)

    def keep(self, entry: SpooledAnswer, pcm: bytes) -> None:
        """Store the committed take's 16 kHz mono PCM16 in the background (it is in the spool
        already: :meth:`spool_take`). Kept again (the candidate went on with the answer), the
        newer take is stored after the older one, so the stored audio is always the whole
        answer."""
        before = self._latest.get(entry.answer_id)
        task = asyncio.create_task(self._after(None if before is None else before[0], entry, pcm))
        self._tasks.add(task)
        self._latest[entry.answer_id] = (task, entry)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(lambda done: self._forget(entry.answer_id, done))

    async def _after(
        self, before: asyncio.Task[str | None] | None, entry: SpooledAnswer, pcm: bytes
    ) -> str | None:
        try:
            if before is not None:
                await asyncio.wait([before])
            _, key = await self._settle(entry, pcm, retries=self._retries)
            return key
        except PoolClosed:
            # Shutting down: the take stays in the spool (no audit row, it is not lost) and
            # reconcile() stores it at the next start.
            logger.warning(
                "answer %s: recording not stored before shutdown (the inference pool is "
                "closed); it stays in the spool and is stored at the next start",
                entry.answer_id,
            )
            return None
        except Exception:  # a background task: nothing awaits it to see the error
            logger.exception("answer %s: recording not stored", entry.answer_id)
            return None

    async def _settle(
        self, entry: SpooledAnswer, pcm: bytes, *, retries: int
    ) -> tuple[_Outcome, str | None]:
        """Store a spooled take and commit its key (``retries`` more tries while the store or
        the database is away), then take it out of the spool unless it must wait: what the
        live exam and :meth:`reconcile` both do."""
        (outcome, key), _ = await retry_while(
            # The outage is audited once, not at each try.
            lambda n: self._store(entry, pcm, audit_failure=n == 1),
            lambda tried: tried[0] is _Outcome.PENDING and not self._superseded(entry),
            attempts=1 + (retries if self.spool is not None else 0),
            delay=lambda _: self._retry_seconds,
        )
        if outcome in (_Outcome.LOST, _Outcome.REPLACED) and not self._superseded(entry):
            await self._drop_orphan(entry)
        if outcome is not _Outcome.PENDING or self._superseded(entry):
            await self._unspool(entry)
        return outcome, key

    async def _drop_orphan(self, entry: SpooledAnswer) -> None:
        """Delete the object under the answer's key unless its row names it: the takes of an
        answer share one key, so when the newest take is not stored (it does not encode, or
        the answer is gone), an older take's object would be left that no row points to and
        the retention purge never finds. Called before the take leaves the spool, so a crash
        in between only repeats it at the next start; no newer take is being stored in this
        process (its task waits for this one), so the row read here is not overtaken."""
        key = audio_key(entry.exam_session_id, entry.answer_id)
        try:
            async with self._sessionmaker() as db:
                row = await AnswerAudioRepository(db).get(entry.answer_id)
            if row is not None and row.exam_session_id == entry.exam_session_id and row.key == key:
                return
            await self.store.delete(key)
        except Exception as exc:
            if not (database_unavailable(exc) or isinstance(exc, NewSpeechError)):
                raise
            logger.warning(
                "answer %s: object %s not checked or deleted: %s", entry.answer_id, key, exc
            )
            return
        logger.info("answer %s: deleted %s, which no answer names", entry.answer_id, key)

    def _superseded(self, entry: SpooledAnswer) -> bool:
        """A newer take of the answer (in a file of its own) is being stored by another task:
        this one's file may go."""
        latest = self._latest.get(entry.answer_id)
        return (
            latest is not None
            and latest[0] is not asyncio.current_task()
            and latest[1].name != entry.name
        )

    def _forget(self, answer_id: int, done: asyncio.Task[str | None]) -> None:
        latest = self._latest.get(answer_id)
        if latest is not None and latest[0] is done:
            del self._latest[answer_id]

    async def drain(self, *, wait_seconds: float | None = None) -> None:
        """Wait for the recordings still being stored (at shutdown; in tests); what is not
        done after ``wait_seconds`` is left in the spool for :meth:`reconcile`."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=wait_seconds)

    async def store_now(
        self, answer_id: int, exam_session_id: int, user_id: int, pcm: bytes
    ) -> str | None:
        """Encode, upload, record the key; the key, or ``None`` when it failed."""
        _, key = await self._store(
            SpooledAnswer(answer_id, exam_session_id, user_id), pcm, audit_failure=True
        )
        return key

    async def reconcile(self) -> ReconcileReport:
        """Store what the spool still holds (left by a crash or an outage) and commit its key;
        drop what belongs to no committed answer (its transaction never committed, or a newer
        take replaced it) or is stored already. At start-up, before any sitting
        runs; with the database away it leaves everything for the next start."""
        report = ReconcileReport()
        if self.spool is None:
            return report
        for entry in await asyncio.to_thread(self.spool.entries):
            try:
                async with self._sessionmaker() as db:
                    row = await AnswerAudioRepository(db).get(entry.answer_id)
            except Exception as exc:
                if not database_unavailable(exc):
                    raise
                logger.warning("answer audio spool: the database is away; left for later")
                report.pending += len(await asyncio.to_thread(self.spool.entries))
                return report
            try:
                await self._reconcile_one(self.spool, entry, row, report)
            except Exception:
                # One entry's surprise must not keep the others from being stored: it stays in
                # the spool for the next start, and the log says why.
                logger.exception(
                    "answer audio spool: answer %s could not be reconciled; left for the next "
                    "start",
                    entry.answer_id,
                )
                report.pending += 1
        if report.stored or report.lost or report.dropped or report.pending:
            logger.info(
                "answer audio spool: %d stored, %d lost, %d dropped, %d still waiting",
                report.stored,
                report.lost,
                report.dropped,
                report.pending,
            )
        return report

    async def _reconcile_one(
        self,
        spool: AudioSpool,
        entry: SpooledAnswer,
        row: AnswerAudioRow | None,
        report: ReconcileReport,
    ) -> None:
        key = audio_key(entry.exam_session_id, entry.answer_id)
        if row is None or not entry.matches(row.exam_session_id, row.transcript):
            logger.info(
                "answer audio spool: answer %s never committed with this take (or a newer "
                "take replaced it); its spooled recording is dropped",
                entry.answer_id,
            )
            await self._drop_orphan(entry)
            await self._unspool(entry)
            report.dropped += 1
            return
        if row.key == key and await self.store.size(key) is not None:
            logger.info(
                "answer audio spool: answer %s is stored already; its spooled recording is dropped",
                entry.answer_id,
            )
            await self._unspool(entry)
            report.dropped += 1
            return
        pcm = await asyncio.to_thread(spool.read, entry)
        outcome, _ = await self._settle(entry, pcm, retries=0)
        report.pending += outcome is _Outcome.PENDING
        report.stored += outcome is _Outcome.STORED
        report.lost += outcome is _Outcome.LOST
        report.dropped += outcome is _Outcome.REPLACED

    async def _unspool(self, entry: SpooledAnswer) -> None:
        if self.spool is not None:
            await asyncio.to_thread(self.spool.remove, entry)

    async def _store(
        self, entry: SpooledAnswer, pcm: bytes, *, audit_failure: bool
    ) -> tuple[_Outcome, str | None]:
        key = audio_key(entry.exam_session_id, entry.answer_id)
        samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2")
        try:
            data = await self._offload(lambda: encode_ogg_opus(samples))
        except AudioNotEncoded as exc:  # the same samples never encode: the recording is lost
            return await self._not_stored(entry, exc, lost=True, audit=audit_failure), None
        try:
            await self.store.put(key, data, CONTENT_TYPE)
        except (NewSpeechError, ValueError, OSError) as exc:
            # The store is away (or refuses) for now: with a spool the take waits there and is
            # tried again; a key the store refuses (ValueError) never becomes acceptable.
            lost = isinstance(exc, ValueError) or self.spool is None
            return await self._not_stored(entry, exc, lost=lost, audit=audit_failure), None
        try:
            async with unit_of_work(self._sessionmaker) as db:
                if not await self._attach(AnswerAudioRepository(db), entry, key):
                    logger.info(
                        "answer %s: a newer take replaced this recording's (or the answer is "
                        "gone); its key is not saved",
                        entry.answer_id,
                    )
                    return _Outcome.REPLACED, None
                await AuditLogRepository(db, enabled=self._audit_enabled).log(
                    "answer.audio_stored",
                    user_id=entry.user_id,
                    session_id=entry.exam_session_id,
                    resource_type="answer",
                    resource_id=entry.answer_id,
                    details={"store": self.store.name, "key": key, "bytes": len(data)},
                )
        except Exception as exc:
            if not database_unavailable(exc):
                raise
            logger.warning(
                "answer %s: recording stored as %s, but the database is away: its key is "
                "saved when it is back%s",
                entry.answer_id,
                key,
                "" if self.spool is not None else " (no spool: it is not)",
            )
            return _Outcome.PENDING, None
        return _Outcome.STORED, key

    async def _not_stored(
        self, entry: SpooledAnswer, exc: Exception, *, lost: bool, audit: bool
    ) -> _Outcome:
        logger.warning(
            "answer %s: audio not stored%s: %s",
            entry.answer_id,
            "" if lost else " (kept in the spool, tried again)",
            exc,
        )
        if audit:
            await self._audit(
                "answer.audio_failed",
                entry,
                {"store": self.store.name, "error": repr(exc)[:500], "retried": not lost},
                status="failure",
            )
        return _Outcome.LOST if lost else _Outcome.PENDING

    @staticmethod
    async def _attach(audio: AnswerAudioRepository, entry: SpooledAnswer, key: str) -> bool:
        """Save the key in the answer's row if the row still holds this take (an answer the
        candidate went on with has a newer one, stored after it under the same key)."""
        row = await audio.get(entry.answer_id)
        if row is None or not entry.matches(row.exam_session_id, row.transcript):
            return False
        return await audio.set_path(entry.answer_id, key, transcript=row.transcript)

    async def _audit(
        self, action: str, entry: SpooledAnswer, details: dict[str, object], *, status: str
    ) -> None:
        await record_apart(
            self._sessionmaker,
            action,
            enabled=self._audit_enabled,
            user_id=entry.user_id,
            exam_session_id=entry.exam_session_id,
            resource_type="answer",
            resource_id=entry.answer_id,
            status=status,
            details=details,
        )


@dataclass(eq=False)
class AnswerTake:
    """One take of an answer's recording, spooled inside the transaction that stores the
    answer: pass :meth:`before_commit` to the write, then call :meth:`committed` or
    :meth:`rolled_back` after it. Written again (a write replayed after an outage), the older
    spool entry goes once the newer one is committed."""

    audio: AnswerAudioRecorder | None
    exam_session_id: int
    user_id: int
    pcm: bytes
    entry: SpooledAnswer | None = None
    _stale: SpooledAnswer | None = None

    async def before_commit(self, answer: Answer) -> None:
        if self.audio is None or not self.pcm:
            return
        entry = await self.audio.spool_take(
            answer.id, self.exam_session_id, self.user_id, answer.transcribed_text, self.pcm
        )
        if self.entry is not None and self.entry.name != entry.name:
            self._stale = self.entry
        self.entry = entry

    async def committed(self) -> None:
        """Store the recording in the background (the reply never waits for it)."""
        if self.audio is None or self.entry is None:
            return
        if self._stale is not None:
            await self.audio.discard(self._stale)
            self._stale = None
        self.audio.keep(self.entry, self.pcm)

    async def rolled_back(self) -> None:
        """The transaction surely did not commit (not an outage, where it may have)."""
        if self.audio is not None and self.entry is not None:
            await self.audio.discard(self.entry)
            self.entry = None


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
