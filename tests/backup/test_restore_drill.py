"""The restore drill, on every database: create data and recordings, back up, wipe, restore;
the row counts, every row and every recording come back equal."""

from __future__ import annotations

import asyncio
import hashlib
import io
import shutil
import tarfile
from pathlib import Path

import pytest
from sqlalchemy import MetaData, delete, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from newspeech.backup.manifest import BackupInvalid, verify_archive
from newspeech.backup.service import (
    TargetNotEmpty,
    create_backup,
    restore_backup,
    row_counts,
    verify_backup,
)
from newspeech.config import Settings
from newspeech.db.base import Base
from newspeech.db.engine import unit_of_work
from newspeech.db.migrations import head_revision
from newspeech.errors import ValidationFailed
from newspeech.models import Answer, ExamSession, User
from newspeech.seed import seed_reference_data
from newspeech.storage.local import LocalAudioStore
from tests.fixtures.factories import answer_and_evaluate, make_questions, make_session, make_user


async def make_exam_data(
    sessionmaker: async_sessionmaker[AsyncSession], store: LocalAudioStore
) -> None:
    """Reference data, two candidates with a sitting each, answers with recordings."""
    async with unit_of_work(sessionmaker) as db:
        await seed_reference_data(db)
        questions = await make_questions(db)
        for n in range(2):
            exam_session = await make_session(db, await make_user(db))
            for number, question in enumerate(questions[:3], start=1):
                answer, _ = await answer_and_evaluate(db, exam_session, question, number, 7)
                key = f"{exam_session.id}/{answer.id}.ogg"
                await store.put(key, bytes([n, number]) * 5000, "audio/ogg")
                answer.answer_audio_path = key


async def table_digests(engine: AsyncEngine) -> dict[str, str]:
    """A SHA-256 of every table's rows in primary-key order."""

    def digest(connection: Connection) -> dict[str, str]:
        metadata = MetaData()
        metadata.reflect(connection)
        out = {}
        for name, table in sorted(metadata.tables.items()):
            order = list(table.primary_key.columns) or list(table.columns)
            rows = connection.execute(select(table).order_by(*order)).all()
            out[name] = hashlib.sha256(repr([tuple(r) for r in rows]).encode()).hexdigest()
        return out

    async with engine.connect() as connection:
        return await connection.run_sync(digest)


def recordings(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


async def wipe(engine: AsyncEngine, folder: Path) -> None:
    async with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            await connection.execute(delete(table))
    empty_folder(folder)


def empty_folder(folder: Path) -> None:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)


@pytest.fixture
def drill_settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(update={"audio_dir": tmp_path / "answer-audio"})


