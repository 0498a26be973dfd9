"""Which evaluations go to the review queue, and why: pure rules, no database."""

from __future__ import annotations

from collections.abc import Iterable

MID_RANGE_REASON = "mid-range score"
FLAG_REASON_PREFIX = "flagged by examiner: "

# Scores from 40 % to 60 % of the maximum: the band where one concept said or missed decides
# between partial and correct credit, so a human looks at it.
MID_RANGE = (0.4, 0.6)


def is_mid_range(score: int, max_score: int) -> bool:
    if max_score <= 0:
        return False
    low, high = MID_RANGE
    return low - 1e-9 <= score / max_score <= high + 1e-9


def review_reasons(score: int, max_score: int, grader_reasons: Iterable[str]) -> list[str]:
    """The grader's own reasons (low ASR confidence, graders disagree, gaming guards ...),
    plus ``mid-range score``; an empty list means no review is needed."""
    reasons = [str(reason) for reason in grader_reasons]
    if is_mid_range(score, max_score) and MID_RANGE_REASON not in reasons:
        reasons.append(MID_RANGE_REASON)
    return reasons


def flag_reason(reason: str) -> str:
    return FLAG_REASON_PREFIX + reason.strip()
