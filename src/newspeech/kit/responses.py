"""The one error body every failure is rendered as, and the responses each route documents."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ErrorBody(BaseModel):
    error: str = Field(description="stable machine-readable code, e.g. not_found")
    detail: Any = Field(description="a human-readable message, or a list of field errors")


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorBody} for status in statuses}


# What any authenticated, validated API route can answer besides success.
COMMON_ERRORS = error_responses(401, 403, 404, 409, 422, 429)
