"""The exam page at ``/``, the examiner workspace at ``/examiner``, the analyst workspace at
``/analyst``, their static files and ``GET /web/config.json``."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse

from newspeech.colleges.repository import CollegeTypeRepository
from newspeech.db.deps import DbSession
from newspeech.web import STATIC_DIR
from newspeech.web.schemas import CollegeTypeRead, PageConfig

EXAM_SOCKET_PATH = "/ws/exam"
INPUT_SAMPLE_RATE = 16_000
FRAME_MS = 20

router = APIRouter(tags=["web"])


@router.get("/", include_in_schema=False)
async def exam_page() -> FileResponse:
    # no-cache: the page is tiny and must never pair an old page with a new protocol module.
    return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})


@router.get("/examiner", include_in_schema=False)
async def examiner_page() -> FileResponse:
    """The examiner workspace: sign-in, review queue, sessions, questions, statistics. It reads
    everything through ``/api/v1`` with the examiner's bearer token."""
    return FileResponse(STATIC_DIR / "examiner.html", headers={"Cache-Control": "no-cache"})


@router.get("/analyst", include_in_schema=False)
async def analyst_page() -> FileResponse:
    """The analyst workspace: upload recordings, follow their jobs, read transcripts with the
    recording, search. It reads everything through ``/api/v1`` with the analyst's token."""
    return FileResponse(STATIC_DIR / "analyst.html", headers={"Cache-Control": "no-cache"})


@router.get("/web/config.json", response_model=PageConfig)
async def page_config(db: DbSession) -> PageConfig:
    """The college types a student can choose (from the database) and the exam socket's audio."""
    colleges = await CollegeTypeRepository(db).list()
    return PageConfig(
        college_types=[CollegeTypeRead.model_validate(college) for college in colleges],
        exam_socket_path=EXAM_SOCKET_PATH,
        input_sample_rate=INPUT_SAMPLE_RATE,
        frame_ms=FRAME_MS,
    )
