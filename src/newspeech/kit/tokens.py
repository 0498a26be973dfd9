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
# Ids are 64-bit columns; timestamps must be datetimes Python can hold (years 1..9999).
_MAX_ID = 2**63 - 1
_MAX_TIMESTAMP = int(dt.datetime(9999, 12, 31, tzinfo=dt.UTC).timestamp())


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
            user_id=_id(payload["sub"]),
            auth_session_id=_id(payload["sid"]),
            role=str(payload.get("role", "")),
            issued_at=_timestamp(payload.get("iat", 0)),
            expires_at=_timestamp(payload["exp"]),
        )
    except (jwt.PyJWTError, KeyError, TypeError, ValueError) as exc:
        raise InvalidToken("invalid access token") from exc
    if payload.get("typ") != ACCESS:
        raise InvalidToken("not an access token")
    if now >= claims.expires_at:
        raise InvalidToken("access token expired")
    return claims


def _id(value: object) -> int:
    """A claim naming a row: a positive 64-bit integer (or its decimal string), nothing else."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError("an id claim must be an integer")
    if isinstance(value, str) and not (value.isascii() and value.isdigit() and len(value) <= 19):
        raise ValueError("an id claim must be decimal digits")
    number = int(value)
    if not 1 <= number <= _MAX_ID:
        raise ValueError("an id claim is out of range")
    return number


def _timestamp(value: object) -> dt.datetime:
    """A NumericDate claim (RFC 7519), bounded so it converts without overflow."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError("a time claim must be a number")
    if not 0 <= value <= _MAX_TIMESTAMP:  # also refuses NaN
        raise ValueError("a time claim is out of range")
    return dt.datetime.fromtimestamp(int(value), dt.UTC)


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
