"""Admin-editable configuration: typed values, validated against each key's type and range."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from newspeech.audits.service import Auditor
from newspeech.configuration.keys import LANGUAGE_PATTERN, ExamConfig, bounds, stored_type
from newspeech.configuration.repository import ConfigurationRepository
from newspeech.configuration.schemas import ConfigEntryRead, ConfigEntryWrite
from newspeech.configuration.values import parse_value
from newspeech.errors import ConfigurationError, NotFound, ValidationFailed
from newspeech.exams.plan import ExamRules
from newspeech.grading import GradingThresholds
from newspeech.models import ConfigEntry, ConfigValueType, User
from newspeech.results.rules import ResultPolicy

# Keys the result rules read: a change is checked against the others as they stand.
RESULT_KEYS = frozenset(
    ["pass_percentage", "grade_thresholds", "total_questions", "points_per_question"]
)
# Keys the graders read (every sitting builds its thresholds from them).
GRADING_KEYS = frozenset(GradingThresholds.CONFIG_KEYS)
# Keys of a sitting's clock rules, checked together (the shortest answer below the longest).
EXAM_KEYS = frozenset(
    [
        "max_question_duration_seconds",
        "min_answer_duration_seconds",
        "session_time_limit_minutes",
        "silence_prompt_seconds",
    ]
)


def to_read(entry: ConfigEntry) -> ConfigEntryRead:
    return ConfigEntryRead(
        config_key=entry.config_key,
        value=parse_value(entry.config_key, entry.config_value, entry.value_type),
        value_type=entry.value_type,
        description=entry.description,
        is_active=entry.is_active,
        updated_at=entry.updated_at,
    )


def _check_value(key: str, value: Any, value_type: ConfigValueType) -> None:
    numeric = value_type in (ConfigValueType.INTEGER, ConfigValueType.FLOAT)
    if numeric and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise ValidationFailed(f"configuration {key!r} takes a number")
    if numeric and not math.isfinite(value):
        raise ValidationFailed(f"configuration {key!r} must be finite")
    if value_type is ConfigValueType.BOOLEAN and not isinstance(value, bool):
        raise ValidationFailed(f"configuration {key!r} takes true or false")
    if value_type is ConfigValueType.STRING and not isinstance(value, str):
        raise ValidationFailed(f"configuration {key!r} takes a string")
    limits = bounds(key)
    if limits and numeric and not limits[0] <= value <= limits[1]:
        raise ValidationFailed(f"configuration {key!r} must be within {limits[0]:g}..{limits[1]:g}")
    if key == "asr_language" and not (
        isinstance(value, str) and re.fullmatch(LANGUAGE_PATTERN, value)
    ):
        raise ValidationFailed(
            f"configuration 'asr_language' takes a language tag such as en-US, not {value!r}"
        )
    if key == "grade_thresholds":
        _check_grade_thresholds(value)


def _check_grade_thresholds(value: Any) -> None:
    """An object of one-letter grades (not F) to their lowest percentage, a number in 0..100;
    no two grades share a floor."""
    if not isinstance(value, dict):
        raise ValidationFailed(
            'configuration \'grade_thresholds\' takes an object like {"A": 90, "B": 80}'
        )
    for grade, floor in value.items():
        if not (len(grade) == 1 and grade.isascii() and grade.isalpha()):
            raise ValidationFailed(f"grade {grade!r} must be one letter A-Z")
        if isinstance(floor, bool) or not isinstance(floor, int | float):
            raise ValidationFailed(f"grade {grade!r} needs a number (a percentage), not {floor!r}")
        if not (math.isfinite(floor) and 0 <= floor <= 100):
            raise ValidationFailed(f"grade {grade!r} must start within 0..100 %, not {floor}")
    if len({grade.upper() for grade in value}) != len(value):
        raise ValidationFailed("each grade may appear once")
    if len(set(value.values())) != len(value):
        raise ValidationFailed("two grades may not start at the same percentage")


def _check_result_policy(values: dict[str, Any]) -> None:
    """Refuse result rules that contradict themselves (a pass printed as F, say)."""
    try:
        ResultPolicy.from_config(values)
    except (ValueError, TypeError, AttributeError) as exc:
        raise ValidationFailed(f"the result rules would not hold: {exc}") from exc


def _check_buildable(build: Callable[[dict[str, Any]], object], values: dict[str, Any]) -> None:
    """Refuse values every sitting would fail to build its rules from (partial grading band at
    or above correct, the shortest answer not below the longest ...)."""
    try:
        build(values)
    except ConfigurationError as exc:
        raise ValidationFailed(exc.detail) from exc


class ConfigurationService:
    def __init__(self, db: AsyncSession, auditor: Auditor) -> None:
        self.db = db
        self.auditor = auditor
        self.entries = ConfigurationRepository(db)

    async def all(self) -> list[ConfigEntry]:
        return await self.entries.list()

    async def get(self, key: str) -> ConfigEntry:
        entry = await self.entries.get_entry(key)
        if entry is None:
            raise NotFound(f"configuration {key!r} does not exist")
        return entry

    async def write(self, actor: User, key: str, data: ConfigEntryWrite) -> ConfigEntry:
        existing = await self.entries.get_entry(key)
        if existing is not None and data.value_type not in (None, existing.value_type):
            raise ValidationFailed(
                f"configuration {key!r} is a {existing.value_type.value}; its type cannot change"
            )
        if existing is not None:
            value_type = existing.value_type
        elif key in ExamConfig.model_fields:  # a declared key (re)created: its declared type
            value_type = stored_type(key)
            if data.value_type not in (None, value_type):
                raise ValidationFailed(f"configuration {key!r} is a {value_type.value}")
        else:
            value_type = data.value_type or ConfigValueType.STRING
        _check_value(key, data.value, value_type)
        declared = ExamConfig.model_fields.get(key)
        description = data.description
        if description is None and existing is None and declared is not None:
            description = declared.description
        entry = await self.entries.set(
            key, data.value, value_type=value_type, description=description
        )
        if data.is_active is not None:
            entry.is_active = data.is_active
            await self.db.flush()
        # Checked against the stored values with this change flushed; a refusal rolls the
        # request's transaction back, so nothing stored changes.
        if key in RESULT_KEYS:
            _check_result_policy(await self.entries.values())
        if key in GRADING_KEYS:
            _check_buildable(GradingThresholds.from_config, await self.entries.values())
        if key in EXAM_KEYS:
            _check_buildable(ExamRules.from_config, await self.entries.values())
        await self.auditor.record(
            "configuration.write",
            actor_id=actor.id,
            resource_type="configuration",
            resource_id=entry.id,
            details={"key": key, "value": entry.config_value},
        )
        return entry
