"""CSV question banks: one row per question, a header row naming the columns.

Columns (see docs/question-import.md): ``college, scenario_id, scenario_name,
scenario_description, question_number, question, topic, difficulty, keywords, model_answer,
guidelines, max_score``. Only ``question`` and ``scenario_name`` are required (and ``college``
unless the import names one); empty cells mean "not given".

Spreadsheet formula injection: a text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return is exported behind a single quote (OWASP's advice), so a spreadsheet shows it as
text instead of running it; the import takes that quote off again, so exports round-trip.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from newspeech.questions.interchange.model import BankQuestion, ParseResult, format_keywords
from newspeech.questions.interchange.model import parse_keywords as _parse_keywords

COLUMNS = (
    "college",
    "scenario_id",
    "scenario_name",
    "scenario_description",
    "question_number",
    "question",
    "topic",
    "difficulty",
    "keywords",
    "model_answer",
    "guidelines",
    "max_score",
)
REQUIRED = ("scenario_name", "question")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_FIELDS = {
    "college": "college_type",
    "scenario_id": "scenario_id",
    "scenario_name": "scenario_name",
    "scenario_description": "scenario_description",
    "question_number": "question_number",
    "question": "question_text",
    "topic": "category",
    "difficulty": "difficulty",
    "model_answer": "model_answer",
    "guidelines": "guidelines",
    "max_score": "max_score",
}


def parse_csv(text: str, *, college: str | None = None) -> ParseResult:
    """Parse CSV text; ``college`` fills rows whose ``college`` cell is empty."""
    result = ParseResult()
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    try:
        header = [name.strip() for name in next(reader, [])]
    except csv.Error as exc:
        result.error(1, f"unreadable CSV header: {exc}")
        return result
    unknown = [name for name in header if name not in COLUMNS]
    missing = [name for name in REQUIRED if name not in header]
    if not header or unknown or missing:
        problems = [f"unknown columns {unknown}"] if unknown else []
        problems += [f"missing columns {missing}"] if missing or not header else []
        result.error(1, f"bad header: {'; '.join(problems)}; expected {', '.join(COLUMNS)}")
        return result
    columns = _Columns(header)
    start = reader.line_num + 1
    try:
        for cells in reader:
            if len(cells) > len(header):
                result.error(start, f"{len(cells)} cells, header has {len(header)}")
            elif any(cell.strip() for cell in cells):
                _row(cells, columns, start, college, result)
            start = reader.line_num + 1
    except csv.Error as exc:  # a cell past the csv module's limit, or a NUL in the file
        result.error(start, f"unreadable CSV from here on: {exc}")
    return result


class _Columns:
    """Where each model field's cell is in a row. A column named twice counts where it is named
    last; a row shorter than the header has empty cells at its end."""

    def __init__(self, header: list[str]) -> None:
        last = {name: index for index, name in enumerate(header)}
        self.fields = [(index, _FIELDS[name]) for name, index in last.items() if name in _FIELDS]
        self.keywords = last.get("keywords")


def _row(
    cells: list[str], columns: _Columns, line: int, college: str | None, result: ParseResult
) -> None:
    values: dict[str, Any] = {}
    width = len(cells)
    for index, name in columns.fields:
        if index < width and (cell := cells[index].strip()):
            values[name] = _unquote(cell).strip() if cell[0] == "'" else cell
    values.setdefault("college_type", college or "")
    if not values["college_type"]:
        result.error(line, "no college: fill the college column or pass --college")
        return
    at = columns.keywords
    keywords = cells[at].strip() if at is not None and at < width else ""
    try:
        values["keywords"] = _parse_keywords(_unquote(keywords))
    except ValueError as exc:
        result.error(line, f"keywords: {exc}")
        return
    result.add(line, values)


def export_csv(questions: Iterable[BankQuestion]) -> str:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for q in questions:
        writer.writerow(
            _quote(cell)
            for cell in [
                q.college_type,
                q.scenario_id or "",
                q.scenario_name,
                q.scenario_description or "",
                q.question_number or "",
                q.question_text,
                q.category or "",
                q.difficulty.value,
                format_keywords(q.keywords),
                q.model_answer or "",
                q.guidelines or "",
                q.max_score,
            ]
        )
    return out.getvalue()


def _quote(cell: object) -> object:
    """A text cell a spreadsheet would run as a formula, behind a single quote."""
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS):
        return "'" + cell
    return cell


def _unquote(cell: str) -> str:
    """What :func:`_quote` protected, as it was."""
    if cell.startswith("'") and cell[1:].startswith(FORMULA_STARTS):
        return cell[1:]
    return cell
