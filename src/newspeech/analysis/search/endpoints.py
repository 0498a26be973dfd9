"""``GET /api/v1/analysis/search``: full-text search over transcripts. Analysts and admins."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query

from newspeech.analysis.search.schemas import SearchResults
from newspeech.analysis.search.service import SearchFilter, search_transcripts
from newspeech.auth.deps import AnalystUser
from newspeech.db.deps import DbSession
from newspeech.kit.ids import Id
from newspeech.kit.responses import COMMON_ERRORS

router = APIRouter(prefix="/analysis/search", tags=["analysis"], responses=COMMON_ERRORS)


@router.get("")
async def search(
    _user: AnalystUser,
    db: DbSession,
    q: Annotated[str, Query(min_length=1, max_length=200, description='words and "phrases"')],
    recording_id: Id | None = None,
    scenario: str | None = None,
    building_type: str | None = None,
    employee: str | None = None,
    client: str | None = None,
    place: str | None = None,
    zone: str | None = None,
    city: str | None = None,
    recorded_from: dt.date | None = None,
    recorded_to: dt.date | None = None,
    offset: Annotated[int, Query(ge=0, le=10_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> SearchResults:
    """Transcript segments holding every word and "phrase" of ``q`` (case and punctuation do
    not matter), newest recording first, each with the matching character spans and the time
    of its first matching word. Filters narrow the recordings by their metadata (names as
    uploaded, in any case). A query with no word or an unclosed quote is 422."""
    where = SearchFilter(
        recording_id=recording_id,
        scenario=scenario,
        building_type=building_type,
        employee=employee,
        client=client,
        place=place,
        zone=zone,
        city=city,
        recorded_from=recorded_from,
        recorded_to=recorded_to,
    )
    return await search_transcripts(db, q, where, offset=offset, limit=limit)
