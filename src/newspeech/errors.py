"""One error hierarchy for the whole product.

Every error carries a stable machine-readable ``code`` and the HTTP status an edge should answer
with; edges render ``{"error": code, "detail": message}``.
"""

from __future__ import annotations

from typing import ClassVar


class NewSpeechError(Exception):
    """Base of every error NewSpeech raises on purpose."""

    code: ClassVar[str] = "error"
    http_status: ClassVar[int] = 500

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class ConfigurationError(NewSpeechError):
    """Settings or stored configuration are missing or invalid."""

    code = "configuration_error"


class NotFound(NewSpeechError):
    code = "not_found"
    http_status = 404


class Conflict(NewSpeechError):
    """The change would break a uniqueness or reference rule."""

    code = "conflict"
    http_status = 409


class InvalidState(NewSpeechError):
    """The change is not allowed in the resource's current state."""

    code = "invalid_state"
    http_status = 409


class AttemptLimitReached(Conflict):
    """The candidate has used every attempt at a college's exam they are allowed."""

    code = "attempt_limit_reached"


class PermissionDenied(NewSpeechError):
    code = "permission_denied"
    http_status = 403


class Unauthenticated(NewSpeechError):
    code = "unauthenticated"
    http_status = 401


class ValidationFailed(NewSpeechError):
    code = "validation_failed"
    http_status = 422


class RateLimited(NewSpeechError):
    """Too many requests (or failed sign-ins); try again after ``retry_after`` seconds."""

    code = "rate_limited"
    http_status = 429

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = max(1, retry_after)


class UpstreamError(NewSpeechError):
    """A remote service (database, model server, LLM) failed."""

    code = "upstream_error"
    http_status = 502

    def __init__(self, detail: str, *, retryable: bool = False) -> None:
        super().__init__(detail)
        self.retryable = retryable


class PayloadTooLarge(NewSpeechError):
    """An upload is bigger than the limit for its kind."""

    code = "payload_too_large"
    http_status = 413


class QueryRefused(NewSpeechError):
    """A question's SQL was refused by a guard (newspeech.ask). Each reason has its own code;
    the message says what to change and never echoes schema internals."""

    code = "query_refused"
    http_status = 422


class QueryUnparsable(QueryRefused):
    code = "query_unparsable"


class QueryNotOneStatement(QueryRefused):
    code = "query_not_one_statement"


class QueryNotReadOnly(QueryRefused):
    """Not a plain SELECT: a write, DDL, a lock, a variable or a construct outside the
    allowed read-only subset."""

    code = "query_not_read_only"


class QueryUnknownSource(QueryRefused):
    """A table, schema or column outside the published catalogue."""

    code = "query_unknown_source"


class QueryFunctionNotAllowed(QueryRefused):
    code = "query_function_not_allowed"


class QueryTooComplex(QueryRefused):
    code = "query_too_complex"


class QueryOutOfScope(QueryRefused):
    """The caller may not read this view (or any: students)."""

    code = "query_out_of_scope"
    http_status = 403


class QueryTimeout(QueryRefused):
    """The query outlived the statement timeout and was cancelled."""

    code = "query_timeout"
