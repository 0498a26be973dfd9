"""The secret that signs access tokens when none is configured: generated once, kept in the data
directory (readable by its owner only) and reused by every later start.

Rotating it is deleting the file (or setting ``NEWSPEECH_SECRET_KEY``) and restarting: every access
token signed with the old secret stops working at once; refresh tokens are opaque and stored
hashed, so signed-in clients simply refresh.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import stat
from pathlib import Path

logger = logging.getLogger(__name__)

FILE_NAME = "secret_key"
# 64 random bytes, URL-safe: well past HS256's 256-bit key size.
_NBYTES = 64
MIN_LENGTH = 32


class SigningKeyError(Exception):
    """The stored secret cannot be read or written, or is too short to trust."""


def load_or_create(data_dir: Path) -> tuple[str, bool]:
    """The secret stored in ``data_dir`` and whether this call created it.

    Creation is exclusive (``O_EXCL``), so two processes starting at once agree on one secret:
    the loser of the race reads the winner's file.
    """
    path = data_dir / FILE_NAME
    try:
        return _read(path), False
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(_NBYTES)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read(path), False
    except OSError as exc:
        raise SigningKeyError(f"cannot create the token secret {path}: {exc}") from exc
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(secret + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return secret, True


def _read(path: Path) -> str:
    try:
        mode = path.stat().st_mode
        secret = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError) as exc:
        raise SigningKeyError(f"cannot read the token secret {path}: {exc}") from exc
    if len(secret) < MIN_LENGTH:
        raise SigningKeyError(
            f"the token secret in {path} is shorter than {MIN_LENGTH} characters; "
            "delete the file to have a new one generated"
        )
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        # Tighten a copy restored with loose permissions rather than refuse to start.
        with contextlib.suppress(OSError):
            path.chmod(0o600)
            logger.warning("token secret %s was readable by others; now mode 0600", path)
    return secret
