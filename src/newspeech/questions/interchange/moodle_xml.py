"""Moodle XML: short-answer and essay questions in, essay questions out.

Parsed with lxml, with entity expansion, DTD loading and network access off, so neither XXE nor
entity bombs get a chance; a document that declares a DOCTYPE is then refused as the parser saw it
(whatever its encoding: UTF-8, UTF-16 or UTF-32), not by searching its bytes.
Grader information carries the keywords on a line ``Keywords: ...``; everything else in it is the
marking guidelines. Tags ``difficulty:<level>`` and ``topic:<name>`` carry difficulty and topic.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from typing import Any

from lxml import etree

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

_TAG = re.compile(r"<[^>]+>")
_KEYWORDS_LINE = re.compile(r"^\s*keywords\s*:(?P<value>.*)$", re.IGNORECASE | re.MULTILINE)
_IMPORTED = {"shortanswer", "essay"}


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
        huge_tree=False, remove_comments=True,
    )  # fmt: skip


def _line(element: etree._Element | None) -> int:
    # lxml-stubs type sourceline loosely; it is an int, or None for built (not parsed) trees.
    line = element.sourceline if element is not None else None
    return line if isinstance(line, int) else 1


def _text(element: etree._Element | None, path: str = "text") -> str:
    """The text of ``element/path`` as plain text (HTML formats are stripped)."""
    if element is None:
        return ""
    node = element.find(path)
    raw = (node.text or "") if node is not None else ""
    if element.get("format", "html") in ("html", "moodle_auto_format"):
        raw = re.sub(r"<br\s*/?>|</p>", "\n", raw, flags=re.IGNORECASE)
        raw = html.unescape(_TAG.sub("", raw))
    return "\n".join(line.strip() for line in raw.strip().splitlines()).strip()


def parse_moodle_xml(data: bytes, *, college: str | None = None) -> ParseResult:
    result = ParseResult()
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        result.error(exc.lineno or 1, f"not well-formed XML: {exc.msg}")
        return result
    docinfo = root.getroottree().docinfo
    # libxml2 records any DOCTYPE, with or without an internal subset, as the internal DTD.
    if docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        result.error(1, "a DOCTYPE is not allowed in a Moodle XML file (refused for safety)")
        return result
    if root.tag != "quiz":
        result.error(_line(root), f"root element is <{root.tag}>, expected <quiz>")
        return result
    category, description = "", None
    for element in root.iter("question"):
        line = _line(element)
        kind = element.get("type", "")
        if kind == "category":
            category = _text(element.find("category"))
            info = element.find("info")
            description = _text(info) or None
            continue
        if not _grades_valid(element, result):
            continue
        if kind not in _IMPORTED:
            result.skip(line, f"{kind or 'untyped'} question: only shortanswer and essay imported")
            continue
        values = _question_values(element, kind, category, description, college, result)
        if values is not None:
            result.add(line, values)
    return result


def _grades_valid(element: etree._Element, result: ParseResult) -> bool:
    for answer in element.iter("answer"):
        raw = answer.get("fraction", "0")
        try:
            problem = check_moodle_grade(float(raw))
        except ValueError:
            problem = f"answer fraction {raw!r} is not a number"
        if problem:
            result.error(_line(answer), problem)
            return False
    return True


def _question_values(
    element: etree._Element,
    kind: str,
    category: str,
    description: str | None,
    college: str | None,
    result: ParseResult,
) -> dict[str, Any] | None:
    line = _line(element)
    where = map_category(category, college)
    problem = college_problem(where, category)
    if problem:
        result.error(line, problem)
        return None
    values: dict[str, Any] = {
        "college_type": where.college_type,
        "scenario_id": where.scenario_id,
        "scenario_name": where.scenario_name,
        "scenario_description": description,
        "question_number": number_from_name(_text(element.find("name"))),
        "question_text": _text(element.find("questiontext")),
        "model_answer": _text(element.find("generalfeedback")) or None,
    }
    if kind == "essay":
        values |= _grader_info(_text(element.find("graderinfo")), line, result)
    else:
        answers = [(_text(a), float(a.get("fraction", "0"))) for a in element.iterfind("answer")]
        values |= shortanswer_values(answers)
    for tag in element.iterfind("tags/tag"):
        name, _, value = _text(tag).partition(":")
        if name == "difficulty" and value:
            values["difficulty"] = value.strip()
        elif name == "topic" and value:
            values["category"] = value.strip()
    default_grade = element.findtext("defaultgrade")
    if default_grade and float(default_grade) >= 2:
        values["max_score"] = round(float(default_grade))
    return values


def _grader_info(text: str, line: int, result: ParseResult) -> dict[str, Any]:
    match = _KEYWORDS_LINE.search(text)
    if match is None:
        return {"guidelines": text or None}
    values: dict[str, Any] = {
        "guidelines": (text[: match.start()] + text[match.end() :]).strip() or None
    }
    try:
        values["keywords"] = parse_keywords(match["value"])
    except ValueError as exc:
        result.warn(line, f"grader information keywords ignored: {exc}")
    return values


def _sub(parent: etree._Element, tag: str, text: str | None, **attributes: str) -> None:
    element = etree.SubElement(parent, tag, attributes)
    etree.SubElement(element, "text").text = text or ""


def export_moodle_xml(questions: Iterable[BankQuestion]) -> bytes:
    """Essay questions (one category per scenario, its case as the category's info)."""
    quiz = etree.Element("quiz")
    category = None
    for question in questions:
        path = category_path(question)
        if path != category:
            entry = etree.SubElement(quiz, "question", type="category")
            _sub(entry, "category", path)
            _sub(entry, "info", question.scenario_description, format="plain_text")
            category = path
        item = etree.SubElement(quiz, "question", type="essay")
        _sub(item, "name", question_name(question))
        _sub(item, "questiontext", question.question_text, format="plain_text")
        _sub(item, "generalfeedback", question.model_answer, format="plain_text")
        etree.SubElement(item, "defaultgrade").text = f"{question.max_score:.7f}"
        etree.SubElement(item, "responseformat").text = "editor"
        info = "\n\n".join(
            part
            for part in (
                question.guidelines,
                f"Keywords: {format_keywords(question.keywords)}" if question.keywords else None,
            )
            if part
        )
        _sub(item, "graderinfo", info, format="plain_text")
        tags = etree.SubElement(item, "tags")
        _sub(tags, "tag", f"difficulty:{question.difficulty.value}")
        if question.category:
            _sub(tags, "tag", f"topic:{question.category}")
    return bytes(etree.tostring(quiz, xml_declaration=True, encoding="UTF-8", pretty_print=True))