async def test_a_wiped_database_and_audio_folder_come_back_whole(
    drill_settings: Settings,
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    folder = drill_settings.audio_folder
    await make_exam_data(sessionmaker, LocalAudioStore(folder))
    counts, digests, audio = (
        await row_counts(engine),
        await table_digests(engine),
        recordings(folder),
    )
    assert counts["answers"] == 6
    assert len(audio) == 6

    archive = tmp_path / "backup.tar"
    manifest = await create_backup(drill_settings, archive)
    assert manifest.alembic_revision == head_revision()
    assert verify_backup(archive) == manifest

    await wipe(engine, folder)
    assert not any((await row_counts(engine)).values())
    report = await restore_backup(drill_settings, archive, force=False)
    await engine.dispose()  # pooled connections may hold plans of the dropped tables

    assert report.row_counts == counts
    assert await row_counts(engine) == counts
    assert await table_digests(engine) == digests
    assert recordings(folder) == audio
    assert report.recordings == 6


async def test_restore_refuses_a_target_with_data_unless_forced(
    drill_settings: Settings,
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    folder = drill_settings.audio_folder
    await make_exam_data(sessionmaker, LocalAudioStore(folder))
    digests = await table_digests(engine)
    archive = tmp_path / "backup.tar"
    await create_backup(drill_settings, archive)
    async with unit_of_work(sessionmaker) as db:  # changes after the backup
        await db.execute(update(User).values(full_name="Changed After The Backup"))
        await db.execute(delete(Answer).where(Answer.question_number == 3))

    with pytest.raises(TargetNotEmpty, match="--force"):
        await restore_backup(drill_settings, archive, force=False)
    assert await table_digests(engine) != digests  # nothing was touched

    await restore_backup(drill_settings, archive, force=True)
    await engine.dispose()
    assert await table_digests(engine) == digests


async def test_verify_finds_a_damaged_recording_and_a_stray_file(
    drill_settings: Settings,
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    del engine
    await make_exam_data(sessionmaker, LocalAudioStore(drill_settings.audio_folder))
    archive = tmp_path / "backup.tar"
    manifest = await create_backup(drill_settings, archive)
    recording = manifest.audio_files[0].path

    damaged = rewritten(archive, "damaged.tar", {recording: b"\x00" * manifest.audio_files[0].size})
    with pytest.raises(BackupInvalid, match=f"{recording} is damaged"):
        verify_archive(damaged)
    stray = rewritten(archive, "stray.tar", {}, extra={"answer-audio/extra.ogg": b"x"})
    with pytest.raises(BackupInvalid, match="not in its manifest"):
        verify_archive(stray)
    with pytest.raises(BackupInvalid, match="not a readable tar archive"):
        verify_archive(truncated(archive, tmp_path / "cut.tar"))
    with pytest.raises(BackupInvalid):  # and nothing is restored from it
        await restore_backup(drill_settings, damaged, force=True)


def rewritten(
    archive: Path, name: str, bodies: dict[str, bytes], extra: dict[str, bytes] | None = None
) -> Path:
    """A copy of ``archive`` with some members' bytes replaced and others added."""
    copy = archive.with_name(name)
    with tarfile.open(archive) as source, tarfile.open(copy, "w") as target:
        for member in source:
            stream = source.extractfile(member)
            assert stream is not None
            body = bodies.get(member.name, stream.read())
            member.size = len(body)
            target.addfile(member, io.BytesIO(body))
        for extra_name, body in (extra or {}).items():
            info = tarfile.TarInfo(extra_name)
            info.size = len(body)
            target.addfile(info, io.BytesIO(body))
    return copy


def truncated(archive: Path, copy: Path) -> Path:
    data = archive.read_bytes()
    copy.write_bytes(data[: len(data) // 2])
    return copy


async def test_restore_refuses_a_backup_of_another_database_kind(
    drill_settings: Settings, engine: AsyncEngine, tmp_path: Path
) -> None:
    del engine
    archive = tmp_path / "backup.tar"
    await create_backup(drill_settings, archive)
    other_url = (
        f"sqlite+aiosqlite:///{tmp_path / 'other.db'}"
        if drill_settings.backend != "sqlite"
        else "postgresql+asyncpg://root@127.0.0.1:5432/newspeech_never_created"
    )
    other = drill_settings.model_copy(update={"database_url": other_url})
    with pytest.raises(ValidationFailed, match="restore into the same kind of database"):
        await restore_backup(other, archive, force=True)


async def test_a_backup_taken_while_answers_are_stored_holds_whole_transactions(
    drill_settings: Settings,
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    """Each answer and its evaluation commit together while the backup runs: the restored
    database holds some of the pairs, and never an answer without its evaluation."""
    async with unit_of_work(sessionmaker) as db:
        questions = await make_questions(db)
        sitting_id = (await make_session(db)).id
    stop, underway = asyncio.Event(), asyncio.Event()
    stored = 0

    async def store_answers() -> None:
        nonlocal stored
        while not stop.is_set():
            async with unit_of_work(sessionmaker) as db:
                sitting = await db.get(ExamSession, sitting_id)
                assert sitting is not None
                question = questions[stored % len(questions)]
                await answer_and_evaluate(db, sitting, question, stored + 1, 5)
            stored += 1
            if stored == 5:
                underway.set()
            await asyncio.sleep(0)

    writer = asyncio.create_task(store_answers())
    try:
        await asyncio.wait_for(underway.wait(), 60)
        before = stored
        await create_backup(drill_settings, tmp_path / "backup.tar")
        after = stored
    finally:
        stop.set()
        await writer
    assert after > before  # answers were being stored while the backup was taken

    await wipe(engine, drill_settings.audio_folder)
    await restore_backup(drill_settings, tmp_path / "backup.tar", force=False)
    await engine.dispose()
    counts = await row_counts(engine)
    assert 5 <= counts["answers"] <= stored
    assert counts["evaluations"] == counts["answers"]
