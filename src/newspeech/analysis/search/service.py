"""Transcript search: parse the query, ask the backend's index, confirm and highlight hits."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from newspeech.analysis.keys import dictionary_key
from newspeech.analysis.search.query import find_terms, parse_query, token_start
from newspeech.analysis.search.repository import SegmentRepository
from newspeech.analysis.search.schemas import SearchHit, SearchResults
from newspeech.errors import ValidationFailed
from newspeech.models import (
    BuildingType,
    City,
    Client,
    Employee,
    Place,
    Scenario,
    Transcription,
    Zone,
)

# Candidates read per round trip while collecting a page of confirmed hits.
_BATCH = 200


@dataclass(frozen=True)
class SearchFilter:
    """The recordings to search, by their metadata (names compared as dictionary keys)."""

    recording_id: int | None = None
    scenario: str | None = None
    building_type: str | None = None
    employee: str | None = None
    client: str | None = None
    place: str | None = None
    zone: str | None = None
    city: str | None = None
    recorded_from: dt.date | None = None
    recorded_to: dt.date | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        if self.recorded_from and self.recorded_to and self.recorded_from > self.recorded_to:
            raise ValidationFailed("recorded_from is after recorded_to")
        found: list[ColumnElement[bool]] = []
        if self.recording_id is not None:
            found.append(Transcription.id == self.recording_id)
        named = (
            (self.scenario, Scenario, Transcription.scenario_id),
            (self.building_type, BuildingType, Transcription.building_type_id),
            (self.employee, Employee, Transcription.employee_id),
            (self.client, Client, Transcription.client_id),
            (self.place, Place, Transcription.place_id),
            (self.zone, Zone, Transcription.zone_id),
            (self.city, City, Transcription.city_id),
        )
        for name, model, column in named:
            if name is not None and name.strip():
                ids = select(model.id).where(model.key == dictionary_key(name))
                found.append(column.in_(ids.scalar_subquery()))
        if self.recorded_from is not None:
            found.append(Transcription.recorded_on >= self.recorded_from)
        if self.recorded_to is not None:
            found.append(Transcription.recorded_on <= self.recorded_to)
        return found


async def search_transcripts(
    db: AsyncSession, query: str, where: SearchFilter, *, offset: int, limit: int
) -> SearchResults:
    """Segments holding every term of ``query``, newest recording first, in transcript order."""
    terms = parse_query(query.strip())
    conditions = where.conditions()
    segments = SegmentRepository(db)
    hits: list[SearchHit] = []
    skipped = 0
    read = 0
    while len(hits) <= limit:
        batch = await segments.candidates(terms, conditions, offset=read, limit=_BATCH)
        read += len(batch)
        for segment, recording in batch:
            found = find_terms(segment.text, terms)
            if found is None:
                continue
            if skipped < offset:
                skipped += 1
                continue
            hits.append(
                SearchHit(
                    recording_id=recording.id,
                    original_filename=recording.original_filename,
                    recorded_on=recording.recorded_on,
                    segment=segment.position,
                    start_seconds=segment.start_seconds,
                    end_seconds=segment.end_seconds,
                    hit_seconds=token_start(
                        segment.words, found.first_token, segment.start_seconds
                    ),
                    text=segment.text,
                    highlights=found.spans,
                )
            )
        if len(batch) < _BATCH:
            break
    return SearchResults(
        query=query,
        items=hits[:limit],
        offset=offset,
        limit=limit,
        has_more=len(hits) > limit,
    )
