"""Shapes of the transcript search API."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field


class SearchHit(BaseModel):
    recording_id: int
    original_filename: str | None
    recorded_on: dt.date | None
    segment: int = Field(description="the segment's position in the transcript, from 0")
    start_seconds: float = Field(description="where the segment starts in the recording")
    end_seconds: float
    hit_seconds: float = Field(description="where the first matching word starts: jump here")
    text: str = Field(description="the segment's text")
    highlights: list[tuple[int, int]] = Field(
        description="[start, end) character offsets of ``text`` that match the search"
    )


class SearchResults(BaseModel):
    query: str
    items: list[SearchHit]
    offset: int
    limit: int
    has_more: bool = Field(description="true when more hits follow: ask again from offset+limit")
