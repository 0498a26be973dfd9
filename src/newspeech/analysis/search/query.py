"""The search language and the matching that decides a hit, the same on every backend.

A query is words and ``"quoted phrases"``; every term must occur in a segment. Words are runs
of letters and digits, case folded, so punctuation separates them: ``boiler's`` is the phrase
``boiler s`` and ``3.5`` the phrase ``3 5``, as the databases' full-text tokenisers see them.
The database's index finds candidate segments; :func:`find_terms` decides, so a hit means the
same thing on SQLite, PostgreSQL and MariaDB.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from newspeech.errors import ValidationFailed

MAX_QUERY_LENGTH = 200
MAX_TERMS = 10
_TOKEN = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class Term:
    """One word or phrase of a query: its text as written and its tokens."""

    text: str
    tokens: tuple[str, ...]


def tokens(text: str) -> list[re.Match[str]]:
    return list(_TOKEN.finditer(text))


def parse_query(query: str) -> list[Term]:
    """The query's terms; :class:`ValidationFailed` (422) for a query that cannot be searched."""
    if len(query) > MAX_QUERY_LENGTH:
        raise ValidationFailed(f"the search is longer than {MAX_QUERY_LENGTH} characters")
    if query.count('"') % 2:
        raise ValidationFailed('a phrase is not closed: put a " at its end')
    terms: list[Term] = []
    for index, part in enumerate(query.split('"')):
        pieces = [part] if index % 2 else part.split()
        for piece in pieces:
            found = tuple(match.group().casefold() for match in tokens(piece))
            if found:
                terms.append(Term(piece.strip(), found))
    if not terms:
        raise ValidationFailed("search for at least one word (letters or digits)")
    if len(terms) > MAX_TERMS:
        raise ValidationFailed(f"search for at most {MAX_TERMS} words or phrases")
    return terms


@dataclass(frozen=True)
class Found:
    """Where a segment matches: character spans of ``text`` to highlight, and the index of the
    first matching token (its word's time is where the hit starts)."""

    spans: list[tuple[int, int]]
    first_token: int


def find_terms(text: str, terms: list[Term]) -> Found | None:
    """Every occurrence of every term in ``text``, or None unless all terms occur."""
    matches = tokens(text)
    folded = [match.group().casefold() for match in matches]
    spans: list[tuple[int, int]] = []
    first: int | None = None
    for term in terms:
        size = len(term.tokens)
        starts = [
            i for i in range(len(folded) - size + 1) if tuple(folded[i : i + size]) == term.tokens
        ]
        if not starts:
            return None
        first = min(starts[0], first if first is not None else starts[0])
        spans.extend((matches[i].start(), matches[i + size - 1].end()) for i in starts)
    assert first is not None
    return Found(_merged(spans), first)


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def token_start(words: list[dict[str, object]], token_index: int, default: float) -> float:
    """The start time of the word holding the segment's ``token_index``-th token (a segment's
    text is its words joined by spaces, so tokens never cross words)."""
    seen = 0
    for word in words:
        count = len(tokens(str(word.get("word", ""))))
        if token_index < seen + count:
            start = word.get("start")
            return float(start) if isinstance(start, int | float) else default
        seen += count
    return default
