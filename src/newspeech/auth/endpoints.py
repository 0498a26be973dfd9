from __future__ import annotations

from fastapi import APIRouter, Request, status

from newspeech.auth.deps import AuthServiceDep, AuthSessionId, CurrentUser
from newspeech.auth.schemas import LoginRequest, PasswordChange, RefreshRequest, TokenResponse
from newspeech.auth.service import TokenPair
from newspeech.db.deps import DbSession
from newspeech.errors import RateLimited, Unauthenticated
from newspeech.kit.responses import error_responses
from newspeech.users.schemas import UserRead

router = APIRouter(prefix="/auth", tags=["auth"])


def _tokens(pair: TokenPair) -> TokenResponse:
    return TokenResponse(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        expires_in=pair.expires_in,
        user=UserRead.model_validate(pair.user),
    )


@router.post("/login", responses=error_responses(401, 422, 429))
async def login(
    body: LoginRequest, service: AuthServiceDep, db: DbSession, request: Request
) -> TokenResponse:
    """Sign in with user name (or email) and password. Three failures in 15 minutes lock the
    account and the client address for 15 minutes (429 with Retry-After)."""
    try:
        pair = await service.login(body.username, body.password)
    except (Unauthenticated, RateLimited):
        # A refused sign-in keeps its audit row and throttle count.
        await db.commit()
        request.state.audited = True
        raise
    return _tokens(pair)


@router.post("/refresh", responses=error_responses(401, 422, 429))
async def refresh(
    body: RefreshRequest, service: AuthServiceDep, db: DbSession, request: Request
) -> TokenResponse:
    """Trade a refresh token for a new pair. Each refresh token works once; presenting a used
    one revokes its whole sign-in session."""
    try:
        pair = await service.refresh(body.refresh_token)
    except Unauthenticated:
        await db.commit()  # keeps a reuse-triggered revocation and its audit row
        request.state.audited = True
        raise
    return _tokens(pair)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(401, 429))
async def logout(
    user: CurrentUser, auth_session_id: AuthSessionId, service: AuthServiceDep
) -> None:
    """End this sign-in session: its access and refresh tokens stop working."""
    await service.logout(user, auth_session_id)


@router.get("/me", responses=error_responses(401, 429))
async def me(user: CurrentUser) -> UserRead:
    return UserRead.model_validate(user)


@router.post(
    "/password", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(401, 422, 429)
)
async def change_password(body: PasswordChange, user: CurrentUser, service: AuthServiceDep) -> None:
    """Change your password; every sign-in session of the account ends (sign in again)."""
    await service.change_password(user, body.current_password, body.new_password)
