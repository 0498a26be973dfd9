"""One answer's mark as every view shows it: the mark that counts, where it came from, and, once
an examiner has changed it, the machine's original next to it.

The examiner workspace, the session API, the PDF report, the certificate and the candidate's
own report all read a mark through :func:`answer_mark` and word it with :meth:`AnswerMark.lines`,
so none of them can keep the machine's "Incorrect: 3/10" after an examiner made it 8/10, or call
a review pending that an override resolved. Pure: no database, no web framework.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from newspeech.models.enums import EvaluatorType, FeedbackType

VERDICTS = {
    FeedbackType.CORRECT: "Correct",
    FeedbackType.PARTIAL: "Partially correct",
    FeedbackType.INCORRECT: "Incorrect",
}
UNKNOWN_EXAMINER = "an examiner"
REMOVED_EXAMINER = "an examiner whose account was removed"

LineKind = Literal[
    "examiner_mark", "examiner_comment", "machine_mark", "machine_feedback", "feedback", "review"
]


class Named(Protocol):
    @property
    def username(self) -> str: ...
    @property
    def full_name(self) -> str | None: ...


class GradedEvaluation(Protocol):
    """What a mark is read from: the ``Evaluation`` row, or its API schema."""

    @property
    def score_obtained(self) -> int: ...
    @property
    def max_score(self) -> int: ...
    @property
    def feedback(self) -> str | None: ...
    @property
    def feedback_type(self) -> FeedbackType: ...
    @property
    def evaluator_type(self) -> EvaluatorType: ...
    @property
    def needs_review(self) -> bool: ...
    @property
    def review_reasons(self) -> list[Any] | None: ...
    @property
    def reviewed_at(self) -> dt.datetime | None: ...
    @property
    def review_comment(self) -> str | None: ...
    @property
    def machine_grade(self) -> dict[str, Any] | None: ...
    @property
    def overridden_by(self) -> int | None: ...
    @property
    def overridden_at(self) -> dt.datetime | None: ...
    @property
    def overrider(self) -> Named | None: ...


class ReviewState(enum.StrEnum):
    NONE = "none"
    PENDING = "pending"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class MachineMark:
    """The grader's mark and wording (before any override)."""

    score: int
    max_score: int
    feedback_type: FeedbackType
    evaluator_type: EvaluatorType
    feedback: str | None

    @property
    def verdict(self) -> str:
        return VERDICTS[self.feedback_type]


@dataclass(frozen=True)
class ExaminerMark:
    """The mark an examiner set by hand, with their comment, name and time."""

    score: int
    max_score: int
    feedback_type: FeedbackType
    comment: str | None
    by_id: int | None
    by: str
    at: dt.datetime | None

    @property
    def verdict(self) -> str:
        return VERDICTS[self.feedback_type]


@dataclass(frozen=True)
class MarkLine:
    kind: LineKind
    text: str


@dataclass(frozen=True)
class AnswerMark:
    score: int
    max_score: int
    feedback_type: FeedbackType
    source: Literal["machine", "examiner"]
    machine: MachineMark | None
    examiner: ExaminerMark | None
    review: ReviewState
    review_reasons: tuple[str, ...]

    @property
    def verdict(self) -> str:
        return VERDICTS[self.feedback_type]

    @property
    def headline(self) -> str:
        """The mark that counts in a few words: ``Examiner's mark 8/10 (Correct)``."""
        mark = f"{self.score}/{self.max_score} ({self.verdict})"
        return f"Examiner's mark {mark}" if self.examiner is not None else f"Mark {mark}"

    def lines(self) -> list[MarkLine]:
        """The mark worded for people, in the order every view shows it."""
        out: list[MarkLine] = []
        if self.examiner is not None:
            out.append(MarkLine("examiner_mark", f"{self.headline}, {provenance(self.examiner)}."))
            if self.examiner.comment:
                out.append(
                    MarkLine("examiner_comment", f"Examiner's comment: {self.examiner.comment}")
                )
            if self.machine is not None:
                machine = self.machine
                out.append(
                    MarkLine(
                        "machine_mark",
                        f"Machine's original mark: {machine.score}/{machine.max_score} "
                        f"({machine.verdict}).",
                    )
                )
                if machine.feedback:
                    out.append(
                        MarkLine(
                            "machine_feedback", f"Machine's original feedback: {machine.feedback}"
                        )
                    )
        elif self.machine is not None and self.machine.feedback:
            out.append(MarkLine("feedback", self.machine.feedback))
        review = self.review_line()
        if review is not None:
            out.append(MarkLine("review", review))
        return out

    def review_line(self) -> str | None:
        reasons = f" ({', '.join(self.review_reasons)})" if self.review_reasons else ""
        if self.review is ReviewState.PENDING:
            return f"Waiting for examiner review{reasons}."
        if self.review is ReviewState.RESOLVED:
            return f"Review resolved{reasons}."
        return None


def display_name(user: Named | None) -> str | None:
    if user is None:
        return None
    return user.full_name or user.username


def format_moment(moment: dt.datetime) -> str:
    """``2026-12-06 14:03 UTC``: one wording of a time for every printed view."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC)
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def provenance(examiner: ExaminerMark) -> str:
    when = f" on {format_moment(examiner.at)}" if examiner.at is not None else ""
    return f"changed by {examiner.by}{when}"


def _machine_from_snapshot(snapshot: Mapping[str, Any]) -> MachineMark:
    return MachineMark(
        score=int(snapshot["score"]),
        max_score=int(snapshot["max_score"]),
        feedback_type=FeedbackType(snapshot["feedback_type"]),
        evaluator_type=EvaluatorType(snapshot["evaluator_type"]),
        feedback=snapshot.get("feedback"),
    )


def review_state(evaluation: GradedEvaluation) -> ReviewState:
    """Resolved once an examiner has reviewed it (an override does), pending while queued."""
    if evaluation.reviewed_at is not None:
        return ReviewState.RESOLVED
    if evaluation.needs_review:
        return ReviewState.PENDING
    return ReviewState.NONE


def answer_mark(evaluation: GradedEvaluation) -> AnswerMark:
    """The mark that counts and its provenance (see the module docstring)."""
    examiner = None
    if evaluation.evaluator_type is EvaluatorType.MANUAL:
        name = display_name(evaluation.overrider)
        if name is None:
            removed = evaluation.overridden_at is not None and evaluation.overridden_by is None
            name = REMOVED_EXAMINER if removed else UNKNOWN_EXAMINER
        examiner = ExaminerMark(
            score=evaluation.score_obtained,
            max_score=evaluation.max_score,
            feedback_type=evaluation.feedback_type,
            comment=evaluation.review_comment,
            by_id=evaluation.overridden_by,
            by=name,
            at=evaluation.overridden_at,
        )
        snapshot = evaluation.machine_grade
        machine = None if snapshot is None else _machine_from_snapshot(snapshot)
    else:
        machine = MachineMark(
            score=evaluation.score_obtained,
            max_score=evaluation.max_score,
            feedback_type=evaluation.feedback_type,
            evaluator_type=evaluation.evaluator_type,
            feedback=evaluation.feedback,
        )
    return AnswerMark(
        score=evaluation.score_obtained,
        max_score=evaluation.max_score,
        feedback_type=evaluation.feedback_type,
        source="examiner" if examiner is not None else "machine",
        machine=machine,
        examiner=examiner,
        review=review_state(evaluation),
        review_reasons=tuple(str(r) for r in evaluation.review_reasons or []),
    )
