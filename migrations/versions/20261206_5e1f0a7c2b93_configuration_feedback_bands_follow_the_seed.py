"""configuration: feedback bands follow the seed's rule (correct >= 8, partial >= 5 of 10)

The feedback type of a mark now comes from one rule, correct at or above
``keyword_matching_threshold`` of the maximum and partial at or above
``keyword_partial_threshold`` (docs/grading.md, "Feedback types"). Its defaults become the seed
documents' 0.8 and 0.5. Installations that still hold the old defaults (0.6 and 0.3, never
edited) take the new ones, with the new descriptions; a value an administrator chose is kept.
Downgrading restores the old defaults where the new ones are still in place.

Revision ID: 5e1f0a7c2b93
Revises: cea640681fbb
Create Date: 2026-12-06 17:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5e1f0a7c2b93"
down_revision: str | None = "cea640681fbb"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

configuration = sa.table(
    "configuration",
    sa.column("config_key", sa.String),
    sa.column("config_value", sa.Text),
    sa.column("description", sa.Text),
)

# key: (old default, new default, old description, new description)
CHANGES = {
    "keyword_matching_threshold": (
        "0.6",
        "0.8",
        "Keyword match threshold",
        "Marks at or above this fraction of the maximum are correct (default 8 of 10)",
    ),
    "keyword_partial_threshold": (
        "0.3",
        "0.5",
        "Answers scoring above this fraction (and below the match threshold) are partial",
        "Marks at or above this fraction of the maximum (and below the correct line) are "
        "partial (default 5 of 10)",
    ),
}


def _move(*, forward: bool) -> None:
    for key, (old, new, old_text, new_text) in CHANGES.items():
        source, target = (old, new) if forward else (new, old)
        description = new_text if forward else old_text
        op.execute(
            configuration.update()
            .where(configuration.c.config_key == key, configuration.c.config_value == source)
            .values(config_value=target, description=description)
        )


def upgrade() -> None:
    _move(forward=True)


def downgrade() -> None:
    _move(forward=False)
