"""Queries for sign-in sessions, refresh tokens and login throttles."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from newspeech.kit.upsert import insert_if_absent
from newspeech.models import AuthSession, LoginThrottle, RefreshToken, User


class AuthSessionRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def create(
        self,
        user_id: int,
        *,
        expires_at: dt.datetime,
        ip_address: str | None,
        user_agent: str | None,
    ) -> AuthSession:
        auth_session = AuthSession(
            user_id=user_id, expires_at=expires_at, ip_address=ip_address, user_agent=user_agent
        )
        self.db.add(auth_session)
        await self.db.flush()
        return auth_session

    async def add_refresh_token(
        self, auth_session_id: int, token_hash: str, expires_at: dt.datetime
    ) -> None:
        self.db.add(
            RefreshToken(
                auth_session_id=auth_session_id, token_hash=token_hash, expires_at=expires_at
            )
        )
        await self.db.flush()

    async def refresh_token(self, token_hash: str) -> tuple[RefreshToken, AuthSession] | None:
        query = (
            select(RefreshToken, AuthSession)
            .join(AuthSession, AuthSession.id == RefreshToken.auth_session_id)
            .where(RefreshToken.token_hash == token_hash)
        )
        row = (await self.db.execute(query)).one_or_none()
        return None if row is None else (row[0], row[1])

    async def mark_used(self, token_id: int, at: dt.datetime) -> bool:
        """Mark a refresh token used; ``False`` if another request used it first."""
        result = await self.db.execute(
            update(RefreshToken)
            .where(RefreshToken.id == token_id, RefreshToken.used_at.is_(None))
            .values(used_at=at),
            execution_options={"synchronize_session": False},
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def user_with_session(
        self, user_id: int, auth_session_id: int
    ) -> tuple[User, AuthSession] | None:
        query = (
            select(User, AuthSession)
            .join(AuthSession, AuthSession.user_id == User.id)
            .where(User.id == user_id, AuthSession.id == auth_session_id)
        )
        row = (await self.db.execute(query)).one_or_none()
        return None if row is None else (row[0], row[1])

    async def revoke(self, auth_session_id: int, at: dt.datetime, reason: str) -> None:
        await self.db.execute(
            update(AuthSession)
            .where(AuthSession.id == auth_session_id, AuthSession.revoked_at.is_(None))
            .values(revoked_at=at, revoked_reason=reason),
            execution_options={"synchronize_session": False},
        )

    async def revoke_all(self, user_id: int, at: dt.datetime, reason: str) -> int:
        result = await self.db.execute(
            update(AuthSession)
            .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
            .values(revoked_at=at, revoked_reason=reason),
            execution_options={"synchronize_session": False},
        )
        return int(result.rowcount)  # type: ignore[attr-defined]


class LoginThrottleRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def get(self, keys: list[str]) -> list[LoginThrottle]:
        query = select(LoginThrottle).where(LoginThrottle.key.in_(keys))
        return list(await self.db.scalars(query.execution_options(populate_existing=True)))

    async def get_or_create(self, key: str, now: dt.datetime) -> LoginThrottle:
        values = {"key": key, "failures": 0, "window_started_at": now}
        await insert_if_absent(self.db, LoginThrottle.__table__, values, key="key")  # type: ignore[arg-type]
        row = await self.db.get(LoginThrottle, key, populate_existing=True, with_for_update=True)
        assert row is not None  # inserted above or already present
        return row

    async def clear(self, keys: list[str]) -> None:
        await self.db.execute(delete(LoginThrottle).where(LoginThrottle.key.in_(keys)))
