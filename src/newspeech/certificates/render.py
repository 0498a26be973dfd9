"""PDF rendering (fpdf2) of a pass certificate and a session report, from plain data.

CPU-bound and synchronous: callers run it off the event loop. Text is set in DejaVu Sans when the
font is installed (Debian/Ubuntu ``fonts-dejavu-core``) so any script in a name prints; without
it the PDF core font Helvetica is used and characters outside Latin-1 print as ``?``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from newspeech.kit.pdf import PdfFonts

__all__ = [
    "CertificateData",
    "PdfFonts",
    "ReportAnswer",
    "SessionReportData",
    "render_certificate",
    "render_session_report",
]


@dataclass(frozen=True)
class CertificateData:
    candidate_name: str
    college_name: str
    session_code: str
    completed_on: dt.date
    total_score: int
    max_score: int
    percentage: float
    grade: str
    verification: str
    reviews: Sequence[str] = ()
    """One line per mark an examiner changed (question, examiner's and machine's mark, who,
    when, comment)."""


@dataclass(frozen=True)
class ReportAnswer:
    question_number: int
    question: str
    transcript: str
    score: int | None
    max_score: int
    mark: Sequence[str] = ()
    """The mark in words, line by line (``newspeech.review.record``)."""
    machine_score: int | None = None
    """The machine's original score, when an examiner changed it."""


@dataclass(frozen=True)
class SessionReportData:
    candidate_name: str
    college_name: str
    session_code: str
    completed_on: dt.date | None
    answers: Sequence[ReportAnswer]
    total_score: int
    max_score: int
    percentage: float
    grade: str | None
    passed: bool


class _Document:
    def __init__(self, fonts: PdfFonts, *, landscape: bool, title: str) -> None:
        self.pdf = FPDF(orientation="L" if landscape else "P", unit="mm", format="A4")
        self.pdf.set_title(title)
        self.pdf.set_creator("NewSpeech")
        self.pdf.set_auto_page_break(auto=True, margin=15)
        self.unicode = fonts.regular is not None and fonts.bold is not None
        if fonts.regular is not None and fonts.bold is not None:
            self.pdf.add_font("DejaVu", "", str(fonts.regular))
            self.pdf.add_font("DejaVu", "B", str(fonts.bold))
        self.family = "DejaVu" if self.unicode else "Helvetica"
        self.pdf.add_page()

    def text(self, value: str) -> str:
        return value if self.unicode else value.encode("latin-1", "replace").decode("latin-1")

    def line(self, value: str, size: float, *, bold: bool = False, height: float = 8) -> None:
        self.pdf.set_font(self.family, "B" if bold else "", size)
        self.pdf.multi_cell(
            0, height, self.text(value), align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT
        )

    def paragraph(self, value: str, size: float = 10, *, bold: bool = False) -> None:
        self.pdf.set_font(self.family, "B" if bold else "", size)
        self.pdf.multi_cell(0, size * 0.5, self.text(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def output(self) -> bytes:
        return bytes(self.pdf.output())


def render_certificate(data: CertificateData, fonts: PdfFonts) -> bytes:
    doc = _Document(fonts, landscape=True, title=f"Certificate {data.session_code}")
    pdf = doc.pdf
    pdf.set_line_width(1.2)
    pdf.rect(10, 10, pdf.w - 20, pdf.h - 20)
    pdf.set_y(30)
    doc.line("Certificate of Achievement", 30, bold=True, height=14)
    pdf.ln(6)
    doc.line("This certifies that", 14)
    doc.line(data.candidate_name, 26, bold=True, height=14)
    doc.line(f"passed the {data.college_name} oral examination (viva voce)", 14)
    pdf.ln(4)
    doc.line(
        f"Score {data.total_score} / {data.max_score} ({data.percentage:.1f}%)  Grade {data.grade}",
        16,
        bold=True,
    )
    doc.line(f"Date {data.completed_on.isoformat()}   Session {data.session_code}", 12)
    if data.reviews:
        pdf.ln(3)
        doc.line("Marks changed on examiner review", 10, bold=True, height=5)
        for review in data.reviews:
            doc.line(review, 9, height=4.5)
    pdf.set_y(max(pdf.get_y() + 4, pdf.h - 40))
    doc.line(data.verification, 9, height=5)
    return doc.output()


def render_session_report(data: SessionReportData, fonts: PdfFonts) -> bytes:
    doc = _Document(fonts, landscape=False, title=f"Session report {data.session_code}")
    doc.line("Viva session report", 20, bold=True, height=12)
    when = data.completed_on.isoformat() if data.completed_on else "not completed"
    doc.line(f"{data.candidate_name}  |  {data.college_name}  |  {data.session_code}", 11)
    doc.line(f"Date {when}", 11)
    doc.pdf.ln(4)
    for answer in data.answers:
        score = "not scored" if answer.score is None else f"{answer.score} / {answer.max_score}"
        if answer.machine_score is not None:
            score = f"examiner's mark {score}; machine {answer.machine_score} / {answer.max_score}"
        doc.paragraph(f"Question {answer.question_number}  ({score})", 12, bold=True)
        doc.paragraph(answer.question)
        doc.paragraph("Answer (transcript):", bold=True)
        doc.paragraph(answer.transcript or "(no answer recorded)")
        if answer.mark:
            doc.paragraph("Mark and feedback:", bold=True)
        for line in answer.mark:
            doc.paragraph(line)
        doc.pdf.ln(3)
    outcome = "PASS" if data.passed else "FAIL"
    grade = f"Grade {data.grade}  " if data.grade else ""
    doc.paragraph(
        f"Total {data.total_score} / {data.max_score} ({data.percentage:.1f}%)  {grade}{outcome}",
        13,
        bold=True,
    )
    return doc.output()
