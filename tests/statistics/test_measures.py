"""Item and test statistics against values worked out by hand on a small fixed data set.

Four candidates, three questions worth 10 points each:

    candidate   A    B    C   total
    c1          8    6   10    24
    c2          6    4    6    16
    c3          4    6    4    14
    c4          2    0    4     6

Question A: mean 5, facility 5/10 = 0.5; deviations 3, 1, -1, -3, sum of squares 20, sample
variance 20/3, sd sqrt(20/3) = 2.5820. Rest of test (total - A) = 16, 10, 10, 4, mean 10,
deviations 6, 0, 0, -6. Sxy = 3*6 + 1*0 + (-1)*0 + (-3)*(-6) = 36, Sxx = 20, Syy = 72,
r = 36 / sqrt(20 * 72) = 36 / sqrt(1440) = 0.948683.
Question B: 6, 4, 6, 0; mean 4, facility 0.4; deviations 2, 0, 2, -4, SS 24, variance 8,
sd sqrt(8) = 2.828427. Rest = 18, 12, 8, 6 (mean 11, deviations 7, 1, -3, -5, Syy 84);
Sxy = 14 + 0 - 6 + 20 = 28, r = 28 / sqrt(24 * 84) = 28 / sqrt(2016) = 0.623610.
Question C: 10, 6, 4, 4; mean 6, facility 0.6; deviations 4, 0, -2, -2, SS 24, variance 8.
Rest = 14, 10, 10, 2 (mean 9, deviations 5, 1, 1, -7, Syy 76); Sxy = 20 + 0 - 2 + 14 = 32,
r = 32 / sqrt(24 * 76) = 32 / sqrt(1824) = 0.749269.
Totals 24, 16, 14, 6: mean 15, median (14 + 16) / 2 = 15, deviations 9, 1, -1, -9, SS 164,
variance 164/3, sd sqrt(164/3) = 7.393691.
Cronbach's alpha = 3/2 * (1 - (20/3 + 8 + 8) / (164/3)) = 3/2 * (1 - 68/164) = 144/164
= 0.878049.
Percentages of 30: 80, 53.33, 46.67, 20.
"""

from __future__ import annotations

import datetime as dt
import math

import pytest

from newspeech.statistics.measures import (
    CandidateScores,
    PassRate,
    ScoreBin,
    cronbach_alpha,
    exam_statistics,
    item_statistics,
    pass_rates,
    pearson,
    period_start,
    score_distribution,
)

MAX = {"A": 10.0, "B": 10.0, "C": 10.0}
TABLE = {
    "c1": {"A": 8, "B": 6, "C": 10},
    "c2": {"A": 6, "B": 4, "C": 6},
    "c3": {"A": 4, "B": 6, "C": 4},
    "c4": {"A": 2, "B": 0, "C": 4},
}
CANDIDATES = [
    CandidateScores(name, {k: float(v) for k, v in row.items()}) for name, row in TABLE.items()
]


def test_item_facility_spread_and_discrimination_match_the_hand_computation() -> None:
    a, b, c = item_statistics(CANDIDATES, MAX)
    assert (a.item, a.attempts, a.mean, a.facility) == ("A", 4, 5.0, 0.5)
    assert a.std_dev == pytest.approx(math.sqrt(20 / 3))
    assert a.discrimination == pytest.approx(36 / math.sqrt(1440))
    assert a.discrimination == pytest.approx(0.948683, abs=1e-6)
    assert (b.mean, b.facility) == (4.0, 0.4)
    assert b.std_dev == pytest.approx(math.sqrt(8))
    assert b.discrimination == pytest.approx(0.623610, abs=1e-6)
    assert (c.mean, c.facility) == (6.0, 0.6)
    assert c.std_dev == pytest.approx(math.sqrt(8))
    assert c.discrimination == pytest.approx(0.749269, abs=1e-6)


def test_exam_mean_median_spread_alpha_and_histogram() -> None:
    exam = exam_statistics(CANDIDATES, MAX, bins=5)
    assert (exam.candidates, exam.items, exam.mean, exam.median) == (4, 3, 15.0, 15.0)
    assert exam.std_dev == pytest.approx(math.sqrt(164 / 3))
    assert exam.cronbach_alpha == pytest.approx(144 / 164)
    assert exam.cronbach_alpha == pytest.approx(0.878049, abs=1e-6)
    # 20 % -> band 20-40, 46.67 and 53.33 -> 40-60, 80 -> 80-100 (the last band includes 100).
    assert [b.count for b in exam.distribution] == [0, 1, 2, 0, 1]
    assert exam.distribution[0] == ScoreBin(0.0, 20.0, 0)
    assert exam.distribution[-1] == ScoreBin(80.0, 100.0, 1)


def test_histogram_against_a_larger_test_maximum() -> None:
    # Totals 24, 16, 14, 6 of 120 are 20, 13.3, 11.7 and 5 %.
    exam = exam_statistics(CANDIDATES, MAX, bins=10, test_max=120)
    assert [b.count for b in exam.distribution] == [1, 2, 1, 0, 0, 0, 0, 0, 0, 0]


