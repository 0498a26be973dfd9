"""Queries for the extra attempts examiners allow."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from newspeech.models import AttemptGrant


class AttemptGrantRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def add(
        self, *, user_id: int, college_type: str, granted_by: int | None, reason: str | None
    ) -> AttemptGrant:
        grant = AttemptGrant(
            user_id=user_id, college_type=college_type, granted_by=granted_by, reason=reason
        )
        self.db.add(grant)
        await self.db.flush()
        return grant

    async def count(self, user_id: int, college_type: str) -> int:
        query = select(func.count(AttemptGrant.id)).where(
            AttemptGrant.user_id == user_id, AttemptGrant.college_type == college_type
        )
        return int(await self.db.scalar(query) or 0)

    async def list_for(self, user_id: int, college_type: str) -> list[AttemptGrant]:
        query = (
            select(AttemptGrant)
            .where(AttemptGrant.user_id == user_id, AttemptGrant.college_type == college_type)
            .order_by(AttemptGrant.created_at, AttemptGrant.id)
        )
        return list(await self.db.scalars(query))
