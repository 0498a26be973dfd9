"""Issuing the certificate and the session report of a scored sitting.

Files go under ``<data dir>/certificates/``; ``results.certificate_path`` holds the certificate's
path relative to the data dir (the report sits beside it, see :func:`report_path_for`).
Rendering runs off the event loop, on the pool passed in (or a worker thread).
"""

from __future__ import annotations

import asyncio
import hashlib
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import ParamSpec, Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from newspeech.certificates.render import (
    CertificateData,
    PdfFonts,
    ReportAnswer,
    SessionReportData,
    render_certificate,
    render_session_report,
)
from newspeech.colleges.repository import CollegeTypeRepository
from newspeech.errors import InvalidState, NotFound
from newspeech.exams.repository import ExamSessionRepository
from newspeech.models import Answer, ExamSession, Result
from newspeech.review.record import answer_mark, provenance

P = ParamSpec("P")
T = TypeVar("T")
CERTIFICATES_DIR = "certificates"


class BlockingRunner(Protocol):
    """Runs a blocking call off the event loop (``InferencePool`` is one)."""

    async def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T: ...


@dataclass(frozen=True)
class IssuedDocuments:
    certificate_path: str
    report_path: str


def certificate_path_for(session_code: str) -> str:
    return f"{CERTIFICATES_DIR}/{session_code}-certificate.pdf"


def report_path_for(session_code: str) -> str:
    return f"{CERTIFICATES_DIR}/{session_code}-report.pdf"


def verification_code(exam_session: ExamSession, result: Result) -> str:
    """A short digest of what the certificate states; recomputable from the stored result."""
    facts = "|".join(
        str(part)
        for part in (
            exam_session.session_code,
            exam_session.user_id,
            result.total_score,
            result.max_score,
            result.grade,
            result.generated_at.date().isoformat(),
        )
    )
    digest = hashlib.sha256(facts.encode()).hexdigest()[:16].upper()
    return "-".join(digest[i : i + 4] for i in range(0, 16, 4))


async def _run(runner: BlockingRunner | None, call: Callable[[], T]) -> T:
    if runner is not None:
        return await runner.run(call)
    return await asyncio.to_thread(call)


async def _load(db: AsyncSession, exam_session_id: int) -> tuple[ExamSession, Result, str]:
    exam_session = await ExamSessionRepository(db).get_detailed(exam_session_id)
    if exam_session is None:
        raise NotFound(f"exam session {exam_session_id} does not exist")
    if exam_session.result is None:
        raise InvalidState(
            f"exam session {exam_session.session_code} has no result yet; "
            "documents are issued once it is scored"
        )
    college = await CollegeTypeRepository(db).get(exam_session.college_type)
    return exam_session, exam_session.result, college.name if college else exam_session.college_type


def _report_answer(answer: Answer) -> ReportAnswer:
    question = answer.question_text or ""
    transcript = answer.transcribed_text or answer.answer_text or ""
    if answer.evaluation is None:
        return ReportAnswer(answer.question_number, question, transcript, None, 10)
    mark = answer_mark(answer.evaluation)
    changed = mark.examiner is not None and mark.machine is not None
    return ReportAnswer(
        question_number=answer.question_number,
        question=question,
        transcript=transcript,
        score=mark.score,
        max_score=mark.max_score,
        mark=[line.text for line in mark.lines()],
        machine_score=mark.machine.score if changed and mark.machine is not None else None,
    )


# The certificate has room for a few review lines; the session report has them all.
CERTIFICATE_REVIEW_LINES = 4
CERTIFICATE_COMMENT_CHARS = 120


