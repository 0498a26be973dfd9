from __future__ import annotations

import pytest

from newspeech.results.rules import QuestionScore, ResultPolicy, summarise


def scores(*values: int) -> list[QuestionScore]:
    return [QuestionScore(n, v) for n, v in enumerate(values, start=1)]


@pytest.mark.parametrize(
    ("total", "grade", "passed"),
    [
        (120, "A", True),
        (108, "A", True),  # exactly 90 %
        (107, "B", True),
        (96, "B", True),  # 80 %
        (84, "C", True),  # 70 %
        (72, "D", True),  # 60 %
        (71, "E", True),  # 59.17 %: the band from the pass mark up to D
        (60, "E", True),  # 50 %: the seed's pass mark
        (59, "F", False),
        (0, "F", False),
    ],
)
def test_seed_grade_bands_and_pass_mark(total: int, grade: str, passed: bool) -> None:
    per_question = [10] * (total // 10) + ([total % 10] if total % 10 else [])
    summary = summarise(scores(*per_question), ResultPolicy())
    assert (summary.total_score, summary.grade, summary.passed) == (total, grade, passed)
    assert summary.max_score == 120


def test_unanswered_questions_count_as_zero_against_the_full_maximum() -> None:
    summary = summarise(scores(10, 10, 10), ResultPolicy())
    assert summary.percentage == 25.0
    assert summary.to_json() == {
        "total": 30,
        "max_score": 120,
        "percentage": 25.0,
        "grade": "F",
        "pass": False,
        "questions": [
            {"question_number": 1, "score": 10, "max_score": 10},
            {"question_number": 2, "score": 10, "max_score": 10},
            {"question_number": 3, "score": 10, "max_score": 10},
        ],
    }


def test_policy_from_configuration_values() -> None:
    policy = ResultPolicy.from_config(
        {"pass_percentage": 60.0, "grade_thresholds": {"D": 55, "A": 85, "B": 75, "C": 65}}
    )
    assert policy.grade_bands == (("A", 85.0), ("B", 75.0), ("C", 65.0), ("D", 55.0))
    assert summarise(scores(*[6] * 12), policy).grade == "D"
    assert not summarise(scores(*[5] * 12), policy).passed


def test_rejects_nonsense_policies() -> None:
    with pytest.raises(ValueError, match="pass_percentage"):
        ResultPolicy(pass_percentage=120)
    with pytest.raises(ValueError, match="highest floor down"):
        ResultPolicy(grade_bands=(("B", 80.0), ("A", 90.0)))
    with pytest.raises(ValueError, match="at least one question"):
        ResultPolicy(total_questions=0)


@pytest.mark.parametrize("percentage", [50.0, 55.0, 59.99, 60.0, 75.0, 100.0])
def test_a_pass_never_prints_as_f(percentage: float) -> None:
    policy = ResultPolicy()
    assert policy.grade_for(percentage) != "F"


def test_the_lowest_passing_band_starts_at_the_pass_mark() -> None:
    assert ResultPolicy().passing_bands == (
        ("A", 90.0),
        ("B", 80.0),
        ("C", 70.0),
        ("D", 60.0),
        ("E", 50.0),
    )
    # A pass mark above a band's floor raises the floor: a fail is never graded D.
    strict = ResultPolicy(pass_percentage=65.0)
    assert strict.passing_bands[-1] == ("D", 65.0)
    assert (strict.grade_for(64.9), strict.grade_for(65.0)) == ("F", "D")
    # A pass mark equal to the lowest floor needs no extra band.
    assert ResultPolicy(pass_percentage=60.0).passing_bands[-1] == ("D", 60.0)


def test_the_seed_configuration_grades_fifty_to_fifty_nine_as_e() -> None:
    policy = ResultPolicy.from_config(
        {"pass_percentage": 50, "grade_thresholds": {"A": 90, "B": 80, "C": 70, "D": 60}}
    )
    summary = summarise(scores(*[5] * 12), policy)
    assert (summary.percentage, summary.grade, summary.passed) == (50.0, "E", True)


@pytest.mark.parametrize(
    "bands",
    [
        {"A": 90, "B": 80, "C": 70, "D": 60, "E": 55},  # 50-54 % would be lettered F
        {"A": 90, "F": 55},  # a passing band called F
        {"A": 90, "BB": 60},  # the results table holds one letter
    ],
)
def test_refuses_bands_that_would_print_a_pass_as_f(bands: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="grade"):
        ResultPolicy.from_config({"pass_percentage": 50, "grade_thresholds": bands})


def test_more_questions_than_the_policy_counts_never_score_over_100_percent() -> None:
    summary = summarise(scores(*[10] * 13), ResultPolicy())  # 13 answered, 12 configured
    assert summary.percentage == 100.0
    assert summary.max_score == 130
    assert summary.grade == "A"


def test_questions_worth_more_than_points_per_question_never_score_over_100_percent() -> None:
    heavy = [QuestionScore(n, 20, max_score=40) for n in range(1, 13)]
    summary = summarise(heavy, ResultPolicy())
    assert summary.max_score == 480
    assert summary.percentage == 50.0
