from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from newspeech.analysis.keys import dictionary_key
from newspeech.analysis.repository import DictionaryRepository
from newspeech.db.engine import unit_of_work
from newspeech.errors import ValidationFailed
from newspeech.models import City, Client, Employee, Place, ReportType, Scenario, Zone

RACERS = 12


async def test_concurrent_get_or_create_yields_one_row_per_dictionary_and_no_error(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    barrier = asyncio.Barrier(RACERS)
    spellings = ["Grand Hotel", "grand hotel", "GRAND  HOTEL", " Grand Hotel "]

    async def intake(i: int) -> tuple[int, ...]:
        async with unit_of_work(sessionmaker) as db:
            dictionaries = DictionaryRepository(db)
            await barrier.wait()  # every transaction open before anyone inserts
            place = await dictionaries.get_or_create(Place, spellings[i % len(spellings)])
            city = await dictionaries.get_or_create(City, "Lisbon")
            zone = await dictionaries.get_or_create(Zone, "Lobby")
            employee = await dictionaries.get_or_create(Employee, "Ana Costa")
            client = await dictionaries.get_or_create(Client, "Atlantic Group")
            return place.id, city.id, zone.id, employee.id, client.id

    outcomes = await asyncio.gather(*(intake(i) for i in range(RACERS)))

    assert len(set(outcomes)) == 1
    async with sessionmaker() as db:
        for model in (Place, City, Zone, Employee, Client):
            assert await db.scalar(select(func.count()).select_from(model)) == 1
        place = await db.scalar(select(Place))
    assert place is not None
    assert place.key == "grand hotel"
    assert place.name in {" ".join(spelling.split()) for spelling in spellings}


async def test_get_or_create_sees_a_row_committed_after_its_transaction_began(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """The loser of a race reads the winner's row even when its own transaction already read
    something (MariaDB's REPEATABLE READ snapshot would hide the row from a plain SELECT)."""
    async with unit_of_work(sessionmaker) as late:
        assert await late.scalar(select(func.count()).select_from(City)) == 0  # snapshot taken
        async with unit_of_work(sessionmaker) as early:
            winner = await DictionaryRepository(early).get_or_create(City, "Porto")
        loser = await DictionaryRepository(late).get_or_create(City, "porto")
        assert loser.id == winner.id
        assert loser.name == "Porto"


async def test_report_type_keys_are_unique_within_their_scenario(db: AsyncSession) -> None:
    dictionaries = DictionaryRepository(db)
    interview = await dictionaries.get_or_create(Scenario, "interview")
    design = await dictionaries.get_or_create(Scenario, "design")

    first = await dictionaries.get_or_create(
        ReportType, "Summary", parent={"scenario_id": interview.id}
    )
    again = await dictionaries.get_or_create(
        ReportType, "summary", parent={"scenario_id": interview.id}
    )
    other = await dictionaries.get_or_create(
        ReportType, "Summary", parent={"scenario_id": design.id}
    )

    assert again.id == first.id
    assert other.id != first.id
    assert other.scenario_id == design.id


@pytest.mark.parametrize(
    ("names", "key"),
    [
        (["Café Lumière", "CAFÉ  LUMIÈRE", "café lumière"], "café lumière"),
        (["Straße 5", "STRASSE 5"], "strasse 5"),
        # Full-width letters (as typed with some East Asian input methods) fold to ASCII.
        (["\uff28\uff4f\uff54\uff45\uff4c", "hotel"], "hotel"),
    ],
)
def test_spellings_of_one_name_share_a_key(names: list[str], key: str) -> None:
    assert {dictionary_key(name) for name in names} == {key}


@pytest.mark.parametrize("name", ["", "   ", "a\x00b", "x" * 201])
async def test_rejects_an_unusable_name_and_stores_nothing(db: AsyncSession, name: str) -> None:
    with pytest.raises(ValidationFailed):
        await DictionaryRepository(db).get_or_create(Client, name)
    assert await db.scalar(select(func.count()).select_from(Client)) == 0
