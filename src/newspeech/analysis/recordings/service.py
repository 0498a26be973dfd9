"""The recording intake's rules: an upload is spooled to disk a piece at a time, read to find
out what it really is (not what its name says), and only then stored with its metadata.

A bad file (too big, not audio, cut short, too long) or bad metadata (an unknown scenario or
report type) is refused before anything is stored: no row, no object in the audio store. The
object is written after the row is flushed, so a refused row never leaves an orphaned object.
An upload by a user also becomes that user's routing record (the default of the next upload).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from sqlalchemy.ext.asyncio import AsyncSession

from newspeech.analysis.recordings.repository import RecordingRepository
from newspeech.analysis.repository import DictionaryRepository
from newspeech.analysis.routing.service import RouteFinder, RoutingDesk
from newspeech.audits.service import Auditor
from newspeech.errors import PayloadTooLarge
from newspeech.models import (
    City,
    Client,
    Employee,
    Place,
    Report,
    Transcription,
    Zone,
)
from newspeech.models.prompts import KeyedName
from newspeech.storage import AudioStore
from newspeech.voice.recording import RecordingProbe, probe_recording

SPOOL_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class RecordingMetadata:
    """What the field team says about a recording. Names of people, places and building types
    are created on first use; the scenario and report types must exist in the prompt registry."""

    scenario: str
    report_types: tuple[str, ...] = ()
    building_type: str | None = None
    employee: str | None = None
    client: str | None = None
    place: str | None = None
    zone: str | None = None
    city: str | None = None
    recorded_on: dt.date | None = None


@dataclass(frozen=True)
class IntakeLimits:
    max_bytes: int
    max_seconds: float


class RecordingIntake:
    """Stores uploads (flushes; the request commits)."""

    def __init__(
        self,
        db: AsyncSession,
        store: AudioStore,
        auditor: Auditor | None,
        limits: IntakeLimits,
        spool_dir: Path,
    ) -> None:
        self.db = db
        self.store = store
        self.auditor = auditor
        self.limits = limits
        self.spool_dir = spool_dir
        self.recordings = RecordingRepository(db)
        self.dictionaries = DictionaryRepository(db)

    async def upload(
        self,
        source: BinaryIO,
        filename: str | None,
        metadata: RecordingMetadata,
        *,
        actor_id: int | None,
    ) -> Transcription:
        spooled = await asyncio.to_thread(spool, source, self.spool_dir, self.limits.max_bytes)
        try:
            probe = await asyncio.to_thread(
                probe_recording, spooled, max_seconds=self.limits.max_seconds
            )
            return await self._store(spooled, probe, filename, metadata, actor_id)
        finally:
            await asyncio.to_thread(spooled.unlink, missing_ok=True)

    async def _store(
        self,
        spooled: Path,
        probe: RecordingProbe,
        filename: str | None,
        metadata: RecordingMetadata,
        actor_id: int | None,
    ) -> Transcription:
        route = await RouteFinder(self.db).find(
            metadata.scenario,
            metadata.report_types,
            metadata.building_type,
            create_building_type=True,
        )
        ids = {
            "building_type_id": route.building_type_id,
            "employee_id": await self._entry(Employee, metadata.employee),
            "client_id": await self._entry(Client, metadata.client),
            "place_id": await self._entry(Place, metadata.place),
            "zone_id": await self._entry(Zone, metadata.zone),
            "city_id": await self._entry(City, metadata.city),
        }
        size = (await asyncio.to_thread(spooled.stat)).st_size
        transcription = Transcription(
            recording_key=f"analysis/{uuid.uuid4().hex}.{probe.format}",
            original_filename=(filename or "")[:255] or None,
            content_type=probe.content_type,
            size_bytes=size,
            duration_seconds=round(probe.duration_seconds, 3),
            recorded_on=metadata.recorded_on,
            scenario_id=route.scenario.id,
            uploaded_by=actor_id,
            **ids,
        )
        reports = [
            Report(
                report_type_id=report_type.id,
                employee_id=ids["employee_id"],
                client_id=ids["client_id"],
                place_id=ids["place_id"],
                report_date=metadata.recorded_on,
            )
            for report_type in route.report_types
        ]
        await self.recordings.add(transcription, reports)
        file = await asyncio.to_thread(spooled.open, "rb")
        try:
            await self.store.put_file(transcription.recording_key, file, probe.content_type)
        finally:
            file.close()
        if actor_id is not None:
            await RoutingDesk(self.db).record(
                actor_id, route.scenario.id, route.report_type_keys, route.building_type_id
            )
        if self.auditor is not None:
            await self.auditor.record(
                "analysis.recording.upload",
                actor_id=actor_id,
                resource_type="analysis_transcriptions",
                resource_id=transcription.id,
                details={
                    "filename": transcription.original_filename,
                    "format": probe.format,
                    "codec": probe.codec,
                    "size_bytes": size,
                    "duration_seconds": transcription.duration_seconds,
                    "store": self.store.name,
                },
            )
        return transcription

    async def _entry(self, model: type[KeyedName], name: str | None) -> int | None:
        if name is None or not name.strip():
            return None
        return (await self.dictionaries.get_or_create(model, name)).id


def spool(source: BinaryIO, folder: Path, max_bytes: int) -> Path:
    """Copy ``source`` into a new file under ``folder`` a megabyte at a time; over ``max_bytes``
    the copy stops, the file is removed and :class:`PayloadTooLarge` raised."""
    folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=folder, prefix="upload-")
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as target:
            copied = 0
            while chunk := source.read(SPOOL_CHUNK):
                copied += len(chunk)
                if copied > max_bytes:
                    raise PayloadTooLarge(
                        f"the recording is larger than the limit of {max_bytes} bytes"
                    )
                target.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path
