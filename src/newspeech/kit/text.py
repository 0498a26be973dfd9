"""What text NewSpeech stores: no NUL, no control characters, no lone surrogates.

PostgreSQL refuses NUL in text and lone surrogates cannot be encoded as UTF-8, so either used to
end in a 500 on one backend and be stored on another; control characters are never part of text
a person typed. Tab, line feed and carriage return stay allowed (multi-line answers, guidelines).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

# C0 controls but tab, LF and CR; DEL; C1 controls; UTF-16 surrogates (lone, after JSON decoding).
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")

# How deep a request's JSON may nest: the API's deepest schema is three levels.
MAX_JSON_DEPTH = 32


def forbidden_character(text: str) -> str | None:
    """A description of the first character ``text`` may not contain, or ``None``."""
    match = _FORBIDDEN.search(text)
    if match is None:
        return None
    return f"contains the control character U+{ord(match.group()):04X} at position {match.start()}"


def printable(text: str) -> str:
    """``text`` with every forbidden character replaced by U+FFFD, for logging refused input."""
    return _FORBIDDEN.sub("\ufffd", text)


def check_plain_text(text: str) -> str:
    """``text`` itself, or ``ValueError`` naming the first forbidden character (a pydantic
    ``AfterValidator``)."""
    problem = forbidden_character(text)
    if problem is not None:
        raise ValueError(problem)
    return text


def json_problems(value: object) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """``(location, problem)`` for every string (key or value) in a decoded JSON document that
    holds a forbidden character, and for nesting deeper than ``MAX_JSON_DEPTH``."""
    stack: list[tuple[tuple[str | int, ...], object]] = [((), value)]
    while stack:
        location, item = stack.pop()
        if len(location) > MAX_JSON_DEPTH:
            yield location[:MAX_JSON_DEPTH], f"nested deeper than {MAX_JSON_DEPTH} levels"
            continue
        if isinstance(item, str):
            if (problem := forbidden_character(item)) is not None:
                yield location, problem
        elif isinstance(item, dict):
            for key, child in item.items():
                if (problem := forbidden_character(key)) is not None:
                    yield (*location, key), f"field name {problem}"
                stack.append(((*location, key), child))
        elif isinstance(item, list):
            stack.extend(((*location, index), child) for index, child in enumerate(item))
