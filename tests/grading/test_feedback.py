from __future__ import annotations

import pytest

from newspeech.grading import KeywordGrader, ReviewReason
from newspeech.grading.feedback import (
    SPOKEN_LEAD_WORDS,
    SPOKEN_MODEL_WORDS,
    first_sentence,
    spoken_feedback,
    written_feedback,
)
from newspeech.models.enums import FeedbackType
from tests.grading.cases import bank_question, bank_questions

STEMI = bank_question("medical", 1, 1)


@pytest.mark.parametrize(
    ("answer", "opening"),
    [
        (STEMI.model_answer, "Correct!"),
        ("Inferior STEMI with ST elevation.", "Partially correct."),
        ("Pericarditis.", "Incorrect"),
    ],
)
def test_spoken_feedback_keeps_the_seeds_verdict_then_model_answer(
    answer: str, opening: str
) -> None:
    spoken = KeywordGrader().grade(STEMI, answer).spoken_feedback
    assert spoken.startswith(opening)
    assert "inferior ST-elevation myocardial infarction" in spoken


def test_partial_feedback_names_the_heaviest_missed_concepts() -> None:
    # 5 of 9 weight: 6 points, partial under the default rule (partial >= 5, correct >= 8).
    grade = KeywordGrader().grade(
        bank_question("medical", 1, 2), "Troponin, a right-sided ECG and a chest X-ray."
    )
    assert grade.spoken_feedback.startswith(
        "Partially correct. You did not mention reperfusion not delayed or baseline bloods. "
        "A full answer would say: I would record a right-sided ECG"
    )


def test_terms_are_spoken_and_written_as_the_model_answer_writes_them() -> None:
    grade = KeywordGrader().grade(bank_question("medical", 1, 2), "Troponin and baseline bloods.")
    assert "right-sided ECG" in grade.spoken_feedback
    assert "Missed (most important first): reperfusion not delayed, right-sided ECG" in (
        grade.written_feedback
    )


@pytest.mark.parametrize("key", sorted(bank_questions()), ids=lambda k: "-".join(map(str, k)))
def test_spoken_feedback_is_short_enough_to_say_in_a_few_seconds(
    key: tuple[str, int, int],
) -> None:
    question = bank_questions()[key]
    for feedback_type in FeedbackType:
        spoken = spoken_feedback(
            feedback_type,
            missing=[k.term for k in question.keywords],
            model_answer=question.model_answer,
            review_reasons=[ReviewReason.LOW_ASR_CONFIDENCE],
        )
        assert len(spoken.split()) <= SPOKEN_LEAD_WORDS + SPOKEN_MODEL_WORDS + 6  # + intro


def test_first_sentence_cuts_long_openings_at_a_clause() -> None:
    medical = bank_question("medical", 1, 3).model_answer
    cut = first_sentence(medical)
    assert cut == (
        "Give aspirin 300 mg plus a P2Y12 inhibitor such as ticagrelor, analgesia, oxygen only "
        "if saturations are low, and arrange urgent primary PCI."
    )
    aviation = bank_question("aviation", 3, 3).model_answer
    assert first_sentence(aviation) == (
        "A minimum fuel call tells ATC that I am committed to an aerodrome."
    )
    assert first_sentence("Probably not. Murder requires malice, and more.") == (
        "Probably not. Murder requires malice, and more."
    )
    assert first_sentence("") == ""


def test_written_feedback_lists_what_was_missed() -> None:
    text = written_feedback(
        FeedbackType.PARTIAL,
        score=6,
        max_score=10,
        matched=["inferior stemi", "st elevation"],
        missing=["reciprocal changes", "right coronary artery"],
        model_answer=STEMI.model_answer,
        review_reasons=[ReviewReason.LOW_ASR_CONFIDENCE],
    )
    assert text.splitlines() == [
        "Partially correct: 6/10.",
        "Covered: inferior stemi, ST elevation.",
        "Missed (most important first): reciprocal changes, right coronary artery.",
        "Sent for examiner review: low asr confidence.",
        f"Model answer: {' '.join(STEMI.model_answer.split())}",
    ]
