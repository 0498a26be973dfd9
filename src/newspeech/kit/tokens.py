"""Signed access tokens (JWT, HS256) and opaque random secrets stored only as hashes."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

import jwt

ALGORITHM = "HS256"
ACCESS = "access"


class InvalidToken(Exception):
    """The token is malformed, badly signed, of the wrong type or expired."""


@dataclass(frozen=True)
class AccessClaims:
    user_id: int
    auth_session_id: int
    role: str
    issued_at: dt.datetime
    expires_at: dt.datetime


def encode_access_token(claims: AccessClaims, secret: str) -> str:
    payload = {
        "sub": str(claims.user_id),
        "sid": claims.auth_session_id,
        "role": claims.role,
        "typ": ACCESS,
        "iat": int(claims.issued_at.timestamp()),
        "exp": int(claims.expires_at.timestamp()),
    }
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


def decode_access_token(token: str, secret: str, now: dt.datetime) -> AccessClaims:
    """Verify signature, type and expiry against ``now`` (an injected clock, not the OS's)."""
    try:
        payload: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            options={"verify_exp": False, "verify_iat": False, "require": ["sub", "exp", "sid"]},
        )
        claims = AccessClaims(
            user_id=int(payload["sub"]),
            auth_session_id=int(payload["sid"]),
            role=str(payload.get("role", "")),
            issued_at=dt.datetime.fromtimestamp(int(payload.get("iat", 0)), dt.UTC),
            expires_at=dt.datetime.fromtimestamp(int(payload["exp"]), dt.UTC),
        )
    except (jwt.PyJWTError, KeyError, TypeError, ValueError) as exc:
        raise InvalidToken("invalid access token") from exc
    if payload.get("typ") != ACCESS:
        raise InvalidToken("not an access token")
    if now >= claims.expires_at:
        raise InvalidToken("access token expired")
    return claims


def peek_subject(token: str, secret: str) -> str | None:
    """The signed subject of a token without checking expiry (for rate-limit keys only)."""
    try:
        payload = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"verify_exp": False})
    except jwt.PyJWTError:
        return None
    subject = payload.get("sub")
    return subject if isinstance(subject, str) else None


def new_secret(nbytes: int = 32) -> str:
    """A URL-safe random secret (refresh tokens, invitation codes)."""
    return secrets.token_urlsafe(nbytes)


def hash_secret(secret: str) -> str:
    """SHA-256 hex of a high-entropy secret: lookup by hash, nothing usable at rest."""
    return hashlib.sha256(secret.encode()).hexdigest()
