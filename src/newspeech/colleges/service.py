"""College types are data: admins add and rename them; everyone signed in lists them."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from newspeech.audits.service import Auditor
from newspeech.colleges.repository import CollegeTypeRepository
from newspeech.colleges.schemas import CollegeTypeCreate, CollegeTypeUpdate
from newspeech.db.errors import integrity_as_conflict
from newspeech.errors import Conflict, NotFound
from newspeech.models import CollegeType, User


class CollegeTypeService:
    def __init__(self, db: AsyncSession, auditor: Auditor) -> None:
        self.db = db
        self.auditor = auditor
        self.colleges = CollegeTypeRepository(db)

    async def all(self) -> list[CollegeType]:
        return await self.colleges.list()

    async def get(self, code: str) -> CollegeType:
        college = await self.colleges.get(code)
        if college is None:
            raise NotFound(f"college type {code!r} does not exist")
        return college

    async def create(self, actor: User, data: CollegeTypeCreate) -> CollegeType:
        if await self.colleges.get(data.code) is not None:
            raise Conflict(f"college type {data.code!r} already exists")
        college = CollegeType(code=data.code, name=data.name, description=data.description)
        self.db.add(college)
        async with integrity_as_conflict(f"cannot create college type {data.code!r}"):
            await self.db.flush()
        await self.auditor.record(
            "college_type.create",
            actor_id=actor.id,
            resource_type="college_type",
            details={"code": data.code},
        )
        return college

    async def update(self, actor: User, code: str, data: CollegeTypeUpdate) -> CollegeType:
        college = await self.get(code)
        changes = data.model_dump(exclude_unset=True)
        if changes.get("name", "") is None:
            changes.pop("name")
        for name, value in changes.items():
            setattr(college, name, value)
        await self.db.flush()
        await self.auditor.record(
            "college_type.update",
            actor_id=actor.id,
            resource_type="college_type",
            details={"code": code, "fields": sorted(changes)},
        )
        return college