def test_one_candidate_gives_none_not_nan() -> None:
    [only] = CANDIDATES[:1]
    [a, *_] = item_statistics([only], MAX)
    assert (a.mean, a.facility, a.std_dev, a.discrimination) == (8.0, 0.8, None, None)
    exam = exam_statistics([only], MAX)
    assert (exam.mean, exam.median, exam.std_dev, exam.cronbach_alpha) == (24.0, 24.0, None, None)


def test_zero_variance_gives_none_not_nan() -> None:
    same = [CandidateScores(n, {"A": 5.0, "B": float(n)}) for n in range(3)]
    a, b = item_statistics(same, {"A": 10.0, "B": 10.0})
    # Everyone scored 5 on A: its spread is 0 and it cannot discriminate.
    assert (a.std_dev, a.discrimination) == (0.0, None)
    # B varies (0, 1, 2) but its rest of test (A alone, always 5) does not.
    assert b.std_dev == pytest.approx(1.0)
    assert b.discrimination is None
    flat = [CandidateScores(n, {"A": 5.0, "B": 5.0}) for n in range(3)]
    assert cronbach_alpha(flat, ["A", "B"]) is None
    assert pearson([1.0, 1.0], [2.0, 3.0]) is None


def test_unanswered_questions_are_left_out_of_facility_and_count_zero_in_alpha() -> None:
    partial = [*CANDIDATES, CandidateScores("c5", {"A": 10.0})]
    a, b, _c = item_statistics(partial, MAX)
    # A: 8, 6, 4, 2, 10 -> mean 6; B is still over its four answers.
    assert (a.attempts, a.mean, b.attempts, b.mean) == (5, 6.0, 4, 4.0)
    # Alpha over five candidates, c5 scoring 10, 0, 0 (totals 24, 16, 14, 6, 10):
    # A = 8,6,4,2,10, mean 6, SS = 4 + 0 + 4 + 16 + 16 = 40, variance 10;
    # B = 6,4,6,0,0, mean 3.2, SS = 7.84 + 0.64 + 7.84 + 10.24 + 10.24 = 36.8, variance 9.2;
    # C = 10,6,4,4,0, mean 4.8, SS = 27.04 + 1.44 + 0.64 + 0.64 + 23.04 = 52.8, variance 13.2;
    # totals mean 14, SS = 100 + 4 + 0 + 64 + 16 = 184, variance 46;
    # alpha = 3/2 * (1 - 32.4 / 46) = 0.443478.
    assert cronbach_alpha(partial, MAX) == pytest.approx(0.443478, abs=1e-6)


def test_pearson_needs_pairs() -> None:
    with pytest.raises(ValueError, match="pairs"):
        pearson([1.0, 2.0], [1.0])
    assert pearson([1.0, 2.0, 3.0], [2.0, 4.0, 6.0]) == pytest.approx(1.0)
    assert pearson([1.0, 2.0, 3.0], [3.0, 2.0, 1.0]) == pytest.approx(-1.0)


def test_distribution_rejects_out_of_range_percentages_and_bins() -> None:
    assert [b.count for b in score_distribution([0.0, 9.99, 10.0, 100.0], bins=10)] == [
        2, 1, 0, 0, 0, 0, 0, 0, 0, 1,
    ]  # fmt: skip
    with pytest.raises(ValueError, match="outside"):
        score_distribution([101.0])
    with pytest.raises(ValueError, match="at least one bin"):
        score_distribution([], bins=0)
    empty = exam_statistics([], MAX)
    assert (empty.mean, empty.median, empty.cronbach_alpha) == (None, None, None)


def test_pass_rate_by_week_and_by_month() -> None:
    utc = dt.UTC
    rows = [
        ("medical", dt.datetime(2026, 3, 2, 9, tzinfo=utc), True),  # Monday
        ("medical", dt.datetime(2026, 3, 8, 23, tzinfo=utc), False),  # Sunday, same ISO week
        ("medical", dt.datetime(2026, 3, 9, 8, tzinfo=utc), True),  # next Monday
        ("law", dt.datetime(2026, 4, 1, 12, tzinfo=utc), False),
    ]
    weekly = pass_rates(rows, "week")
    assert weekly == [
        PassRate("law", dt.date(2026, 3, 30), 1, 0),
        PassRate("medical", dt.date(2026, 3, 2), 2, 1),
        PassRate("medical", dt.date(2026, 3, 9), 1, 1),
    ]
    assert [r.rate for r in weekly] == [0.0, 0.5, 1.0]
    monthly = pass_rates(rows, "month")
    assert monthly == [
        PassRate("law", dt.date(2026, 4, 1), 1, 0),
        PassRate("medical", dt.date(2026, 3, 1), 3, 2),
    ]
    assert period_start(dt.date(2026, 1, 1), "week") == dt.date(2025, 12, 29)
