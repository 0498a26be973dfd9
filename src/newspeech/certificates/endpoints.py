"""PDF downloads: a passed sitting's certificate and any scored sitting's report.

The student of the sitting, examiners of its college and admins may download them; anyone
else reads them as absent (404). Rendering runs off the event loop (the inference pool when
the speech engines are loaded, a worker thread otherwise).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse
from sqlalchemy.ext.asyncio import AsyncSession

from newspeech.auth.deps import ClockDep, ScopeDep
from newspeech.certificates.render import PdfFonts
from newspeech.certificates.service import (
    BlockingRunner,
    issue_certificate,
    write_session_report,
)
from newspeech.config import Settings
from newspeech.db.deps import DbSession, SettingsDep
from newspeech.errors import InvalidState, NotFound, PermissionDenied
from newspeech.exams.repository import ExamSessionRepository
from newspeech.kit.ids import Id
from newspeech.kit.responses import COMMON_ERRORS, error_responses
from newspeech.kit.signed_links import InvalidLink, LinkSigner
from newspeech.models import Result, User, UserStatus
from newspeech.results.mail import CERTIFICATE_LINK_PURPOSE
from newspeech.results.repository import ResultRepository

router = APIRouter(tags=["documents"], responses=COMMON_ERRORS)

PDF: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the PDF",
        "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
    }
}


def _runner(request: Request) -> BlockingRunner | None:
    speech = request.app.state.speech
    return None if speech is None else speech.pool


@router.get("/results/{result_id}/certificate", response_class=FileResponse, responses=PDF)
async def download_certificate(
    result_id: Id, db: DbSession, scope: ScopeDep, settings: SettingsDep, request: Request
) -> FileResponse:
    """The certificate of a passed sitting, rendered now if it has none yet (or its result
    changed since); 409 when the sitting did not pass."""
    result = await ResultRepository(db).get(result_id)
    if result is None or not scope.can_see(result.college_type, result.user_id):
        raise NotFound(f"result {result_id} does not exist")
    return await _certificate(db, result, settings, request)


@router.get(
    "/results/{result_id}/certificate/signed",
    response_class=FileResponse,
    responses={**PDF, **error_responses(403)},
)
async def download_signed_certificate(
    result_id: Id,
    db: DbSession,
    settings: SettingsDep,
    request: Request,
    clock: ClockDep,
    user: Annotated[Id, Query()],
    expires: Annotated[int, Query(ge=0, le=2**40)],
    signature: Annotated[str, Query(min_length=1, max_length=100)],
) -> FileResponse:
    """The certificate through the link in a result e-mail (no sign-in): 403 when the link
    does not match this result and student, has expired, or its student is no longer active."""
    signer = LinkSigner(settings.token_secret(), CERTIFICATE_LINK_PURPOSE)
    now = int(clock().timestamp())
    try:
        signer.check(result_id, user, expires, signature, now)
    except InvalidLink as exc:
        raise PermissionDenied(f"{exc}: sign in to download the certificate") from exc
    holder = await db.get(User, user)
    if holder is None or holder.status is not UserStatus.ACTIVE:
        raise PermissionDenied("the link's student may no longer download the certificate")
    result = await ResultRepository(db).get(result_id)
    if result is None or result.user_id != user:
        raise NotFound(f"result {result_id} does not exist")
    return await _certificate(db, result, settings, request)


async def _certificate(
    db: AsyncSession, result: Result, settings: Settings, request: Request
) -> FileResponse:
    exam_session = await ExamSessionRepository(db).require(result.session_id)
    if not result.pass_status:
        raise InvalidState(
            f"exam session {exam_session.session_code} did not pass "
            f"({result.percentage_correct:.1f}%, grade {result.grade}); no certificate is issued"
        )
    relative = result.certificate_path
    if relative is None or not await asyncio.to_thread((settings.data_dir / relative).is_file):
        fonts = await asyncio.to_thread(PdfFonts.discover)
        issued = await issue_certificate(
            db, result.session_id, data_dir=settings.data_dir, fonts=fonts, runner=_runner(request)
        )
        relative = issued.certificate_path
    return FileResponse(
        settings.data_dir / relative,
        media_type="application/pdf",
        filename=f"{exam_session.session_code}-certificate.pdf",
    )


@router.get("/exam-sessions/{exam_session_id}/report", response_class=FileResponse, responses=PDF)
async def download_report(
    exam_session_id: Id, db: DbSession, scope: ScopeDep, settings: SettingsDep, request: Request
) -> FileResponse:
    """The session report (every question, transcript, score and the result) of a scored
    sitting, rendered from the stored rows as they are now; 409 before it is scored."""
    exam_session = await ExamSessionRepository(db).get(exam_session_id)
    if exam_session is None:
        raise NotFound(f"exam session {exam_session_id} does not exist")
    scope.require(
        exam_session.college_type, exam_session.user_id, f"exam session {exam_session_id}"
    )
    fonts = await asyncio.to_thread(PdfFonts.discover)
    relative = await write_session_report(
        db, exam_session_id, data_dir=settings.data_dir, fonts=fonts, runner=_runner(request)
    )
    return FileResponse(
        settings.data_dir / relative,
        media_type="application/pdf",
        filename=f"{exam_session.session_code}-report.pdf",
    )
