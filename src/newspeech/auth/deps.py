"""Who is calling, and what they may do: one dependency per rule.

``CurrentUser`` (any active, signed-in user), ``ExaminerUser`` (examiner or admin),
``AnalystUser`` (analyst or admin: recording analysis), ``AdminUser``.
Handlers never check roles themselves; scoping to colleges and own data is in ``auth.scope``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from newspeech.audits.service import Auditor, ClientInfo
from newspeech.auth.scope import Scope, load_scope
from newspeech.auth.service import AuthService, authenticate
from newspeech.db.deps import DbSession, SettingsDep
from newspeech.errors import PermissionDenied, Unauthenticated
from newspeech.kit.clock import WallClock
from newspeech.models import User, UserRole

_bearer = HTTPBearer(auto_error=False, description="access token from POST /api/v1/auth/login")


def get_clock(request: Request) -> WallClock:
    clock: WallClock = request.app.state.clock
    return clock


ClockDep = Annotated[WallClock, Depends(get_clock)]


def client_info(request: Request) -> ClientInfo:
    return ClientInfo(
        ip_address=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
    )


def get_auditor(request: Request, db: DbSession, settings: SettingsDep) -> Auditor:
    return Auditor(db, client_info(request), enabled=settings.enable_audit_logs)


AuditorDep = Annotated[Auditor, Depends(get_auditor)]


def get_auth_service(
    db: DbSession, settings: SettingsDep, clock: ClockDep, auditor: AuditorDep
) -> AuthService:
    return AuthService(db, settings, clock, auditor)


AuthServiceDep = Annotated[AuthService, Depends(get_auth_service)]


async def get_current_user(
    request: Request,
    db: DbSession,
    settings: SettingsDep,
    clock: ClockDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("sign in first: send Authorization: Bearer <access token>")
    found = await authenticate(db, settings, credentials.credentials, now=clock())
    request.state.user_id = found.user.id
    request.state.auth_session_id = found.auth_session_id
    return found.user


CurrentUser = Annotated[User, Depends(get_current_user)]


def get_examiner(user: CurrentUser) -> User:
    if user.role not in (UserRole.EXAMINER, UserRole.ADMIN):
        raise PermissionDenied("examiners and admins only")
    return user


def get_analyst(user: CurrentUser) -> User:
    if user.role not in (UserRole.ANALYST, UserRole.ADMIN):
        raise PermissionDenied("analysts and admins only")
    return user


def get_admin(user: CurrentUser) -> User:
    if user.role is not UserRole.ADMIN:
        raise PermissionDenied("admins only")
    return user


ExaminerUser = Annotated[User, Depends(get_examiner)]
AnalystUser = Annotated[User, Depends(get_analyst)]
AdminUser = Annotated[User, Depends(get_admin)]


async def get_scope(user: CurrentUser, db: DbSession) -> Scope:
    return await load_scope(db, user)


ScopeDep = Annotated[Scope, Depends(get_scope)]


def auth_session_id(request: Request, _user: CurrentUser) -> int:
    value: int = request.state.auth_session_id
    return value


AuthSessionId = Annotated[int, Depends(auth_session_id)]


def utc(value: dt.datetime | None) -> dt.datetime | None:
    """Query-string times without a zone are taken as UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)
