"""HTTP byte ranges (RFC 9110 §14) for serving stored media to a seeking ``<audio>`` element."""

from __future__ import annotations

import re

# Positions of at most 18 digits (under 2**63, far past any stored file); a longer one is read as
# malformed rather than converted (Python refuses int() of 4,300+ digits, and it costs time).
_SINGLE = re.compile(r"bytes=(\d{0,18})-(\d{0,18})")
# Longer headers are not one byte range; they are ignored without being scanned.
_MAX_HEADER = 100


class RangeNotSatisfiable(Exception):
    """The range starts past the end (answer 416 with ``Content-Range: bytes */size``)."""


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive ``(first, last)`` byte positions ``header`` asks for, clamped to ``size``;
    ``None`` for the whole object (no header, a malformed one or several ranges: RFC 9110 lets a
    server ignore those and send everything)."""
    if header is None or len(header) > _MAX_HEADER:
        return None
    match = _SINGLE.fullmatch(header.strip().replace(" ", ""))
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # a suffix: the last N bytes
        length = int(last)
        if length == 0 or size == 0:
            raise RangeNotSatisfiable(header)
        return max(size - length, 0), size - 1
    start = int(first)
    end = size - 1 if not last else min(int(last), size - 1)
    if last and int(last) < start:
        return None
    if start >= size:
        raise RangeNotSatisfiable(header)
    return start, end
