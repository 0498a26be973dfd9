"""The seed baseline reproduces the seed product's keyword matcher rule for rule."""

from __future__ import annotations

import pytest

from newspeech.grading import GradingQuestion, GradingThresholds, Keyword, SeedKeywordGrader
from newspeech.models.enums import FeedbackType
from tests.grading.cases import bank_question


def seed_rules(
    expected_keywords: list[str], answer: str, threshold: float = 0.8
) -> tuple[int, float, FeedbackType, list[str]]:
    """The seed as documented: substring matching, fraction = matched / len(keywords),
    points = round(fraction * 10); bands from the unrounded fraction, with the seed documents'
    rule (correct at >= threshold, default 0.8; partial at >= 0.5)."""
    answer_lower = answer.lower()
    found = [kw for kw in expected_keywords if kw.lower() in answer_lower]
    fraction = len(found) / len(expected_keywords)
    if fraction >= threshold:
        feedback = FeedbackType.CORRECT
    elif fraction >= 0.5:
        feedback = FeedbackType.PARTIAL
    else:
        feedback = FeedbackType.INCORRECT
    return round(fraction * 10), fraction, feedback, found


CASES = [
    (("medical", 1, 1), "It's an inferior STEMI with ST elevation and reciprocal changes."),
    (("medical", 1, 1), "A heart attack from the RCA."),  # synonyms: the seed ignores them
    (("medical", 1, 1), "It happened circa forty minutes ago"),  # "rca" inside "circa"
    (("medical", 1, 1), "It is not an inferior STEMI."),  # no negation in the seed
    (("automobile", 1, 1), "Vapour lock, hygroscopic, water contamination."),
    (("law", 2, 1), "Duty of care, breach, causation, damage, remoteness."),
    (("engineering", 2, 2), "Two and a half percent."),  # spoken numbers: no match
    (("management", 3, 2), ""),
]


@pytest.mark.parametrize(("key", "answer"), CASES)
def test_matches_the_seeds_rules(key: tuple[str, int, int], answer: str) -> None:
    question = bank_question(*key)
    grade = SeedKeywordGrader().grade(question, answer)
    score, fraction, feedback, found = seed_rules([k.term for k in question.keywords], answer)
    assert (grade.score, grade.fraction, grade.feedback_type) == (score, fraction, feedback)
    assert list(grade.matched) == found


def test_rounds_like_the_seed_half_to_even() -> None:
    question = GradingQuestion("Name four.", tuple(Keyword(t) for t in ("ab", "cd", "ef", "gh")))
    assert SeedKeywordGrader().grade(question, "ab").score == 2  # round(2.5) == 2
    assert SeedKeywordGrader().grade(question, "ab ef gh").score == 8  # round(7.5) == 8


def test_reads_the_configured_threshold() -> None:
    question = bank_question("medical", 1, 1)
    answer = "inferior stemi, st elevation, reciprocal changes"  # 3 of 5 = 0.6
    assert SeedKeywordGrader().grade(question, answer).feedback_type is FeedbackType.PARTIAL
    lenient = SeedKeywordGrader(GradingThresholds.from_config({"keyword_matching_threshold": 0.6}))
    assert lenient.grade(question, answer).feedback_type is FeedbackType.CORRECT
    assert seed_rules([k.term for k in question.keywords], answer, 0.6)[2] is FeedbackType.CORRECT
