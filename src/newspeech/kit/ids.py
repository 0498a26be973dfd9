from __future__ import annotations

import secrets

SESSION_CODE_PREFIX = "VIVA-"


def new_session_code() -> str:
    """``VIVA-`` followed by 12 upper-case hex digits (48 random bits)."""
    return SESSION_CODE_PREFIX + secrets.token_hex(6).upper()
