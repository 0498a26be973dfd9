"""GIFT (Moodle's plain-text question format): short-answer and essay questions in and out.

Other GIFT types (multiple choice, true/false, matching, numerical) are reported as skipped with
their line. NewSpeech fields GIFT has no syntax for travel in comment lines Moodle ignores::

    // [newspeech] topic: diagnosis
    // [newspeech] keywords: inferior stemi (3) = STEMI | inferior MI; troponin
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from newspeech.questions.interchange.model import (
    BankQuestion,
    ParseResult,
    category_path,
    check_moodle_grade,
    college_problem,
    format_keywords,
    map_category,
    number_from_name,
    parse_keywords,
    question_name,
    shortanswer_values,
)

# Escaped special characters are swapped for private-use code points while parsing.
_ESCAPES = {"\\\\": "\ue000", "\\~": "\ue001", "\\=": "\ue002", "\\#": "\ue003",
            "\\{": "\ue004", "\\}": "\ue005", "\\:": "\ue006", "\\n": "\n"}  # fmt: skip
_RESTORE = {v: k[1] for k, v in _ESCAPES.items() if v != "\n"}
_META = re.compile(r"^//\s*\[newspeech\]\s*(?P<key>[a-z-]+)\s*:\s?(?P<value>.*)$")
_FORMAT = re.compile(r"^\[(?P<format>html|moodle|plain|markdown)\]", re.IGNORECASE)
_WEIGHT = re.compile(r"^%(?P<weight>-?\d+(?:\.\d+)?)%")
_TAG = re.compile(r"<[^>]+>")
_TRUE_FALSE = {"T", "TRUE", "F", "FALSE"}
_META_FIELDS = {
    "scenario": "scenario_description",
    "topic": "category",
    "difficulty": "difficulty",
    "guidelines": "guidelines",
    "max-score": "max_score",
}


@dataclass
class _Block:
    line: int
    text_lines: list[str] = field(default_factory=list)
    meta: dict[str, str] = field(default_factory=dict)


def _protect(text: str) -> str:
    for escaped, placeholder in _ESCAPES.items():
        text = text.replace(escaped, placeholder)
    return text


def _restore(text: str) -> str:
    for placeholder, char in _RESTORE.items():
        text = text.replace(placeholder, char)
    return text


def _blocks(text: str) -> Iterable[_Block]:
    block: _Block | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            if block is not None and block.text_lines:
                yield block
                block = None
            continue
        block = block or _Block(number)
        if line.startswith("//"):
            meta = _META.match(line)
            if meta:
                block.meta[meta["key"]] = _unescape_meta(meta["value"])
            continue
        if not block.text_lines:
            block.line = number
        block.text_lines.append(raw)
    if block is not None and block.text_lines:
        yield block


def _plain(text: str, text_format: str) -> str:
    if text_format == "html":
        text = re.sub(r"<br\s*/?>|</p>", "\n", text, flags=re.IGNORECASE)
        text = html.unescape(_TAG.sub("", text))
    return "\n".join(line.strip() for line in _restore(text).strip().splitlines()).strip()


def parse_gift(text: str, *, college: str | None = None) -> ParseResult:
    """Parse a GIFT file; ``college`` (if given) is the college for every question."""
    result = ParseResult()
    category = ""
    for block in _blocks(text):
        body = _protect("\n".join(block.text_lines).strip())
        if body.startswith("$CATEGORY:"):
            category = _restore(body.removeprefix("$CATEGORY:")).strip()
            continue
        _parse_question(block, body, category, college, result)
    return result


def _parse_question(
    block: _Block, body: str, category: str, college: str | None, result: ParseResult
) -> None:
    name = None
    if body.startswith("::"):
        name, sep, body = body[2:].partition("::")
        if not sep:
            result.error(block.line, "question title opened with '::' but never closed")
            return
        name = _restore(name).strip()
        body = body.lstrip()
    text_format = "moodle"
    fmt = _FORMAT.match(body)
    if fmt:
        text_format = fmt["format"].lower()
        body = body[fmt.end() :]
    start = body.find("{")
    end = body.find("}", start + 1) if start >= 0 else body.find("}")
    if start < 0 and end < 0:
        result.skip(block.line, "description (no answer block): not a question")
        return
    if start < 0 or end < 0:
        result.error(block.line, "unbalanced braces: a GIFT answer block is {...}")
        return
    question_text = body[:start] + (" _____ " + body[end + 1 :] if body[end + 1 :].strip() else "")
    answers, _, general = body[start + 1 : end].partition("####")
    kind, values = _answers(answers.strip(), block.line, result)
    if kind is None:
        return
    where = map_category(category, college)
    values |= {
        "college_type": where.college_type or "",
        "scenario_id": where.scenario_id,
        "scenario_name": where.scenario_name,
        "question_number": number_from_name(name),
        "question_text": _plain(question_text, text_format),
        "model_answer": _plain(general, text_format) or None,
    }
    _apply_meta(block, values, result)
    problem = college_problem(where, category)
    if problem:
        result.error(block.line, problem)
        return
    result.add(block.line, values)


def _answers(text: str, line: int, result: ParseResult) -> tuple[str | None, dict[str, Any]]:
    """Classify the answer block as Moodle does (empty: essay; ``#``: numerical; any ``~``:
    multiple choice; ``->``: matching; T/F: true/false; else short answer). Returns
    (kind, values), or (None, {}) when the item is not imported. Answer grades are checked
    on every type but numerical."""
    if not text:
        return "essay", {}
    if text.startswith("#"):
        result.skip(line, "numerical question: only short-answer and essay questions are imported")
        return None, {}
    parts = [p for p in re.split(r"(?=[=~])", text) if p.strip()]
    graded: list[tuple[str, float]] = []
    for part in parts:
        answer = part[1:].strip() if part[0] in "=~" else part.strip()
        grade = 100.0 if part[0] == "=" else 0.0
        weight = _WEIGHT.match(answer)
        if weight:
            grade = float(weight["weight"])
            answer = answer[weight.end() :]
            problem = check_moodle_grade(grade)
            if problem:
                result.error(line, problem)
                return None, {}
        graded.append((_plain(answer.split("#", 1)[0], "moodle"), grade))
    if "~" in text:
        result.skip(line, "multiple-choice question: only short-answer and essay are imported")
        return None, {}
    if "->" in text:
        result.skip(line, "matching question: only short-answer and essay questions are imported")
        return None, {}
    if text.split("#", 1)[0].strip() in _TRUE_FALSE:
        result.skip(line, "true/false question: only short-answer and essay questions are imported")
        return None, {}
    return "shortanswer", shortanswer_values(graded)


def _apply_meta(block: _Block, values: dict[str, Any], result: ParseResult) -> None:
    for key, value in block.meta.items():
        if key == "keywords":
            try:
                values["keywords"] = parse_keywords(value)
            except ValueError as exc:
                result.warn(block.line, f"[newspeech] keywords ignored: {exc}")
        elif key in _META_FIELDS:
            values[_META_FIELDS[key]] = value
        else:
            result.warn(block.line, f"unknown [newspeech] field {key!r} ignored")


def _escape(text: str) -> str:
    text = text.replace("\\", "\\\\")
    for char in "~=#{}:":
        text = text.replace(char, "\\" + char)
    return text.replace("\n", "\\n")


def _escape_meta(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _unescape_meta(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m[1] == "n" else m[1], text.strip())


def export_gift(questions: Iterable[BankQuestion]) -> str:
    """Essay questions grouped by category; NewSpeech-only fields in ``[newspeech]`` comments."""
    out: list[str] = []
    category = None
    for question in questions:
        path = category_path(question)
        if path != category:
            out += [f"$CATEGORY: {path}", ""]
            category = path
        meta = {
            "scenario": question.scenario_description,
            "topic": question.category,
            "difficulty": question.difficulty.value,
            "keywords": format_keywords(question.keywords) or None,
            "guidelines": question.guidelines,
            "max-score": str(question.max_score) if question.max_score != 10 else None,
        }
        out += [f"// [newspeech] {k}: {_escape_meta(v)}" for k, v in meta.items() if v]
        general = f"####{_escape(question.model_answer)}" if question.model_answer else ""
        out += [
            f"::{_escape(question_name(question))}::[plain]{_escape(question.question_text)}"
            f"{{{general}}}",
            "",
        ]
    return "\n".join(out)
