"""Closed vocabularies of the seed schema (roles, statuses, evaluator and feedback types, ...).

Plain ``StrEnum``s with no database in sight, so that pure packages (``grading``) can name them;
:mod:`newspeech.models.enums` maps them onto portable columns.
"""

from __future__ import annotations

import enum


class UserRole(enum.StrEnum):
    STUDENT = "student"
    EXAMINER = "examiner"
    ADMIN = "admin"
    # Recording analysis (issue 17): uploads, transcripts, search; no exam data.
    ANALYST = "analyst"


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


class TranscriptionStatus(enum.StrEnum):
    """Where a recording of the analysis service stands (issue 17)."""

    UPLOADED = "uploaded"
    TRANSCRIBING = "transcribing"
    TRANSCRIBED = "transcribed"
    FAILED = "failed"


class ReportStatus(enum.StrEnum):
    PENDING = "pending"
    READY = "ready"
    FAILED = "failed"


class ReportRunStatus(enum.StrEnum):
    """One run of a report's prompt chain (issue 17): re-running a report adds a run."""

    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


class AnalysisJobStatus(enum.StrEnum):
    """A recording-analysis job (issue 17): queued until a worker takes it up."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class AnalysisStageKind(enum.StrEnum):
    CUT = "cut"
    """decode the recording and cut it at silences into pieces"""
    TRANSCRIBE = "transcribe"
    """one piece through speech-to-text, word timestamps kept"""
    ASSEMBLE = "assemble"
    """the pieces' words as the recording's timed transcript"""
    SPEAKERS = "speakers"
    """an LLM pass labels each segment's speaker (interviewer / respondent)"""
    PROMPT = "prompt"
    """one prompt of a report's chain over the transcript (split into parts when long)"""
    REPORT = "report"
    """a report run's parts assembled as Markdown and PDF"""


class AnalysisStageStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
