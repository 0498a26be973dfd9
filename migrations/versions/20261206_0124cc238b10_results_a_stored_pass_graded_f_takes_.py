"""results: a stored pass graded F takes the lowest passing band

The result rules now start the lowest passing band at the pass mark (README, "Pass mark and
grades"), so a pass is never graded F. Results stored before were: a pass between the pass mark
and the lowest configured band got F. They take the band the rules now give them (the letter
after the lowest configured band: E with the seed's bands), and lose their stored certificate
so the next download states the new grade. Self-contained (no application imports): it reads
``grade_thresholds`` from the configuration table as the rules do. Downgrading keeps the new
grades.

Revision ID: 0124cc238b10
Revises: 0d217c5d6a87
Create Date: 2026-12-06 14:15:48.448362+00:00
"""

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0124cc238b10"
down_revision: str | None = "0d217c5d6a87"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEED_BANDS = {"A": 90.0, "B": 80.0, "C": 70.0, "D": 60.0}

configuration = sa.table(
    "configuration",
    sa.column("config_key", sa.String),
    sa.column("config_value", sa.Text),
    sa.column("is_active", sa.Boolean),
)
results = sa.table(
    "results",
    sa.column("id", sa.BigInteger),
    sa.column("grade", sa.String),
    sa.column("pass_status", sa.Boolean),
    sa.column("result_json", sa.JSON),
    sa.column("certificate_path", sa.String),
)


def _bands(connection: sa.Connection) -> dict[str, float]:
    raw = connection.execute(
        sa.select(configuration.c.config_value).where(
            configuration.c.config_key == "grade_thresholds",
            configuration.c.is_active.is_(True),
        )
    ).scalar_one_or_none()
    try:
        value = json.loads(raw) if raw else None
        if isinstance(value, dict) and value:
            return {str(grade): float(floor) for grade, floor in value.items()}
    except (TypeError, ValueError):
        pass
    return SEED_BANDS


def _lowest_passing_letter(bands: dict[str, float]) -> str | None:
    """The letter after the lowest band (D -> E); None when there is none but F."""
    lowest = min(bands.items(), key=lambda band: band[1])[0]
    if len(lowest) != 1 or not lowest.isalpha() or lowest.upper() >= "Z":
        return None
    letter = chr(ord(lowest.upper()) + 1)
    return None if letter == "F" else letter


def upgrade() -> None:
    connection = op.get_bind()
    letter = _lowest_passing_letter(_bands(connection))
    if letter is None:
        return
    rows = connection.execute(
        sa.select(results.c.id, results.c.result_json).where(
            results.c.pass_status.is_(True), results.c.grade == "F"
        )
    ).all()
    for result_id, result_json in rows:
        stored: Any = result_json
        if isinstance(stored, dict):
            stored = {**stored, "grade": letter}
        connection.execute(
            results.update()
            .where(results.c.id == result_id)
            .values(grade=letter, result_json=stored, certificate_path=None)
        )


def downgrade() -> None:
    pass  # the new grades stay: printing those passes as F again would restore the contradiction
