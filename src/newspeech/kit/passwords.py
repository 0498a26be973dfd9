"""Password hashing with Argon2id (argon2-cffi's RFC 9106 low-memory profile)."""

from __future__ import annotations

import asyncio
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def generate_password(words: int = 4) -> str:
    """A random, speakable demo password (hex groups; ~64 bits of entropy for 4 groups)."""
    return "-".join(secrets.token_hex(2) for _ in range(words))


async def hash_password_async(password: str) -> str:
    """``hash_password`` off the event loop: Argon2 costs tens of milliseconds of CPU (the C
    library releases the GIL), which would stall every other request and exam turn."""
    return await asyncio.to_thread(hash_password, password)


async def verify_password_async(password_hash: str, password: str) -> bool:
    return await asyncio.to_thread(verify_password, password_hash, password)
