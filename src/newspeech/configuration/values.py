"""Typed configuration values: parsing, validation, and the seed's defaults."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from newspeech.configuration.keys import ExamConfig, stored_type
from newspeech.errors import ValidationFailed
from newspeech.models import ConfigValueType

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def parse_value(key: str, raw: str | None, value_type: ConfigValueType) -> Any:
    """Turn stored text into a Python value of ``value_type``."""
    if raw is None:
        return None
    try:
        if value_type is ConfigValueType.INTEGER:
            return int(raw)
        if value_type is ConfigValueType.FLOAT:
            return float(raw)
        if value_type is ConfigValueType.BOOLEAN:
            lowered = raw.strip().lower()
            if lowered in _TRUE:
                return True
            if lowered in _FALSE:
                return False
            raise ValueError(f"expected one of {sorted(_TRUE | _FALSE)}")
        if value_type is ConfigValueType.JSON:
            return json.loads(raw)
        return raw
    except ValueError as exc:
        raise ValidationFailed(
            f"configuration {key!r}: {raw!r} is not a valid {value_type.value} ({exc})"
        ) from exc


def render_value(key: str, value: Any, value_type: ConfigValueType) -> str:
    """Validate ``value`` against ``value_type`` and return the text to store."""
    if value_type is ConfigValueType.JSON:
        try:
            return json.dumps(value, sort_keys=True, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ValidationFailed(f"configuration {key!r}: value is not JSON ({exc})") from exc
    if value_type is ConfigValueType.BOOLEAN and isinstance(value, bool):
        text = "true" if value else "false"
    elif value_type is ConfigValueType.INTEGER and isinstance(value, bool):
        raise ValidationFailed(f"configuration {key!r}: expected an integer, got a boolean")
    elif value_type is ConfigValueType.INTEGER and isinstance(value, float):
        if not value.is_integer():
            raise ValidationFailed(f"configuration {key!r}: {value} is not a whole number")
        text = str(int(value))
    else:
        text = str(value)
    parse_value(key, text, value_type)  # raises if it does not round-trip
    return text


@dataclass(frozen=True)
class ConfigDefault:
    key: str
    value: str
    value_type: ConfigValueType
    description: str


def _seed_text(value: Any) -> str:
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


SEED_DEFAULTS: tuple[ConfigDefault, ...] = tuple(
    ConfigDefault(
        key,
        _seed_text(field.get_default(call_default_factory=True)),
        stored_type(key),
        field.description or key,
    )
    for key, field in ExamConfig.model_fields.items()
)
"""What the seed stores: every key of :class:`ExamConfig` with its default."""
