"""Question bank import and export over HTTP, on the same code as ``newspeech questions``."""

from __future__ import annotations

import asyncio
import pathlib
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, Path, Query, Request, Response, UploadFile, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from newspeech.auth.deps import AuditorDep, ExaminerUser, ScopeDep
from newspeech.db.deps import DbSession
from newspeech.errors import NotFound, PayloadTooLarge, PermissionDenied, ValidationFailed
from newspeech.kit.process_pool import ProcessPool
from newspeech.kit.responses import COMMON_ERRORS, error_responses
from newspeech.questions.import_plan import parse_file
from newspeech.questions.importer import ImportReport, export_college, import_questions
from newspeech.questions.interchange import ImportFormat, detect_format

router = APIRouter(tags=["question-banks"], responses=COMMON_ERRORS)

MAX_IMPORT_BYTES = 5 * 1024 * 1024
FormatName = Literal["gift", "moodle_xml", "moodle-xml", "csv"]
_MEDIA = {
    ImportFormat.GIFT: ("text/plain; charset=utf-8", "gift.txt"),
    ImportFormat.MOODLE_XML: ("application/xml", "moodle.xml"),
    ImportFormat.CSV: ("text/csv; charset=utf-8", "csv"),
}


class ImportIssueRead(BaseModel):
    line: int
    kind: Literal["error", "skipped", "warning"]
    message: str


class ImportReportRead(BaseModel):
    dry_run: bool
    applied: bool
    new: int
    updated: int
    unchanged: int
    skipped: int
    errors: int
    warnings: int
    issues: list[ImportIssueRead]


def get_import_pool(request: Request) -> ProcessPool:
    pool: ProcessPool = request.app.state.import_pool
    return pool


ImportPoolDep = Annotated[ProcessPool, Depends(get_import_pool)]


def _report(report: ImportReport) -> ImportReportRead:
    return ImportReportRead(
        dry_run=report.dry_run,
        applied=report.applied,
        new=report.new,
        updated=report.updated,
        unchanged=report.unchanged,
        skipped=report.skipped,
        errors=report.errors,
        warnings=report.warnings,
        issues=[
            ImportIssueRead(line=i.line, kind=i.kind.value, message=i.message)
            for i in report.issues
        ],
    )


def _format(name: str | None, filename: str | None, data: bytes) -> ImportFormat:
    """The named format, else the file name's, else a look at the content."""
    if name is not None:
        return ImportFormat(name.replace("_", "-"))
    if filename:
        try:
            return detect_format(pathlib.Path(pathlib.PurePath(filename).name))
        except ValidationFailed:
            pass
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith((b"<?xml", b"<quiz")):
        return ImportFormat.MOODLE_XML
    first_line = head.split(b"\n", 1)[0]
    if first_line.count(b",") >= 2 and b"question" in first_line.lower():
        return ImportFormat.CSV
    return ImportFormat.GIFT


async def _read_limited(file: UploadFile) -> bytes:
    data = await file.read(MAX_IMPORT_BYTES + 1)
    if len(data) > MAX_IMPORT_BYTES:
        raise PayloadTooLarge(
            f"the file is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MiB; split the bank"
        )
    if not data:
        raise ValidationFailed("the file is empty")
    return data


@router.post(
    "/question-banks/import",
    response_model=ImportReportRead,
    responses=error_responses(413),
    status_code=status.HTTP_200_OK,
)
async def import_bank(
    file: UploadFile,
    user: ExaminerUser,
    scope: ScopeDep,
    db: DbSession,
    auditor: AuditorDep,
    pool: ImportPoolDep,
    response: Response,
    format: Annotated[FormatName | None, Form()] = None,
    college_type: Annotated[str | None, Form(max_length=50)] = None,
    dry_run: Annotated[bool, Form()] = False,
) -> ImportReportRead | JSONResponse:
    """Import a GIFT, Moodle XML or CSV file (at most 5 MiB) into the banks you manage.
    All or nothing: with any item error the answer is 422 with every error and its line, and
    nothing is stored. ``dry_run`` reports the same counts without writing. The
    ``Server-Timing`` header says how long each stage took."""
    data = await _read_limited(file)
    fmt = _format(format, file.filename, data)
    # Parsing and planning a 5 MiB file is seconds of pure-Python CPU: in a worker process,
    # so the event loop (every other request, every live exam) never waits for it.
    started = time.perf_counter()
    parsed = await pool.run(parse_file, data, fmt, college_type)
    parse_seconds = time.perf_counter() - started
    foreign = sorted(c for c in parsed.colleges if not scope.manages_college(c))
    if foreign:
        raise PermissionDenied(f"you do not manage the bank of {', '.join(map(repr, foreign))}")
    report = await import_questions(db, parsed, dry_run=dry_run, run=pool.run)
    body = await asyncio.to_thread(_report, report)  # one model per issue: 25,000 at most
    await auditor.record(
        "questions.import",
        actor_id=user.id,
        resource_type="question_banks",
        status="failure" if report.errors else "success",
        details={
            "file": (file.filename or "")[:200],
            "format": fmt.value,
            "dry_run": dry_run,
            "new": report.new,
            "updated": report.updated,
            "unchanged": report.unchanged,
            "errors": report.errors,
        },
    )
    timing = _server_timing({"parse": parse_seconds, **report.seconds})
    if report.errors:
        return JSONResponse(
            status_code=422,
            content={"error": "validation_failed", "detail": body.model_dump(mode="json")},
            headers={"Server-Timing": timing},
        )
    response.headers["Server-Timing"] = timing
    return body


def _server_timing(seconds: dict[str, float]) -> str:
    """``parse;dur=812.3, read;dur=0.4, ...`` (W3C Server Timing, milliseconds)."""
    return ", ".join(f"{name};dur={value * 1000:.1f}" for name, value in seconds.items())


EXPORT: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the bank as a file (Content-Disposition: attachment)",
        "content": {media: {"schema": {"type": "string"}} for media, _suffix in _MEDIA.values()},
    }
}


@router.get("/question-banks/{college_type}/export", response_class=Response, responses=EXPORT)
async def export_bank(
    college_type: Annotated[str, Path(max_length=50)],
    _user: ExaminerUser,
    scope: ScopeDep,
    db: DbSession,
    format: Annotated[FormatName, Query()] = "gift",
) -> Response:
    """A college's whole bank as a file download (GIFT, Moodle XML or CSV)."""
    if not scope.manages_college(college_type):
        raise NotFound(f"question bank {college_type!r} does not exist")
    fmt = ImportFormat(format.replace("_", "-"))
    data = await export_college(db, college_type, fmt)
    media_type, suffix = _MEDIA[fmt]
    return Response(
        content=data,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{college_type}.{suffix}"'},
    )
