"""Closed vocabularies of the seed schema, stored as VARCHAR + CHECK on every backend."""

from __future__ import annotations

import enum
from typing import Any

from sqlalchemy import Enum


class UserRole(enum.StrEnum):
    STUDENT = "student"
    EXAMINER = "examiner"
    ADMIN = "admin"


class UserStatus(enum.StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    SUSPENDED = "suspended"


class SessionStatus(enum.StrEnum):
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    TERMINATED = "terminated"


class Difficulty(enum.StrEnum):
    EASY = "easy"
    MEDIUM = "medium"
    HARD = "hard"


class EvaluatorType(enum.StrEnum):
    KEYWORD_MATCH = "keyword_match"
    LLM_BASED = "llm_based"
    MANUAL = "manual"
    HYBRID = "hybrid"


class FeedbackType(enum.StrEnum):
    CORRECT = "correct"
    PARTIAL = "partial"
    INCORRECT = "incorrect"


class ConfigValueType(enum.StrEnum):
    STRING = "string"
    INTEGER = "integer"
    FLOAT = "float"
    BOOLEAN = "boolean"
    JSON = "json"


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
