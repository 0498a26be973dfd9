"""The mark every view shows: the one that counts, whose it is, and the machine's original."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

from newspeech.models import EvaluatorType, FeedbackType
from newspeech.review.record import (
    REMOVED_EXAMINER,
    UNKNOWN_EXAMINER,
    ReviewState,
    answer_mark,
    format_moment,
)

WHEN = dt.datetime(2026, 12, 6, 14, 3, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Person:
    username: str
    full_name: str | None = None


@dataclass(frozen=True)
class Graded:
    """An evaluation as the record reads it (the row and its API schema both have these)."""

    score_obtained: int = 3
    max_score: int = 10
    feedback: str | None = "Incorrect: 3/10."
    feedback_type: FeedbackType = FeedbackType.INCORRECT
    evaluator_type: EvaluatorType = EvaluatorType.HYBRID
    needs_review: bool = False
    review_reasons: list[Any] | None = None
    reviewed_at: dt.datetime | None = None
    review_comment: str | None = None
    machine_grade: dict[str, Any] | None = None
    overridden_by: int | None = None
    overridden_at: dt.datetime | None = None
    overrider: Person | None = None


MACHINE = Graded(needs_review=True, review_reasons=["keyword stuffing"])
OVERRIDDEN = replace(
    MACHINE,
    score_obtained=8,
    feedback_type=FeedbackType.CORRECT,
    evaluator_type=EvaluatorType.MANUAL,
    reviewed_at=WHEN,
    review_comment="Heard every term on the recording.",
    machine_grade={
        "score": 3,
        "max_score": 10,
        "feedback_type": "incorrect",
        "evaluator_type": "hybrid",
        "feedback": "Incorrect: 3/10.",
    },
    overridden_by=5,
    overridden_at=WHEN,
    overrider=Person("ada", "Dr Ada Examiner"),
)


def test_a_machine_mark_waiting_for_review_says_so() -> None:
    mark = answer_mark(MACHINE)
    assert (mark.source, mark.score, mark.examiner, mark.review) == (
        "machine",
        3,
        None,
        ReviewState.PENDING,
    )
    assert [line.text for line in mark.lines()] == [
        "Incorrect: 3/10.",
        "Waiting for examiner review (keyword stuffing).",
    ]


def test_an_override_puts_the_examiner_first_and_the_machine_original_beside_it() -> None:
    mark = answer_mark(OVERRIDDEN)
    assert (mark.source, mark.score, mark.review) == ("examiner", 8, ReviewState.RESOLVED)
    assert mark.machine is not None
    assert mark.machine.score == 3
    assert [line.text for line in mark.lines()] == [
        "Examiner's mark 8/10 (Correct), changed by Dr Ada Examiner on 2026-12-06 14:03 UTC.",
        "Examiner's comment: Heard every term on the recording.",
        "Machine's original mark: 3/10 (Incorrect).",
        "Machine's original feedback: Incorrect: 3/10.",
        "Review resolved (keyword stuffing).",
    ]


def test_the_examiner_is_named_by_user_name_or_said_to_be_removed() -> None:
    names = []
    for graded in (
        replace(OVERRIDDEN, overrider=Person("ada")),
        replace(OVERRIDDEN, overrider=None, overridden_by=None),
    ):
        examiner = answer_mark(graded).examiner
        assert examiner is not None
        names.append(examiner.by)
    assert names == ["ada", REMOVED_EXAMINER]
    unrecorded = replace(OVERRIDDEN, overrider=None, overridden_by=None, overridden_at=None)
    mark = answer_mark(unrecorded)
    assert mark.examiner is not None
    assert mark.examiner.by == UNKNOWN_EXAMINER
    assert mark.lines()[0].text == "Examiner's mark 8/10 (Correct), changed by an examiner."


def test_a_mark_set_by_hand_from_the_start_has_no_machine_original() -> None:
    manual = replace(OVERRIDDEN, machine_grade=None)
    mark = answer_mark(manual)
    assert mark.machine is None
    assert [line.kind for line in mark.lines()] == ["examiner_mark", "examiner_comment", "review"]


def test_times_print_in_utc() -> None:
    later = dt.datetime(2026, 12, 6, 15, 3, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert format_moment(later) == "2026-12-06 14:03 UTC"
