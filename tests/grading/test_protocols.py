from __future__ import annotations

import pytest

from newspeech.errors import ConfigurationError, ValidationFailed
from newspeech.grading import Grade, GradingQuestion, GradingThresholds, Keyword
from newspeech.models.enums import EvaluatorType, FeedbackType
from newspeech.questions.banks import load_banks


def test_builds_from_a_bank_row_with_weights_and_synonyms() -> None:
    row = load_banks()[0].question_rows()[0]
    question = GradingQuestion.from_mapping(row)
    assert question.text == row["question_text"]
    assert question.model_answer == row["model_answer"]
    assert question.guidelines == row["answer_guidelines"]
    assert question.max_score == 10
    assert [k.term for k in question.keywords] == row["expected_keywords"]
    first = row["keywords"][0]
    assert question.keywords[0] == Keyword(first["term"], tuple(first["synonyms"]), first["weight"])


def test_falls_back_to_the_seeds_flat_expected_keywords() -> None:
    question = GradingQuestion.from_mapping(
        {"question": "Name two antiplatelets.", "keywords": None, "expected_keywords": ["aspirin"]}
    )
    assert question.keywords == (Keyword("aspirin"),)
    assert question.total_weight == 1


@pytest.mark.parametrize(
    "data",
    [
        {"question_text": "What?", "keywords": [{"synonyms": ["x"]}]},
        {"question_text": "What?", "keywords": [{"term": "x", "weight": "heavy"}]},
        {"question_text": "What?", "keywords": [{"term": "x", "weight": 0}]},
        {"keywords": [{"term": "x"}]},
    ],
)
def test_rejects_malformed_questions(data: dict[str, object]) -> None:
    with pytest.raises(ValidationFailed):
        GradingQuestion.from_mapping(data)


def test_questions_are_hashable_so_graders_can_cache_them() -> None:
    row = load_banks()[0].question_rows()[0]
    assert hash(GradingQuestion.from_mapping(row)) == hash(GradingQuestion.from_mapping(row))


def test_thresholds_default_to_the_seed_documents_rule() -> None:
    thresholds = GradingThresholds.from_config({})
    assert (thresholds.correct, thresholds.partial, thresholds.asr_review_below) == (0.8, 0.5, 0.5)


def test_thresholds_come_from_configuration_values() -> None:
    thresholds = GradingThresholds.from_config(
        {
            "keyword_matching_threshold": 0.7,
            "keyword_partial_threshold": "0.4",
            "asr_review_confidence_threshold": 0.35,
            "unrelated_key": "ignored",
        }
    )
    assert thresholds == GradingThresholds(correct=0.7, partial=0.4, asr_review_below=0.35)
    assert thresholds.classify(0.69) is FeedbackType.PARTIAL
    assert thresholds.classify(0.4) is FeedbackType.PARTIAL
    assert thresholds.classify(0.39) is FeedbackType.INCORRECT


@pytest.mark.parametrize(
    "values",
    [
        {"keyword_matching_threshold": 0.3},
        {"keyword_matching_threshold": 1.5},
        {"keyword_partial_threshold": "lots"},
        {"asr_review_confidence_threshold": -0.1},
    ],
)
def test_rejects_inconsistent_thresholds(values: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        GradingThresholds.from_config(values)


@pytest.mark.parametrize(
    ("fraction", "expected"),
    [
        (1.0, FeedbackType.CORRECT),
        (4 / 5, FeedbackType.CORRECT),
        (0.79, FeedbackType.PARTIAL),
        (0.5, FeedbackType.PARTIAL),
        (0.49, FeedbackType.INCORRECT),
        (0.0, FeedbackType.INCORRECT),
    ],
)
def test_classifies_with_the_seeds_bands(fraction: float, expected: FeedbackType) -> None:
    """Correct >= 8, partial >= 5 out of 10 (the seed documents' rule)."""
    assert GradingThresholds().classify(fraction) is expected


@pytest.mark.parametrize(
    ("score", "max_score", "expected"),
    [
        (8, 10, FeedbackType.CORRECT),
        (7, 10, FeedbackType.PARTIAL),
        (5, 10, FeedbackType.PARTIAL),
        (4, 10, FeedbackType.INCORRECT),
        (4, 5, FeedbackType.CORRECT),
    ],
)
def test_feedback_type_follows_the_mark(score: int, max_score: int, expected: FeedbackType) -> None:
    assert GradingThresholds().classify_mark(score, max_score) is expected


def test_grade_refuses_a_score_outside_its_range() -> None:
    with pytest.raises(ValueError, match="outside"):
        Grade(
            score=11,
            max_score=10,
            fraction=1.0,
            feedback_type=FeedbackType.CORRECT,
            matched=(),
            missing=(),
            confidence=1.0,
            review_reasons=(),
            spoken_feedback="",
            written_feedback="",
            evaluator=EvaluatorType.KEYWORD_MATCH,
        )