def certificate_reviews(exam_session: ExamSession) -> list[str]:
    """One line per examiner-changed mark, as the certificate prints them."""
    lines = []
    for answer in exam_session.answers:
        if answer.evaluation is None:
            continue
        mark = answer_mark(answer.evaluation)
        if mark.examiner is None:
            continue
        machine = (
            "" if mark.machine is None else f" (machine {mark.machine.score}/{mark.max_score})"
        )
        comment = mark.examiner.comment or ""
        if len(comment) > CERTIFICATE_COMMENT_CHARS:
            comment = comment[: CERTIFICATE_COMMENT_CHARS - 3].rstrip() + "..."
        lines.append(
            f"Question {answer.question_number}: examiner's mark {mark.score}/{mark.max_score}"
            f"{machine}, {provenance(mark.examiner)}" + (f": {comment}" if comment else "")
        )
    if len(lines) > CERTIFICATE_REVIEW_LINES:
        rest = len(lines) - CERTIFICATE_REVIEW_LINES + 1
        lines = [
            *lines[: CERTIFICATE_REVIEW_LINES - 1],
            f"and {rest} more: see the session report",
        ]
    return lines


def _report_data(exam_session: ExamSession, result: Result, college: str) -> SessionReportData:
    answers = [_report_answer(answer) for answer in exam_session.answers]
    return SessionReportData(
        candidate_name=exam_session.user.full_name or exam_session.user.username,
        college_name=college,
        session_code=exam_session.session_code,
        completed_on=(exam_session.end_time or result.generated_at).date(),
        answers=answers,
        total_score=result.total_score,
        max_score=result.max_score,
        percentage=result.percentage_correct,
        grade=result.grade,
        passed=result.pass_status,
    )


async def write_session_report(
    db: AsyncSession,
    exam_session_id: int,
    *,
    data_dir: Path,
    fonts: PdfFonts,
    runner: BlockingRunner | None = None,
) -> str:
    """Render the report of any scored sitting (passed or not); returns its relative path."""
    exam_session, result, college = await _load(db, exam_session_id)
    data = _report_data(exam_session, result, college)
    pdf = await _run(runner, partial(render_session_report, data, fonts))
    relative = report_path_for(exam_session.session_code)
    await _run(runner, partial(_write, data_dir / relative, pdf))
    return relative


async def issue_certificate(
    db: AsyncSession,
    exam_session_id: int,
    *,
    data_dir: Path,
    fonts: PdfFonts,
    runner: BlockingRunner | None = None,
) -> IssuedDocuments:
    """Certificate and report of a passed sitting; stores the path in the result (flushes).

    A failed sitting gets no certificate (``InvalidState``); its report is still available
    through :func:`write_session_report`.
    """
    exam_session, result, college = await _load(db, exam_session_id)
    if not result.pass_status:
        raise InvalidState(
            f"exam session {exam_session.session_code} did not pass "
            f"({result.percentage_correct:.1f}%, grade {result.grade}); no certificate is issued"
        )
    report = _report_data(exam_session, result, college)
    code = verification_code(exam_session, result)
    certificate = CertificateData(
        candidate_name=report.candidate_name,
        college_name=college,
        session_code=exam_session.session_code,
        completed_on=report.completed_on or result.generated_at.date(),
        total_score=result.total_score,
        max_score=result.max_score,
        percentage=result.percentage_correct,
        grade=result.grade or "",
        reviews=certificate_reviews(exam_session),
        verification=(
            f"Verification code {code} (session {exam_session.session_code}): "
            "an examiner can confirm this certificate against the stored result."
        ),
    )
    certificate_pdf = await _run(runner, partial(render_certificate, certificate, fonts))
    report_pdf = await _run(runner, partial(render_session_report, report, fonts))
    paths = IssuedDocuments(
        certificate_path_for(exam_session.session_code), report_path_for(exam_session.session_code)
    )
    await _run(runner, partial(_write, data_dir / paths.certificate_path, certificate_pdf))
    await _run(runner, partial(_write, data_dir / paths.report_path, report_pdf))
    result.certificate_path = paths.certificate_path
    await db.flush()
    return paths


def _write(path: Path, data: bytes) -> None:
    """Write through a temporary file of its own, so a reader never sees half a file and two
    writers of the same document (two first downloads at once) never share one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        dir=path.parent, prefix=f".{path.name}.", suffix=".partial", delete=False
    ) as temp:
        temp.write(data)
    try:
        Path(temp.name).replace(path)
    except OSError:
        Path(temp.name).unlink(missing_ok=True)
        raise
