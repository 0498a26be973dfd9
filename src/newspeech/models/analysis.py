"""Recording analysis (issue 17): the metadata dictionaries, recordings and their transcripts,
and the reports made from them.

Dictionaries (employees, clients, places, zones, cities; building types live with the prompt
registry) are filled on first use. Each row has a ``key``, its name normalised
(:func:`newspeech.analysis.keys.dictionary_key`), unique on every backend, and the ``name`` as
first written. The key, not the name, is unique because MariaDB compares text without case and
PostgreSQL and SQLite with it: the normalised key makes "Grand Hotel" and "grand  hotel" one
place on all three.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    Float,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from newspeech.db.base import Base, BigIntPK, Timestamps
from newspeech.models.enums import ReportStatus, TranscriptionStatus, enum_column
from newspeech.models.prompts import KeyedName


class _Dictionary(KeyedName):
    @declared_attr.directive
    def __table_args__(cls) -> tuple[UniqueConstraint]:
        return (UniqueConstraint("key"),)


class Employee(_Dictionary, Base):
    """A member of the field team who made a recording."""

    __tablename__ = "analysis_employees"


class Client(_Dictionary, Base):
    """Whom the interview or audit was for."""

    __tablename__ = "analysis_clients"


class Place(_Dictionary, Base):
    """The building or venue recorded (a named hotel, restaurant ...)."""

    __tablename__ = "analysis_places"


class Zone(_Dictionary, Base):
    """A part of a place an audit covers (lobby, kitchen, treatment rooms ...)."""

    __tablename__ = "analysis_zones"


class City(_Dictionary, Base):
    __tablename__ = "analysis_cities"


def _optional(table: str) -> Mapped[int | None]:
    return mapped_column(ForeignKey(f"{table}.id", ondelete="RESTRICT"))


class Transcription(Timestamps, Base):
    """One uploaded recording, its metadata and (once transcribed) its timed transcript.

    ``recording_key`` names the audio in the audio store. ``segments`` holds the timed
    transcript: ``[{"start", "end", "speaker", "text", "words": [{"start", "end", "word"}]}]``.
    """

    __tablename__ = "analysis_transcriptions"
    __table_args__ = (
        Index("ix_analysis_transcriptions_status", "status"),
        Index("ix_analysis_transcriptions_recorded_on", "recorded_on"),
        Index("ix_analysis_transcriptions_place_id", "place_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    recording_key: Mapped[str] = mapped_column(String(500), unique=True, nullable=False)
    original_filename: Mapped[str | None] = mapped_column(String(255))
    content_type: Mapped[str | None] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(BigInteger, nullable=False)
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    status: Mapped[TranscriptionStatus] = mapped_column(
        enum_column(TranscriptionStatus, "transcription_status"),
        default=TranscriptionStatus.UPLOADED,
        nullable=False,
    )
    language: Mapped[str | None] = mapped_column(String(16))
    text: Mapped[str | None] = mapped_column(Text)
    segments: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    recorded_on: Mapped[dt.date | None] = mapped_column(Date)
    scenario_id: Mapped[int] = mapped_column(
        ForeignKey("analysis_scenarios.id", ondelete="RESTRICT"), nullable=False
    )
    building_type_id: Mapped[int | None] = _optional("analysis_building_types")
    employee_id: Mapped[int | None] = _optional("analysis_employees")
    client_id: Mapped[int | None] = _optional("analysis_clients")
    place_id: Mapped[int | None] = _optional("analysis_places")
    zone_id: Mapped[int | None] = _optional("analysis_zones")
    city_id: Mapped[int | None] = _optional("analysis_cities")
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class Report(Timestamps, Base):
    """A report of one type made from a transcription (the specification's "audit").

    Employee, client, place and date are the report's own: copied from the transcription when
    the report is asked for, so correcting a recording's metadata later does not rewrite reports
    already delivered. ``body`` is the Markdown report; ``data`` the parsed JSON parts.
    """

    __tablename__ = "analysis_reports"
    __table_args__ = (
        Index("ix_analysis_reports_transcription_id", "transcription_id"),
        Index("ix_analysis_reports_report_date", "report_date"),
        Index("ix_analysis_reports_place_id", "place_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    transcription_id: Mapped[int] = mapped_column(
        ForeignKey("analysis_transcriptions.id", ondelete="CASCADE"), nullable=False
    )
    report_type_id: Mapped[int] = mapped_column(
        ForeignKey("analysis_report_types.id", ondelete="RESTRICT"), nullable=False
    )
    employee_id: Mapped[int | None] = _optional("analysis_employees")
    client_id: Mapped[int | None] = _optional("analysis_clients")
    place_id: Mapped[int | None] = _optional("analysis_places")
    report_date: Mapped[dt.date | None] = mapped_column(Date)
    status: Mapped[ReportStatus] = mapped_column(
        enum_column(ReportStatus, "report_status"), default=ReportStatus.PENDING, nullable=False
    )
    body: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)


class TranscriptSegment(Base):
    """One timed segment of a transcript, a row of its own so it can be searched.

    Written with the transcript (the ``assemble`` stage); ``words`` are the segment's words with
    their times in the whole recording (``[{"start", "end", "word"}]``). Each backend indexes
    ``text`` for full-text search (migration ``d4e8a1c3f5b7``): a GIN index over
    ``to_tsvector('simple', text)`` on PostgreSQL, a FULLTEXT index on MariaDB, an FTS5 table
    kept in step by triggers on SQLite.
    """

    __tablename__ = "analysis_transcript_segments"
    __table_args__ = (UniqueConstraint("transcription_id", "position"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    transcription_id: Mapped[int] = mapped_column(
        ForeignKey("analysis_transcriptions.id", ondelete="CASCADE"), nullable=False
    )
    position: Mapped[int] = mapped_column(nullable=False)
    start_seconds: Mapped[float] = mapped_column(Float, nullable=False)
    end_seconds: Mapped[float] = mapped_column(Float, nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    words: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False)


class RoutingChoice(Timestamps, Base):
    """What an analyst chose on their last upload: the scenario, its report types and the
    building type, offered as the default on their next upload. One row per user, rewritten
    by each upload (or ``PUT /analysis/routing``)."""

    __tablename__ = "analysis_routing_choices"

    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    scenario_id: Mapped[int] = mapped_column(
        ForeignKey("analysis_scenarios.id", ondelete="CASCADE"), nullable=False
    )
    report_types: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    """the report types' keys, in the order chosen"""
    building_type_id: Mapped[int | None] = mapped_column(
        ForeignKey("analysis_building_types.id", ondelete="SET NULL")
    )
