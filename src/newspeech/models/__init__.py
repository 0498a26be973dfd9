"""All tables; importing this package registers every model on ``Base.metadata`` (Alembic
needs it)."""

from newspeech.models.analysis import (
    City,
    Client,
    Employee,
    Place,
    Report,
    RoutingChoice,
    Transcription,
    TranscriptSegment,
    Zone,
)
from newspeech.models.analysis_jobs import AnalysisJob, AnalysisJobStage
from newspeech.models.analysis_reports import LLMCall, ReportRun
from newspeech.models.audit import AuditLog
from newspeech.models.auth import (
    AuthSession,
    ExaminerCollege,
    Invitation,
    LoginThrottle,
    RefreshToken,
)
from newspeech.models.colleges import CollegeType
from newspeech.models.configuration import ConfigEntry
from newspeech.models.enums import (
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
from newspeech.models.exams import Answer, AttemptGrant, Evaluation, ExamSession, SittingLease
from newspeech.models.prompts import (
    BuildingType,
    KeyedName,
    Prompt,
    PromptVersion,
    ReportType,
    Scenario,
)
from newspeech.models.questions import Question
from newspeech.models.results import Result
from newspeech.models.users import User

__all__ = [
    "AnalysisJob",
    "AnalysisJobStage",
    "AnalysisJobStatus",
    "AnalysisStageKind",
    "AnalysisStageStatus",
    "Answer",
    "AttemptGrant",
    "AuditLog",
    "AuthSession",
    "BuildingType",
    "City",
    "Client",
    "CollegeType",
    "ConfigEntry",
    "ConfigValueType",
    "Difficulty",
    "Employee",
    "Evaluation",
    "EvaluatorType",
    "ExamSession",
    "ExaminerCollege",
    "FeedbackType",
    "Invitation",
    "KeyedName",
    "LLMCall",
    "LoginThrottle",
    "Place",
    "Prompt",
    "PromptVersion",
    "Question",
    "RefreshToken",
    "Report",
    "ReportRun",
    "ReportRunStatus",
    "ReportStatus",
    "ReportType",
    "Result",
    "RoutingChoice",
    "Scenario",
    "SessionStatus",
    "SittingLease",
    "TranscriptSegment",
    "Transcription",
    "TranscriptionStatus",
    "User",
    "UserRole",
    "UserStatus",
    "Zone",
]
