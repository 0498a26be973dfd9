"""Sign-in, token rotation and revocation, login throttling, password changes.

Access tokens are short-lived JWTs naming the user and their sign-in session (``sid``); refresh
tokens are opaque, single-use and rotate on every refresh. Presenting a refresh token a second
time means it was stolen or replayed: the whole sign-in session is revoked.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from newspeech.audits.service import Auditor
from newspeech.auth.repository import AuthSessionRepository, LoginThrottleRepository
from newspeech.config import Settings
from newspeech.errors import RateLimited, Unauthenticated, ValidationFailed
from newspeech.kit.clock import WallClock
from newspeech.kit.password_policy import check_password
from newspeech.kit.passwords import (
    hash_password,
    hash_password_async,
    needs_rehash,
    verify_password_async,
)
from newspeech.kit.tokens import (
    AccessClaims,
    InvalidToken,
    decode_access_token,
    encode_access_token,
    hash_secret,
    new_secret,
)
from newspeech.models import AuthSession, User, UserStatus
from newspeech.users.repository import UserRepository


# Verifying against this when the account does not exist keeps the response time of an unknown
# name the same as a wrong password's, so timing does not reveal which accounts exist.
@functools.cache
def _dummy_hash() -> str:
    return hash_password("no-such-account-timing-equaliser")


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    user: User


@dataclass(frozen=True)
class Authenticated:
    user: User
    auth_session_id: int


async def authenticate(
    db: AsyncSession, settings: Settings, token: str, *, now: dt.datetime
) -> Authenticated:
    """The active user behind an access token whose sign-in session is still open."""
    try:
        claims = decode_access_token(token, settings.token_secret(), now)
    except InvalidToken as exc:
        raise Unauthenticated(str(exc)) from exc
    found = await AuthSessionRepository(db).user_with_session(
        claims.user_id, claims.auth_session_id
    )
    if found is None:
        raise Unauthenticated("invalid access token")
    user, auth_session = found
    if auth_session.revoked_at is not None:
        raise Unauthenticated("the sign-in session has ended; sign in again")
    if user.status is not UserStatus.ACTIVE:
        raise Unauthenticated(f"account is {user.status.value}")
    return Authenticated(user, auth_session.id)


async def sign_in_ended(db: AsyncSession, user_id: int, auth_session_id: int) -> str | None:
    """Why a sign-in that was accepted no longer stands (signed out, password changed, account
    deactivated), or ``None``. The access token's expiry is not checked: a live exam that
    was opened with a valid token may outlast it."""
    found = await AuthSessionRepository(db).user_with_session(user_id, auth_session_id)
    if found is None:
        return "the account no longer exists"
    user, auth_session = found
    if auth_session.revoked_at is not None:
        return "the sign-in session has ended; sign in again"
    if user.status is not UserStatus.ACTIVE:
        return f"account is {user.status.value}"
    return None


async def authenticate_access_token(
    db: AsyncSession, settings: Settings, token: str, *, now: dt.datetime | None = None
) -> User:
    """The user an access token belongs to, for edges other than HTTP (the exam WebSocket).

    Raises ``Unauthenticated`` if the token is malformed, badly signed or expired, its sign-in
    session was revoked (logout, password change, refresh reuse) or the account is not active.
    """
    when = now or dt.datetime.now(dt.UTC)
    return (await authenticate(db, settings, token, now=when)).user


class AuthService:
    def __init__(
        self, db: AsyncSession, settings: Settings, clock: WallClock, auditor: Auditor
    ) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.auditor = auditor
        self.sessions = AuthSessionRepository(db)
        self.throttles = LoginThrottleRepository(db)
        self.users = UserRepository(db)

    async def login(self, identifier: str, password: str) -> TokenPair:
        """Tokens for a correct name and password. A refusal is recorded (audit row, throttle
        counters) before ``Unauthenticated`` or ``RateLimited`` is raised: the caller commits."""
        now = self.clock()
        identifier = identifier.strip()
        user = await self._find(identifier)
        keys = self._throttle_keys(identifier, user)
        locked = [
            t for t in await self.throttles.get(keys) if t.locked_until and t.locked_until > now
        ]
        if locked:
            until = max(t.locked_until for t in locked if t.locked_until)
            await self._audit_login(user, "locked", identifier)
            raise RateLimited(
                "too many failed sign-ins; try again later",
                retry_after=int((until - now).total_seconds()) + 1,
            )
        password_ok = await verify_password_async(
            user.password_hash if user else _dummy_hash(), password
        )
        if user is None or not password_ok:
            await self._count_failure(keys, now)
            await self._audit_login(user, "failure", identifier)
            raise Unauthenticated("wrong user name or password")
        if user.status is not UserStatus.ACTIVE:
            await self._audit_login(user, "inactive", identifier)
            raise Unauthenticated(f"account is {user.status.value}")
        await self.throttles.clear([keys[0]])
        if needs_rehash(user.password_hash):
            user.password_hash = await hash_password_async(password)
        user.last_login = now
        pair = await self._open_session(user, now)
        await self._audit_login(user, "success", identifier)
        return pair

    async def refresh(self, refresh_token: str) -> TokenPair:
        """Rotate: the presented token is spent and a new pair issued in the same session."""
        now = self.clock()
        found = await self.sessions.refresh_token(hash_secret(refresh_token))
        if found is None:
            raise Unauthenticated("unknown refresh token")
        token, auth_session = found
        if token.used_at is not None or not await self.sessions.mark_used(token.id, now):
            await self.sessions.revoke(auth_session.id, now, "refresh_token_reuse")
            await self.auditor.record(
                "auth.refresh_reuse",
                actor_id=auth_session.user_id,
                resource_type="auth_session",
                resource_id=auth_session.id,
                status="failure",
            )
            raise Unauthenticated("refresh token already used; the sign-in session is revoked")
        if auth_session.revoked_at is not None or now >= token.expires_at:
            raise Unauthenticated("refresh token expired or revoked; sign in again")
        user = await self.users.get(auth_session.user_id)
        if user is None or user.status is not UserStatus.ACTIVE:
            raise Unauthenticated("account is not active")
        access, expires_in = self._access_token(user, auth_session.id, now)
        new_refresh = await self._new_refresh_token(auth_session, now)
        await self.auditor.record(
            "auth.refresh",
            actor_id=user.id,
            resource_type="auth_session",
            resource_id=auth_session.id,
        )
        return TokenPair(access, new_refresh, expires_in, user)

    async def logout(self, user: User, auth_session_id: int) -> None:
        await self.sessions.revoke(auth_session_id, self.clock(), "logout")
        await self.auditor.record(
            "auth.logout",
            actor_id=user.id,
            resource_type="auth_session",
            resource_id=auth_session_id,
        )

    async def change_password(self, user: User, current: str, new: str) -> None:
        """Set a new password and end every sign-in session of the account."""
        if not await verify_password_async(user.password_hash, current):
            raise ValidationFailed("current password is wrong")
        self.check_policy(new, user.username, user.email)
        user.password_hash = await hash_password_async(new)
        await self.sessions.revoke_all(user.id, self.clock(), "password_changed")
        await self.db.flush()
        await self.auditor.record(
            "auth.password_change", actor_id=user.id, resource_type="user", resource_id=user.id
        )

    async def revoke_all(self, user_id: int, reason: str) -> int:
        return await self.sessions.revoke_all(user_id, self.clock(), reason)

    async def unlock(self, user: User) -> None:
        """Clear the failed sign-ins of an account (by id, name and email)."""
        await self.throttles.clear(
            [f"user:{user.id}", f"name:{user.username.casefold()}", f"name:{user.email.casefold()}"]
        )

    def check_policy(self, password: str, *names: str) -> None:
        check_password(password, min_length=self.settings.password_min_length, names=names)

    async def _find(self, identifier: str) -> User | None:
        if "@" in identifier:
            return await self.users.get_by_email(identifier)
        return await self.users.get_by_username(identifier)

    def _throttle_keys(self, identifier: str, user: User | None) -> list[str]:
        """Account key first. Unknown names are throttled by name, so lockouts do not reveal
        which accounts exist."""
        account = f"user:{user.id}" if user else f"name:{identifier.casefold()[:90]}"
        keys = [account]
        if self.auditor.client.ip_address:
            keys.append(f"ip:{self.auditor.client.ip_address}")
        return keys

    async def _count_failure(self, keys: list[str], now: dt.datetime) -> None:
        window = dt.timedelta(seconds=self.settings.login_failure_window_seconds)
        for key in keys:
            row = await self.throttles.get_or_create(key, now)
            if now - row.window_started_at >= window:
                row.failures, row.window_started_at = 0, now
            row.failures += 1
            limit = (
                self.settings.login_max_failures_per_address
                if key.startswith("ip:")
                else self.settings.login_max_failures
            )
            if row.failures >= limit:
                row.locked_until = now + dt.timedelta(seconds=self.settings.login_lockout_seconds)
                row.failures, row.window_started_at = 0, now
        await self.db.flush()

    async def _audit_login(self, user: User | None, status: str, identifier: str) -> None:
        await self.auditor.record(
            "auth.login",
            actor_id=user.id if user else None,
            resource_type="user",
            resource_id=user.id if user else None,
            status=status,
            details={"identifier": identifier[:255]},
        )

    async def _open_session(self, user: User, now: dt.datetime) -> TokenPair:
        auth_session = await self.sessions.create(
            user.id,
            expires_at=now + dt.timedelta(days=self.settings.refresh_token_days),
            ip_address=self.auditor.client.ip_address,
            user_agent=self.auditor.client.user_agent,
        )
        access, expires_in = self._access_token(user, auth_session.id, now)
        refresh = await self._new_refresh_token(auth_session, now)
        return TokenPair(access, refresh, expires_in, user)

    def _access_token(self, user: User, auth_session_id: int, now: dt.datetime) -> tuple[str, int]:
        lifetime = dt.timedelta(minutes=self.settings.access_token_minutes)
        claims = AccessClaims(user.id, auth_session_id, user.role.value, now, now + lifetime)
        token = encode_access_token(claims, self.settings.token_secret())
        return token, int(lifetime.total_seconds())

    async def _new_refresh_token(self, auth_session: AuthSession, now: dt.datetime) -> str:
        secret = new_secret()
        expires = min(
            auth_session.expires_at, now + dt.timedelta(days=self.settings.refresh_token_days)
        )
        await self.sessions.add_refresh_token(auth_session.id, hash_secret(secret), expires)
        return secret
