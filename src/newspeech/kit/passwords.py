"""Password hashing with Argon2id, at OWASP's recommended m=19 MiB, t=2, p=1 (docs/passwords.md:
measured by ``scripts/bench passwords``; a class of 200 signs in within 10 s on two cores).

Hashes made with other settings (earlier installs used argon2-cffi's default, RFC 9106's
low-memory profile: 64 MiB, t=3, p=4) still verify, since a hash names its own settings, and
are rehashed with these at the next sign-in (``needs_rehash``)."""

from __future__ import annotations

import asyncio
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

PARAMETERS = {"memory_cost": 19 * 1024, "time_cost": 2, "parallelism": 1}
"""Argon2id's memory in KiB, passes and lanes."""


def argon2id(parameters: dict[str, int]) -> PasswordHasher:
    """A hasher with ``parameters`` (``PARAMETERS``' keys)."""
    return PasswordHasher(
        memory_cost=parameters["memory_cost"],
        time_cost=parameters["time_cost"],
        parallelism=parameters["parallelism"],
    )


_hasher = argon2id(PARAMETERS)


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
