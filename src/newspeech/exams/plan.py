"""What one sitting is made of (its cases and questions) and the clock rules it runs under.

Plain data, built once per sitting from its exam form (newspeech.exams.form) and the
configuration table; the engine reads it and never changes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from newspeech.errors import ConfigurationError


@dataclass(frozen=True)
class PlannedQuestion:
    number: int
    """Position in the sitting, 1..12 (``answers.question_number``)."""
    scenario_index: int
    """Position of its case in the sitting, 1..4."""
    scenario_id: int
    text: str
    question_id: int
    """The ``question_banks`` row."""
    hotwords: tuple[str, ...] = ()
    """The question's key terms and then their synonyms, each with a comma, which the decoder
    is biased towards (newspeech.voice.bias.hotwords): measured by ``scripts/bench terms``, this
    raised key-term recall with tiny.en from 83.3 % to 93.7 % (newspeech.voice.bias)."""


@dataclass(frozen=True)
class PlannedScenario:
    index: int
    scenario_id: int
    name: str
    case: str
    questions: tuple[PlannedQuestion, ...]


@dataclass(frozen=True)
class ExamPlan:
    college_name: str
    scenarios: tuple[PlannedScenario, ...]

    @property
    def questions(self) -> tuple[PlannedQuestion, ...]:
        return tuple(q for scenario in self.scenarios for q in scenario.questions)

    def scenario_of(self, question: PlannedQuestion) -> PlannedScenario:
        return self.scenarios[question.scenario_index - 1]


@dataclass(frozen=True)
class ExamRules:
    """Clock rules of a sitting, in seconds (the configuration table stores minutes for the
    session limit)."""

    max_answer_seconds: float = 120.0
    min_answer_seconds: float = 3.0
    """A first answer with less speech than this gets "could you say a little more?" (once).
    It does not hold the turn open: the turn model ends it, and speech that goes on after
    the turn was declared extends the same answer."""
    session_limit_seconds: float = 45 * 60.0
    silence_prompt_seconds: float = 8.0
    identity_attempts: int = 3
    """Unclear replies (or silences) to "are you ...?" before the sitting ends unconfirmed."""

    def __post_init__(self) -> None:
        if self.max_answer_seconds <= 0 or self.session_limit_seconds <= 0:
            raise ConfigurationError("answer and session time limits must be positive")
        if not 0 <= self.min_answer_seconds < self.max_answer_seconds:
            raise ConfigurationError(
                f"min_answer_duration_seconds {self.min_answer_seconds} must be at least 0 and "
                f"below max_question_duration_seconds {self.max_answer_seconds}"
            )
        if self.silence_prompt_seconds <= 0 or self.identity_attempts < 1:
            raise ConfigurationError("silence prompt and identity attempts must be positive")

    @classmethod
    def from_config(cls, values: Mapping[str, Any]) -> ExamRules:
        """From configuration values; missing keys keep the seed's defaults."""
        try:
            return cls(
                max_answer_seconds=float(
                    values.get("max_question_duration_seconds", cls.max_answer_seconds)
                ),
                min_answer_seconds=float(
                    values.get("min_answer_duration_seconds", cls.min_answer_seconds)
                ),
                session_limit_seconds=60.0
                * float(values.get("session_time_limit_minutes", cls.session_limit_seconds / 60)),
                silence_prompt_seconds=float(
                    values.get("silence_prompt_seconds", cls.silence_prompt_seconds)
                ),
            )
        except (TypeError, ValueError) as exc:
            raise ConfigurationError(f"invalid exam time limit: {exc}") from exc
