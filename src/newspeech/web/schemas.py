from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class CollegeTypeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    description: str | None


class PageConfig(BaseModel):
    """What the exam page needs to know before it opens the exam socket."""

    college_types: list[CollegeTypeRead]
    exam_socket_path: str
    input_sample_rate: int
    frame_ms: int
