"""All tables; importing this package registers every model on ``Base.metadata`` (Alembic
needs it)."""

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
    ConfigValueType,
    Difficulty,
    EvaluatorType,
    FeedbackType,
    SessionStatus,
    UserRole,
    UserStatus,
)
from newspeech.models.exams import Answer, AttemptGrant, Evaluation, ExamSession
from newspeech.models.questions import Question
from newspeech.models.results import Result
from newspeech.models.users import User

__all__ = [
    "Answer",
    "AttemptGrant",
    "AuditLog",
    "AuthSession",
    "CollegeType",
    "ConfigEntry",
    "ConfigValueType",
    "Difficulty",
    "Evaluation",
    "EvaluatorType",
    "ExamSession",
    "ExaminerCollege",
    "FeedbackType",
    "Invitation",
    "LoginThrottle",
    "Question",
    "RefreshToken",
    "Result",
    "SessionStatus",
    "User",
    "UserRole",
    "UserStatus",
]
