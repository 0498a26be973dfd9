"""Question bank interchange: GIFT, Moodle XML and CSV in and out (docs/question-import.md)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from newspeech.errors import ValidationFailed
from newspeech.questions.interchange.csv_format import export_csv, parse_csv
from newspeech.questions.interchange.gift import export_gift, parse_gift
from newspeech.questions.interchange.model import (
    BankQuestion,
    ImportFormat,
    ImportIssue,
    IssueKind,
    ParsedQuestion,
    ParseResult,
)
from newspeech.questions.interchange.moodle_xml import export_moodle_xml, parse_moodle_xml

__all__ = [
    "BankQuestion",
    "ImportFormat",
    "ImportIssue",
    "IssueKind",
    "ParseResult",
    "ParsedQuestion",
    "detect_format",
    "export_questions",
    "parse_questions",
]

_SUFFIXES = {".gift": ImportFormat.GIFT, ".xml": ImportFormat.MOODLE_XML, ".csv": ImportFormat.CSV}


def detect_format(path: Path) -> ImportFormat:
    """From the file name: ``*.xml`` Moodle XML, ``*.csv`` CSV, ``*.gift`` / ``*.gift.txt`` GIFT."""
    suffixes = [s.lower() for s in path.suffixes]
    for suffix in reversed(suffixes):
        if suffix in _SUFFIXES:
            return _SUFFIXES[suffix]
    raise ValidationFailed(
        f"{path.name}: cannot tell the format from the name; pass --format gift|moodle-xml|csv"
    )


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationFailed(f"the file is not UTF-8 text (byte {exc.start})") from exc


def parse_questions(data: bytes, fmt: ImportFormat, *, college: str | None = None) -> ParseResult:
    """Parse a whole file; problems are per item in the result, never raised."""
    if fmt is ImportFormat.MOODLE_XML:
        return parse_moodle_xml(data, college=college)
    text = _decode(data)
    if fmt is ImportFormat.GIFT:
        return parse_gift(text, college=college)
    return parse_csv(text, college=college)


def export_questions(questions: Iterable[BankQuestion], fmt: ImportFormat) -> bytes:
    ordered = sorted(
        questions, key=lambda q: (q.college_type, q.scenario_id or 0, q.question_number or 0)
    )
    if fmt is ImportFormat.MOODLE_XML:
        return export_moodle_xml(ordered)
    if fmt is ImportFormat.GIFT:
        return export_gift(ordered).encode("utf-8")
    return export_csv(ordered).encode("utf-8")
