"""Full-text search over transcripts, on SQLite (FTS5), PostgreSQL (tsvector + GIN) and MariaDB
(FULLTEXT): the index finds candidates, the matcher decides, so every backend answers alike."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from newspeech.analysis.repository import DictionaryRepository
from newspeech.analysis.search.repository import SegmentRepository
from newspeech.analysis.search.service import SearchFilter, search_transcripts
from newspeech.errors import ValidationFailed
from newspeech.models import City, Place, Scenario, Transcription, TranscriptSegment

EVERYTHING = SearchFilter()


def _segment(start: float, words: str) -> dict[str, Any]:
    """A segment whose words last 0.5 s each from ``start``."""
    timed = [
        {"start": start + 0.5 * i, "end": start + 0.5 * i + 0.4, "word": word}
        for i, word in enumerate(words.split())
    ]
    return {"start": start, "end": timed[-1]["end"], "speaker": None, "text": words, "words": timed}


async def _recording(
    db: AsyncSession,
    segments: list[dict[str, Any]],
    *,
    place: str | None = None,
    city: str | None = None,
    recorded_on: dt.date | None = None,
) -> Transcription:
    scenario = await db.scalar(select(Scenario).where(Scenario.key == "interview"))
    if scenario is None:
        scenario = Scenario(key="interview", name="Interview")
        db.add(scenario)
        await db.flush()
    dictionaries = DictionaryRepository(db)
    count = await db.scalar(select(func.count()).select_from(Transcription))
    transcription = Transcription(
        recording_key=f"analysis/search-{count}.wav",
        size_bytes=1,
        scenario_id=scenario.id,
        place_id=(await dictionaries.get_or_create(Place, place)).id if place else None,
        city_id=(await dictionaries.get_or_create(City, city)).id if city else None,
        recorded_on=recorded_on,
        segments=segments,
    )
    db.add(transcription)
    await db.flush()
    await SegmentRepository(db).replace(transcription.id, segments)
    await db.commit()
    return transcription


async def _hits(db: AsyncSession, q: str, where: SearchFilter = EVERYTHING) -> list[Any]:
    return (await search_transcripts(db, q, where, offset=0, limit=20)).items


async def test_finds_words_with_punctuation_and_says_when_they_were_said(db: AsyncSession) -> None:
    audit = await _recording(
        db,
        [
            _segment(0.0, "Good morning, thanks for coming."),
            _segment(12.0, "The boiler's pressure, at 3.5 bar, was fine."),
        ],
    )

    for query, marked in [
        ("boiler's", "boiler's"),
        ("BOILER", "boiler"),
        ("pressure,", "pressure"),
        ("3.5", "3.5"),
        ('"at 3.5 bar"', "at 3.5 bar"),
    ]:
        [hit] = await _hits(db, query)
        assert hit.recording_id == audit.id
        assert hit.segment == 1
        assert hit.start_seconds == 12.0
        assert [hit.text[a:b] for a, b in hit.highlights] == [marked], query

    [hit] = await _hits(db, "3.5")
    assert hit.hit_seconds == pytest.approx(12.0 + 0.5 * 4)  # "3.5," is the fifth word
    [hit] = await _hits(db, "pressure boiler")  # every word, in any order
    assert [hit.text[a:b] for a, b in hit.highlights] == ["boiler", "pressure"]
    assert hit.hit_seconds == pytest.approx(12.5)


async def test_no_hits_when_a_word_or_the_phrase_order_is_missing(db: AsyncSession) -> None:
    await _recording(db, [_segment(0.0, "The boiler's pressure, at 3.5 bar, was fine.")])

    assert await _hits(db, "chiller") == []
    assert await _hits(db, "boiler chiller") == []
    assert await _hits(db, '"bar 3.5"') == []
    assert await _hits(db, "boil") == []  # whole words only


async def test_short_words_and_stopwords_are_found_on_every_backend(db: AsyncSession) -> None:
    """MariaDB's index skips words under three letters and stopwords; they are still found."""
    await _recording(db, [_segment(0.0, "It is on the left"), _segment(5.0, "Walk to the spa")])

    [hit] = await _hits(db, '"is on"')
    assert hit.segment == 0
    assert len(await _hits(db, "the")) == 2
    [hit] = await _hits(db, "the spa")
    assert hit.segment == 1


@pytest.mark.parametrize(
    "query",
    ["", "   ", "...", '"unclosed phrase', "x" * 201, " ".join(f"w{i}" for i in range(11))],
)
async def test_refuses_a_query_it_cannot_search(db: AsyncSession, query: str) -> None:
    with pytest.raises(ValidationFailed):
        await _hits(db, query)


async def test_filters_by_the_recordings_metadata(db: AsyncSession) -> None:
    lisbon = await _recording(
        db,
        [_segment(0.0, "The sauna door sticks")],
        place="Spa Nova",
        city="Lisbon",
        recorded_on=dt.date(2026, 3, 1),
    )
    porto = await _recording(
        db,
        [_segment(0.0, "The sauna is too cold")],
        place="Hotel Douro",
        city="Porto",
        recorded_on=dt.date(2026, 5, 1),
    )

    assert [h.recording_id for h in await _hits(db, "sauna")] == [porto.id, lisbon.id]
    assert [h.recording_id for h in await _hits(db, "sauna", SearchFilter(city="LISBON"))] == [
        lisbon.id
    ]
    assert [
        h.recording_id for h in await _hits(db, "sauna", SearchFilter(place="hotel  douro"))
    ] == [porto.id]
    after_april = SearchFilter(recorded_from=dt.date(2026, 4, 1))
    assert [h.recording_id for h in await _hits(db, "sauna", after_april)] == [porto.id]
    assert await _hits(db, "sauna", SearchFilter(city="Faro")) == []
    assert await _hits(db, "sauna", SearchFilter(scenario="design")) == []
    assert await _hits(db, "sauna", SearchFilter(recording_id=lisbon.id, city="Porto")) == []
    with pytest.raises(ValidationFailed):
        await _hits(
            db,
            "sauna",
            SearchFilter(recorded_from=dt.date(2026, 5, 1), recorded_to=dt.date(2026, 4, 1)),
        )


async def test_pages_through_hits(db: AsyncSession) -> None:
    await _recording(db, [_segment(10.0 * i, f"Room {i} has a leak") for i in range(5)])

    first = await search_transcripts(db, "leak", EVERYTHING, offset=0, limit=2)
    rest = await search_transcripts(db, "leak", EVERYTHING, offset=2, limit=10)

    assert [h.segment for h in first.items] == [0, 1]
    assert first.has_more
    assert [h.segment for h in rest.items] == [2, 3, 4]
    assert not rest.has_more


async def test_storing_a_transcript_again_replaces_its_segments(db: AsyncSession) -> None:
    recording = await _recording(db, [_segment(0.0, "Old words here")])

    await SegmentRepository(db).replace(recording.id, [_segment(0.0, "New words here")])
    await db.commit()

    assert await _hits(db, "old") == []
    assert len(await _hits(db, "new")) == 1
    count = select(func.count()).select_from(TranscriptSegment)
    assert await db.scalar(count) == 1
