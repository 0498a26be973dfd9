"""configuration: one owner; each sitting keeps the values it started with

``sessions.config_snapshot`` holds the exam configuration a sitting was created with
(newspeech.configuration.keys.ExamConfig as JSON); resuming, grading and the result read it, so
an admin's edit reaches new sittings only. Sittings created before this revision have none: the
first resume stores the values of that moment.

Three keys the specification listed were stored and editable but never read, and have no honest
consumer; they are deleted (docs/operations.md, "Exam configuration", says why):
``voice_threshold`` (the voice detector has one threshold: ``vad_sensitivity``),
``latency_target_ms`` (the latency goal is the alert rule's, deploy/prometheus/alerts.yml) and
``tts_max_buffer_size`` (examiner audio is paced by ``NEWSPEECH_TTS_LEAD_SECONDS``; there is no
buffer for a size to bound). ``llm_temperature`` now reaches the LLM grader; the seed's 0.7 was
never used (the grader sent 0), so a value still at that default becomes 0 and marks do not
change. Downgrading restores the three keys with the seed's values and 0.7 where 0 stands.

Revision ID: b7c41e2d9f05
Revises: 9dadb2a589ff
Create Date: 2026-12-07 02:45:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b7c41e2d9f05"
down_revision: str | None = "9dadb2a589ff"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

configuration = sa.table(
    "configuration",
    sa.column("config_key", sa.String),
    sa.column("config_value", sa.Text),
    sa.column("description", sa.Text),
)

# key: (seed value, seed type, seed description)
REMOVED = {
    "voice_threshold": ("45", "integer", "Voice detection threshold"),
    "latency_target_ms": ("400", "integer", "Target latency in ms"),
    "tts_max_buffer_size": ("16000", "integer", "TTS buffer size"),
}
TEMPERATURE = "llm_temperature"
TEMPERATURE_TEXT = (
    "Sampling temperature of the LLM grader's request (NEWSPEECH_GRADER=llm or hybrid with an "
    "LLM server); 0 gives the most repeatable marks"
)


def upgrade() -> None:
    op.add_column("sessions", sa.Column("config_snapshot", sa.JSON(), nullable=True))
    op.execute(configuration.delete().where(configuration.c.config_key.in_(list(REMOVED))))
    op.execute(
        configuration.update()
        .where(configuration.c.config_key == TEMPERATURE, configuration.c.config_value == "0.7")
        .values(config_value="0", description=TEMPERATURE_TEXT)
    )


def downgrade() -> None:
    op.execute(
        configuration.update()
        .where(configuration.c.config_key == TEMPERATURE, configuration.c.config_value == "0")
        .values(config_value="0.7", description="LLM temperature parameter")
    )
    rows = sa.table(
        "configuration",
        sa.column("config_key", sa.String),
        sa.column("config_value", sa.Text),
        sa.column("value_type", sa.String),
        sa.column("description", sa.Text),
        sa.column("is_active", sa.Boolean),
        sa.column("created_at", sa.DateTime),
        sa.column("updated_at", sa.DateTime),
    )
    for key, (value, kind, description) in REMOVED.items():
        op.execute(
            rows.insert().from_select(
                [
                    "config_key",
                    "config_value",
                    "value_type",
                    "description",
                    "is_active",
                    "created_at",
                    "updated_at",
                ],
                sa.select(
                    sa.literal(key),
                    sa.literal(value),
                    sa.literal(kind),
                    sa.literal(description),
                    sa.true(),
                    sa.func.current_timestamp(),
                    sa.func.current_timestamp(),
                ).where(~sa.exists().where(configuration.c.config_key == key)),
            )
        )
    op.drop_column("sessions", "config_snapshot")
