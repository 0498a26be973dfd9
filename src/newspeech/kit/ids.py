from __future__ import annotations

import secrets
from typing import Annotated

from annotated_types import Ge, Le

SESSION_CODE_PREFIX = "VIVA-"


def new_session_code() -> str:
    """``VIVA-`` followed by 12 upper-case hex digits (48 random bits)."""
    return SESSION_CODE_PREFIX + secrets.token_hex(6).upper()


# Every table's id is a BIGINT (SQLite's INTEGER is 64-bit too); an id past that range can name no
# row, and sending it to the database overflows (a 500 on PostgreSQL and MariaDB). Ids start at 1.
MAX_ID = 2**63 - 1
# Scenario ids and question numbers are 32-bit INTEGER columns.
MAX_INT32 = 2**31 - 1

Id = Annotated[int, Ge(1), Le(MAX_ID)]
"""A row id, as a path parameter, query filter or body field."""

ScenarioId = Annotated[int, Ge(1), Le(MAX_INT32)]
"""A scenario's number within its college's bank."""
