"""The prompt registry of recording analysis (issue 17): which prompts turn a transcript into
which report.

A scenario (interview, design audit) offers report types; a prompt belongs to one report type and
one building type and runs at its ``run_part`` in the report's chain. Its text lives in
:class:`PromptVersion` rows that are never changed: an edit adds a version, so a stored report
can always name the exact text that produced it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column

from newspeech.db.base import Base, BigIntPK, CreatedAt, Timestamps
from newspeech.errors import InvalidState

KEY_LENGTH = 200
"""Longest dictionary key and name (a VARCHAR every backend can index uniquely in utf8mb4)."""


class KeyedName(Timestamps):
    """Columns of a dictionary row: ``key`` is the normalised name (unique: the subclass says
    within what), ``name`` the name as first written."""

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(KEY_LENGTH), nullable=False)
    name: Mapped[str] = mapped_column(String(KEY_LENGTH), nullable=False)


class Scenario(KeyedName, Base):
    """What kind of recording this is: a client interview, a design (site) audit."""

    __tablename__ = "analysis_scenarios"
    __table_args__ = (UniqueConstraint("key"),)


class ReportType(KeyedName, Base):
    """A report a scenario can produce (an interview's client brief, a design audit's findings)."""

    __tablename__ = "analysis_report_types"
    __table_args__ = (UniqueConstraint("scenario_id", "key"),)

    scenario_id: Mapped[int] = mapped_column(
        ForeignKey("analysis_scenarios.id", ondelete="RESTRICT"), nullable=False
    )


class BuildingType(KeyedName, Base):
    """A kind of building (hotel, restaurant, spa): picks the prompts and labels the reports.

    Both a registry entry (prompts are written per building type) and a dictionary filled on
    first use, like places and cities.
    """

    __tablename__ = "analysis_building_types"
    __table_args__ = (UniqueConstraint("key"),)


class Prompt(Timestamps, Base):
    """One step of a report's chain: part ``run_part`` of (report type, building type).

    ``is_active`` is false once the prompt left the synced folder tree; its versions stay.
    """

    __tablename__ = "analysis_prompts"
    __table_args__ = (UniqueConstraint("report_type_id", "building_type_id", "run_part"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    report_type_id: Mapped[int] = mapped_column(
        ForeignKey("analysis_report_types.id", ondelete="RESTRICT"), nullable=False
    )
    building_type_id: Mapped[int] = mapped_column(
        ForeignKey("analysis_building_types.id", ondelete="RESTRICT"), nullable=False
    )
    run_part: Mapped[int] = mapped_column(Integer, nullable=False)
    title: Mapped[str] = mapped_column(String(KEY_LENGTH), nullable=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)


class PromptVersion(CreatedAt, Base):
    """An immutable text of a prompt. ``returns_json`` marks a prompt whose answer is JSON;
    ``json_schema`` (when given) is the JSON Schema that answer must satisfy. ``sha256`` is the
    hash of text and schema together, so a sync can tell an unchanged prompt from an edit."""

    __tablename__ = "analysis_prompt_versions"
    __table_args__ = (UniqueConstraint("prompt_id", "version"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    prompt_id: Mapped[int] = mapped_column(
        ForeignKey("analysis_prompts.id", ondelete="CASCADE"), nullable=False
    )
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    returns_json: Mapped[bool] = mapped_column(Boolean, nullable=False)
    json_schema: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    source: Mapped[str | None] = mapped_column(String(500))


@event.listens_for(PromptVersion, "before_update")
def _versions_are_immutable(_mapper: Any, _connection: Any, target: PromptVersion) -> None:
    raise InvalidState(f"prompt version {target.id} cannot be changed; an edit adds a new version")
