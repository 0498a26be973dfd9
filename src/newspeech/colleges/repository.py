from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from newspeech.kit.upsert import insert_if_absent
from newspeech.models import CollegeType


class CollegeTypeRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def list(self) -> list[CollegeType]:
        return list(await self.db.scalars(select(CollegeType).order_by(CollegeType.code)))

    async def get(self, code: str) -> CollegeType | None:
        return await self.db.get(CollegeType, code)

    async def get_or_create(
        self, code: str, *, name: str, description: str | None = None
    ) -> CollegeType:
        values = {"code": code, "name": name, "description": description}
        await insert_if_absent(self.db, CollegeType.__table__, values, key="code")  # type: ignore[arg-type]
        college = await self.db.get(CollegeType, code, populate_existing=True)
        assert college is not None  # just inserted or already present
        return college
