"""The exam configuration an admin edits, declared once: every key's type, default, range and
description (:class:`ExamConfig`), and how a stored table of them is read.

When an edit takes effect (docs/operations.md, "Exam configuration"): a sitting takes the values
stored when it is created and keeps them (``sessions.config_snapshot``), through resumes, to its
result. Overrides and regrades are decisions taken now: they use the values stored now.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from newspeech.grading import GradingThresholds
from newspeech.models import ConfigValueType

logger = logging.getLogger(__name__)

DEFAULT_GRADE_BANDS: dict[str, int | float] = {"A": 90, "B": 80, "C": 70, "D": 60}
LANGUAGE_PATTERN = r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$"


class ExamConfig(BaseModel):
    """One set of exam configuration values: what a sitting runs on. Keys the table does not
    hold (or holds inactive) have these defaults, which are also what the seed stores."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    # The live sitting: the voice loop and speech recognition.
    vad_sensitivity: float = Field(
        0.5,
        ge=0,
        le=1,
        description="How readily the candidate's voice counts as speech (0.0-1.0): a frame is "
        "speech when the voice detector's probability reaches 1 - sensitivity (0.5: the "
        "detector's own 0.5)",
    )
    asr_language: str = Field(
        "en-US",
        pattern=LANGUAGE_PATTERN,
        max_length=35,
        description="Language the answers are transcribed in (a BCP 47 tag such as en-US; "
        "speech recognition is told its first part, en). The English-only model (tiny.en) "
        "hears English whatever this says",
    )
    # The exam's clock.
    max_question_duration_seconds: int = Field(
        120, ge=1, le=3600, description="Max time per question"
    )
    min_answer_duration_seconds: int = Field(3, ge=0, le=600, description="Min answer duration")
    session_time_limit_minutes: int = Field(
        45,
        ge=1,
        le=24 * 60,
        description="Longest a sitting may run, from identity confirmation to the last answer",
    )
    silence_prompt_seconds: float = Field(
        8,
        ge=1,
        le=600,
        description="Seconds of silence after a question before the examiner prompts (then "
        "repeats, then moves on)",
    )
    # Grading.
    keyword_matching_threshold: float = Field(
        0.8,
        ge=0,
        le=1,
        description="Marks at or above this fraction of the maximum are correct (default 8 of 10)",
    )
    keyword_partial_threshold: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Marks at or above this fraction of the maximum (and below the correct line) "
        "are partial (default 5 of 10)",
    )
    asr_review_confidence_threshold: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Answers transcribed with less confidence than this are flagged for examiner "
        "review",
    )
    llm_temperature: float = Field(
        0.0,
        ge=0,
        le=2,
        description="Sampling temperature of the LLM grader's request (NEWSPEECH_GRADER=llm or "
        "hybrid with an LLM server); 0 gives the most repeatable marks",
    )
    # The result.
    pass_percentage: float = Field(
        50,
        ge=0,
        le=100,
        description="Pass mark in percent of the maximum score; the lowest passing band starts "
        "here (with the seed's bands, E for 50-59 %) and everything below it is F.",
    )
    grade_thresholds: dict[str, int | float] = Field(
        default_factory=lambda: dict(DEFAULT_GRADE_BANDS),
        description="Lowest percentage for each passing grade; a band below the pass mark "
        "starts at it, a gap above it becomes the next letter (E), and below the pass mark is F",
    )
    total_questions: int = Field(
        12,
        ge=1,
        le=100,
        description="Questions in one sitting: each sitting's exam form takes this many from "
        "the bank",
    )
    points_per_question: int = Field(10, ge=1, le=100, description="Maximum score of one question")
    # Outside the sitting.
    max_attempts: int = Field(
        1,
        ge=1,
        le=100,
        description="Sittings of a college's exam each candidate may start (finished or ended "
        "early, each counts); examiners can allow a candidate more",
    )
    statistics_min_candidates: int = Field(
        30,
        ge=2,
        le=100_000,
        description="Fewest candidates (completed sittings) for which Cronbach's alpha and "
        "discrimination are reported; below it the statistics say there are too few",
    )

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> ExamConfig:
        """The typed values of ``values`` (stored keys to values), defaults where a key is
        missing. A stored value that does not fit its key (stored before writes were checked)
        is replaced by the default, and the log says so, rather than failing every sitting."""
        known = {key: values[key] for key in cls.model_fields if key in values}
        try:
            return cls.model_validate(known)
        except ValidationError as exc:
            bad = {str(error["loc"][0]) for error in exc.errors() if error["loc"]}
            logger.error("configuration %s: stored values are invalid; defaults used", sorted(bad))
            return cls.model_validate({k: v for k, v in known.items() if k not in bad})

    def values(self) -> dict[str, Any]:
        """Every key with its value: what the domains' ``from_config`` read."""
        return self.model_dump()

    def snapshot(self) -> dict[str, Any]:
        """The values as JSON, as a sitting stores them."""
        return self.model_dump(mode="json")

    @property
    def thresholds(self) -> GradingThresholds:
        """The grading thresholds (raises ``ConfigurationError`` when they contradict each
        other; writes are checked so that they do not)."""
        return GradingThresholds.from_config(self.values())

    @property
    def asr_language_code(self) -> str:
        """What speech recognition is told: the language subtag of :attr:`asr_language`."""
        return self.asr_language.split("-", 1)[0]

    @property
    def vad_threshold(self) -> float:
        """The voice detector's speech probability threshold for :attr:`vad_sensitivity`,
        kept inside 0.01..0.99 (a threshold of 0 or 1 would hear everything or nothing)."""
        return min(max(1.0 - self.vad_sensitivity, 0.01), 0.99)


def stored_type(key: str) -> ConfigValueType:
    """The stored type of a declared key."""
    annotation = ExamConfig.model_fields[key].annotation
    if annotation is int:
        return ConfigValueType.INTEGER
    if annotation is float:
        return ConfigValueType.FLOAT
    if annotation is str:
        return ConfigValueType.STRING
    if annotation is bool:
        return ConfigValueType.BOOLEAN
    return ConfigValueType.JSON


def bounds(key: str) -> tuple[float, float] | None:
    """The inclusive range of a declared numeric key."""
    field = ExamConfig.model_fields.get(key)
    if field is None:
        return None
    low = high = None
    for meta in field.metadata:
        low = getattr(meta, "ge", low)
        high = getattr(meta, "le", high)
    return None if low is None or high is None else (float(low), float(high))
