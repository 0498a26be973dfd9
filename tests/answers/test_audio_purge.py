"""Retention: answer audio older than NEWSPEECH_AUDIO_RETENTION_DAYS is deleted from the store
and its path cleared, with an audit row; a dry run only lists it. On every database backend."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from newspeech.answers.audio.jobs import purge_daily
from newspeech.answers.audio.service import CONTENT_TYPE, audio_key, purge_expired_audio
from newspeech.models import Answer, AuditLog
from newspeech.storage.local import LocalAudioStore
from tests.fixtures.factories import answer_and_evaluate, make_questions, make_session

NOW = dt.datetime(2026, 11, 27, 8, 0, tzinfo=dt.UTC)


async def answers_with_audio(
    db: AsyncSession, store: LocalAudioStore, ages_in_days: list[int]
) -> list[int]:
    """One answer per age, each with a stored recording, created that many days before NOW."""
    exam_session = await make_session(db)
    questions = await make_questions(db, "medical")
    ids = []
    for number, age in enumerate(ages_in_days, start=1):
        answer, _ = await answer_and_evaluate(db, exam_session, questions[number - 1], number, 5)
        key = audio_key(exam_session.id, answer.id)
        await store.put(key, b"OggS recording", CONTENT_TYPE)
        await db.execute(
            update(Answer)
            .where(Answer.id == answer.id)
            .values(answer_audio_path=key, created_at=NOW - dt.timedelta(days=age, hours=1))
        )
        ids.append(answer.id)
    await db.commit()
    return ids


async def paths(db: AsyncSession, ids: list[int]) -> list[str | None]:
    await db.commit()  # a fresh snapshot (MariaDB's REPEATABLE READ)
    rows = await db.execute(
        select(Answer.id, Answer.answer_audio_path).where(Answer.id.in_(ids)).order_by(Answer.id)
    )
    return [path for _, path in rows]


async def test_dry_run_lists_then_purge_deletes_and_clears_only_expired_audio(
    sessionmaker: async_sessionmaker[AsyncSession], db: AsyncSession, tmp_path: Path
) -> None:
    store = LocalAudioStore(tmp_path / "audio")
    old, older, recent = await answers_with_audio(db, store, [30, 400, 5])
    before = await paths(db, [old, older, recent])

    dry = await purge_expired_audio(sessionmaker, store, retention_days=30, now=NOW, dry_run=True)
    assert [r.answer_id for r in dry.purged] == [old, older]
    assert dry.summary().startswith("would delete the audio of 2 answers")
    assert await paths(db, [old, older, recent]) == before
    assert all([await store.exists(key) for key in before if key])

    report = await purge_expired_audio(sessionmaker, store, retention_days=30, now=NOW, batch=1)
    assert [r.answer_id for r in report.purged] == [old, older]
    assert report.failed == []
    assert await paths(db, [old, older, recent]) == [None, None, before[2]]
    assert [await store.exists(key) for key in before if key] == [False, False, True]

    audits = list(
        await db.scalars(select(AuditLog).where(AuditLog.action == "answer.audio_purged"))
    )
    assert sorted(id for a in audits for id in (a.details or {})["answer_ids"]) == [old, older]
    assert {(a.details or {})["retention_days"] for a in audits} == {30}

    again = await purge_expired_audio(sessionmaker, store, retention_days=30, now=NOW)
    assert again.purged == []


async def test_retention_zero_keeps_everything_and_a_missing_object_still_clears_its_path(
    sessionmaker: async_sessionmaker[AsyncSession], db: AsyncSession, tmp_path: Path
) -> None:
    store = LocalAudioStore(tmp_path / "audio")
    [ancient] = await answers_with_audio(db, store, [5000])
    kept = await purge_expired_audio(sessionmaker, store, retention_days=0, now=NOW)
    assert kept.purged == []
    [key] = await paths(db, [ancient])
    assert key is not None
    await store.delete(key)  # lost or removed by hand
    report = await purge_expired_audio(sessionmaker, store, retention_days=365, now=NOW)
    assert [r.answer_id for r in report.purged] == [ancient]
    assert await paths(db, [ancient]) == [None]


async def test_the_daily_task_purges_and_stops_when_cancelled(
    sessionmaker: async_sessionmaker[AsyncSession], db: AsyncSession, tmp_path: Path
) -> None:
    store = LocalAudioStore(tmp_path / "audio")
    [expired] = await answers_with_audio(db, store, [40])
    task = asyncio.create_task(
        purge_daily(
            sessionmaker, store, retention_days=30, clock=lambda: NOW, first_delay=0, interval=3600
        )
    )
    for _ in range(1200):  # a wait for an outcome (a minute at most on a loaded box)
        if await paths(db, [expired]) == [None]:
            break
        await asyncio.sleep(0.05)
    assert await paths(db, [expired]) == [None]
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert task.cancelled()
