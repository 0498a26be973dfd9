"""Typed configuration values: parsing, validation, and the seed's defaults."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

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


SEED_DEFAULTS: tuple[ConfigDefault, ...] = (
    ConfigDefault("voice_threshold", "45", ConfigValueType.INTEGER, "Voice detection threshold"),
    ConfigDefault("vad_sensitivity", "0.5", ConfigValueType.FLOAT, "VAD sensitivity (0.0-1.0)"),
    ConfigDefault("latency_target_ms", "400", ConfigValueType.INTEGER, "Target latency in ms"),
    ConfigDefault(
        "max_question_duration_seconds", "120", ConfigValueType.INTEGER, "Max time per question"
    ),
    ConfigDefault(
        "min_answer_duration_seconds", "3", ConfigValueType.INTEGER, "Min answer duration"
    ),
    ConfigDefault(
        "keyword_matching_threshold",
        "0.8",
        ConfigValueType.FLOAT,
        "Marks at or above this fraction of the maximum are correct (default 8 of 10)",
    ),
    ConfigDefault(
        "keyword_partial_threshold",
        "0.5",
        ConfigValueType.FLOAT,
        "Marks at or above this fraction of the maximum (and below the correct line) are "
        "partial (default 5 of 10)",
    ),
    ConfigDefault(
        "asr_review_confidence_threshold",
        "0.5",
        ConfigValueType.FLOAT,
        "Answers transcribed with less confidence than this are flagged for examiner review",
    ),
    ConfigDefault(
        "session_time_limit_minutes",
        "45",
        ConfigValueType.INTEGER,
        "Longest a sitting may run, from identity confirmation to the last answer",
    ),
    ConfigDefault(
        "silence_prompt_seconds",
        "8",
        ConfigValueType.FLOAT,
        "Seconds of silence after a question before the examiner prompts (then repeats, then "
        "moves on)",
    ),
    ConfigDefault("tts_max_buffer_size", "16000", ConfigValueType.INTEGER, "TTS buffer size"),
    ConfigDefault("asr_language", "en-US", ConfigValueType.STRING, "ASR language code"),
    ConfigDefault("llm_temperature", "0.7", ConfigValueType.FLOAT, "LLM temperature parameter"),
    ConfigDefault(
        "pass_percentage",
        "50",
        ConfigValueType.FLOAT,
        "Pass mark in percent of the maximum score; the lowest passing band starts here (with "
        "the seed's bands, E for 50-59 %) and everything below it is F.",
    ),
    ConfigDefault(
        "grade_thresholds",
        '{"A": 90, "B": 80, "C": 70, "D": 60}',
        ConfigValueType.JSON,
        "Lowest percentage for each passing grade; a band below the pass mark starts at it, a "
        "gap above it becomes the next letter (E), and below the pass mark is F",
    ),
    ConfigDefault(
        "total_questions",
        "12",
        ConfigValueType.INTEGER,
        "Questions in one sitting: each sitting's exam form takes this many from the bank",
    ),
    ConfigDefault(
        "max_attempts",
        "1",
        ConfigValueType.INTEGER,
        "Sittings of a college's exam each candidate may start (finished or ended early, each "
        "counts); examiners can allow a candidate more",
    ),
    ConfigDefault(
        "points_per_question", "10", ConfigValueType.INTEGER, "Maximum score of one question"
    ),
    ConfigDefault(
        "statistics_min_candidates",
        "30",
        ConfigValueType.INTEGER,
        "Fewest candidates (completed sittings) for which Cronbach's alpha and discrimination "
        "are reported; below it the statistics say there are too few",
    ),
)
