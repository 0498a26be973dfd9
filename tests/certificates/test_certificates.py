"""Certificates and session reports: real PDFs, checked by extracting their text with pypdf."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy.ext.asyncio import AsyncSession

from newspeech.certificates.render import (
    CertificateData,
    PdfFonts,
    ReportAnswer,
    SessionReportData,
    render_certificate,
    render_session_report,
)
from newspeech.certificates.service import (
    issue_certificate,
    verification_code,
    write_session_report,
)
from newspeech.errors import InvalidState, NotFound
from newspeech.exams.repository import ExamSessionRepository
from newspeech.models import User
from newspeech.results.repository import ResultRepository
from newspeech.results.rules import ResultPolicy
from newspeech.results.service import calculate_result
from newspeech.voice.pool import InferencePool
from tests.fixtures.factories import answer_and_evaluate, make_questions, make_session, make_user

POLICY = ResultPolicy(total_questions=3, pass_percentage=50.0)
FONTS = PdfFonts.discover()


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


def squash(text: str) -> str:
    return " ".join(text.split())


def test_unicode_font_is_installed_for_these_tests() -> None:
    # fonts-dejavu-core; without it names outside Latin-1 would print as "?".
    assert FONTS.regular is not None, "install fonts-dejavu-core"


def test_certificate_states_who_what_when_and_how_to_verify() -> None:
    data = CertificateData(
        candidate_name="Zoë Ñúñez-Łukasiewicz",
        college_name="Medical",
        session_code="VIVA-0123456789AB",
        completed_on=dt.date(2026, 11, 27),
        total_score=97,
        max_score=120,
        percentage=80.83,
        grade="B",
        verification="Verification code ABCD-EF01-2345-6789 (session VIVA-0123456789AB)",
    )
    text = squash(pdf_text(render_certificate(data, FONTS)))
    assert "Certificate of Achievement" in text
    assert "Zoë Ñúñez-Łukasiewicz" in text
    assert "passed the Medical oral examination" in text
    assert "Score 97 / 120 (80.8%) Grade B" in text
    assert "Date 2026-11-27 Session VIVA-0123456789AB" in text
    assert "Verification code ABCD-EF01-2345-6789" in text


def test_core_font_fallback_replaces_what_latin1_cannot_print() -> None:
    answer = ReportAnswer(1, "Name the drug?", "aspirin 300 mg → chewed", 7, 10, ["Good."])
    data = SessionReportData(
        "José Łoś", "Law", "VIVA-X", None, [answer], 7, 10, 70.0, "C", passed=True
    )
    text = squash(pdf_text(render_session_report(data, PdfFonts())))
    assert "José ?o?" in text
    assert "aspirin 300 mg ? chewed" in text
    assert "Date not completed" in text


async def sit(db: AsyncSession, scores: tuple[int, ...], user: User | None = None) -> int:
    questions = await make_questions(db, "medical", scenarios=1, per_scenario=3)
    exam_session = await make_session(db, user)
    for number, (question, score) in enumerate(zip(questions, scores, strict=True), 1):
        await answer_and_evaluate(db, exam_session, question, number, score)
    await ExamSessionRepository(db).complete(exam_session.id)
    await calculate_result(db, exam_session, POLICY)
    await db.commit()
    return exam_session.id


async def test_passed_session_gets_certificate_and_report_and_the_path_is_stored(
    db: AsyncSession, tmp_path: Path
) -> None:
    user = await make_user(db)
    user.full_name = "Amara Okafor"
    exam_session_id = await sit(db, (9, 7, 4), user)
    pool = InferencePool(1)
    try:
        issued = await issue_certificate(
            db, exam_session_id, data_dir=tmp_path, fonts=FONTS, runner=pool
        )
    finally:
        pool.close()
    await db.commit()

    result = await ResultRepository(db).by_session(exam_session_id)
    assert result is not None
    assert result.certificate_path == issued.certificate_path
    exam_session = await ExamSessionRepository(db).require(exam_session_id)
    code = exam_session.session_code
    assert issued.certificate_path == f"certificates/{code}-certificate.pdf"

    certificate = squash(pdf_text((tmp_path / issued.certificate_path).read_bytes()))
    assert "Amara Okafor" in certificate
    assert "passed the Medical oral examination" in certificate
    # 9 + 7 + 4 = 20 of 30 = 66.7 %: grade D at the default bands.
    assert "Score 20 / 30 (66.7%) Grade D" in certificate
    assert f"Session {code}" in certificate
    assert f"Verification code {verification_code(exam_session, result)}" in certificate

    report = squash(pdf_text((tmp_path / issued.report_path).read_bytes()))
    for number, score in ((1, 9), (2, 7), (3, 4)):
        assert f"Question {number} ({score} / 10)" in report
        assert f"Scenario 1 question {number}: what would you do?" in report
    assert "Answer (transcript): an answer" in report
    assert "Total 20 / 30 (66.7%) Grade D PASS" in report


async def test_failed_session_is_refused_a_certificate_but_gets_a_report(
    db: AsyncSession, tmp_path: Path
) -> None:
    exam_session_id = await sit(db, (2, 3, 4))
    with pytest.raises(InvalidState, match=r"did not pass \(30\.0%, grade F\); no certificate"):
        await issue_certificate(db, exam_session_id, data_dir=tmp_path, fonts=FONTS)
    assert not (tmp_path / "certificates").exists()
    result = await ResultRepository(db).by_session(exam_session_id)
    assert result is not None
    assert result.certificate_path is None

    relative = await write_session_report(db, exam_session_id, data_dir=tmp_path, fonts=FONTS)
    report = squash(pdf_text((tmp_path / relative).read_bytes()))
    assert "Total 9 / 30 (30.0%) Grade F FAIL" in report


async def test_unscored_and_missing_sessions_are_clear_errors(
    db: AsyncSession, tmp_path: Path
) -> None:
    exam_session = await make_session(db)
    await db.commit()
    with pytest.raises(InvalidState, match="has no result yet"):
        await issue_certificate(db, exam_session.id, data_dir=tmp_path, fonts=FONTS)
    with pytest.raises(NotFound):
        await write_session_report(db, 987654, data_dir=tmp_path, fonts=FONTS)
