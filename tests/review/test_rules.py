"""Which grades go to the review queue."""

from __future__ import annotations

import pytest

from newspeech.review.rules import (
    MID_RANGE_REASON,
    flag_reason,
    is_mid_range,
    review_reasons,
)


@pytest.mark.parametrize(
    ("score", "max_score", "expected"),
    [(3, 10, False), (4, 10, True), (5, 10, True), (6, 10, True), (7, 10, False), (2, 5, True)],
)
def test_mid_range_is_forty_to_sixty_percent(score: int, max_score: int, expected: bool) -> None:
    assert is_mid_range(score, max_score) is expected


def test_reasons_keep_the_graders_and_add_mid_range_once() -> None:
    assert review_reasons(9, 10, []) == []
    assert review_reasons(9, 10, ["low asr confidence"]) == ["low asr confidence"]
    assert review_reasons(5, 10, ["low asr confidence"]) == ["low asr confidence", MID_RANGE_REASON]
    assert review_reasons(5, 10, [MID_RANGE_REASON]) == [MID_RANGE_REASON]


def test_a_flag_names_its_reason() -> None:
    assert flag_reason("  sounds read out ") == "flagged by examiner: sounds read out"
