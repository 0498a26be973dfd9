from __future__ import annotations

import asyncio

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from newspeech.colleges.repository import CollegeTypeRepository
from newspeech.configuration.repository import ConfigurationRepository
from newspeech.db.engine import unit_of_work
from newspeech.models import CollegeType, ConfigEntry, ConfigValueType


async def test_concurrent_get_or_create_yields_one_row_and_no_error(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    barrier = asyncio.Barrier(12)

    async def create(i: int) -> tuple[int, str]:
        async with unit_of_work(sessionmaker) as db:
            await barrier.wait()  # all transactions open before anyone inserts
            entry = await ConfigurationRepository(db).get_or_create(
                "race_key", str(i), ConfigValueType.INTEGER
            )
            college = await CollegeTypeRepository(db).get_or_create("nursing", name=f"N{i}")
            return entry.id, college.name

    outcomes = await asyncio.gather(*(create(i) for i in range(12)))

    assert len({entry_id for entry_id, _ in outcomes}) == 1
    async with sessionmaker() as db:
        assert await db.scalar(select(func.count(ConfigEntry.id))) == 1
        assert await db.scalar(select(func.count()).select_from(CollegeType)) == 1
        stored = await db.scalar(select(CollegeType.name))
    assert {name for _, name in outcomes} == {stored}
