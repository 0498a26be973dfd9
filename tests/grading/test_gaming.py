"""The gaming suite (gaming_cases.yaml): gaming answers stay under their caps, honest answers
score high, and the seed baseline shows what the suite guards against."""

from __future__ import annotations

import pytest

from newspeech.grading import KeywordGrader, SeedKeywordGrader
from tests.grading.cases import GamingCase, load_cases

CASES = load_cases()
GRADER = KeywordGrader()


def test_suite_covers_every_college_and_kind() -> None:
    assert len(CASES) >= 20
    assert {case.college for case in CASES} == {
        "medical",
        "law",
        "aviation",
        "automobile",
        "engineering",
        "management",
    }
    assert {case.kind for case in CASES} == {
        "stuffing",
        "injection",
        "padding",
        "repetition",
        "negation",
        "honest",
    }
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_keyword_grader_keeps_within_the_cases_bound(case: GamingCase) -> None:
    grade = GRADER.grade(case.grading_question(), case.transcript)
    assert case.acceptable(grade.score), (grade.score, grade.details)
    if case.review is not None:
        assert grade.needs_review is case.review, grade.review_reasons


def test_the_seed_baseline_is_fooled_by_the_suite() -> None:
    seed = SeedKeywordGrader()
    wins = [
        case.id
        for case in CASES
        if not case.honest
        and not case.acceptable(seed.grade(case.grading_question(), case.transcript).score)
    ]
    assert len(wins) >= 5, wins
