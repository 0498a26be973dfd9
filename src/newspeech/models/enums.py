"""The seed schema's closed vocabularies (:mod:`newspeech.enums`) as portable columns: VARCHAR +
CHECK on every backend."""

from __future__ import annotations

import enum
from typing import Any

from sqlalchemy import Enum

from newspeech.enums import (
    AnalysisJobStatus,
    AnalysisStageKind,
    AnalysisStageStatus,
    ConfigValueType,
    Difficulty,
    EvaluatorType,
    FeedbackType,
    ReportRunStatus,
    ReportStatus,
    SessionStatus,
    TranscriptionStatus,
    UserRole,
    UserStatus,
)

__all__ = [
    "AnalysisJobStatus",
    "AnalysisStageKind",
    "AnalysisStageStatus",
    "ConfigValueType",
    "Difficulty",
    "EvaluatorType",
    "FeedbackType",
    "ReportRunStatus",
    "ReportStatus",
    "SessionStatus",
    "TranscriptionStatus",
    "UserRole",
    "UserStatus",
    "enum_column",
]


def enum_column(enum_class: type[enum.StrEnum], name: str) -> Enum:
    """A portable enum column: VARCHAR plus a named CHECK constraint, values not member names.

    Native PostgreSQL enum types cannot gain values inside a transaction and need their own
    migrations; a CHECK constraint behaves the same on SQLite, PostgreSQL and MariaDB.
    """

    def values(members: Any) -> list[str]:
        return [member.value for member in members]

    return Enum(
        enum_class,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=max(len(member.value) for member in enum_class),
        values_callable=values,
        validate_strings=True,
    )
