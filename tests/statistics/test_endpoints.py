"""GET /statistics/{college}: the item and test statistics of a small fixed data set, checked
against values worked by hand (the data set of tests/statistics/test_queries.py)."""

from __future__ import annotations

import math

import pytest

from newspeech.auth.scope import set_assigned_colleges
from newspeech.configuration.repository import ConfigurationRepository
from newspeech.models import ConfigValueType, UserRole
from tests.fixtures.api import Api
from tests.fixtures.factories import make_user
from tests.statistics.test_queries import sit_the_fixed_data_set

# Scores of four candidates on three questions (max 10 each, result maximum 30):
#   Q1 8 6 4 2 | Q2 6 4 6 0 | Q3 10 6 4 4 -> totals 24 16 14 6 (80, 53.3, 46.7, 20 %).
# Q1: mean 5, facility 0.5, sd sqrt(20/3); rest of test 16 10 10 4 -> r = 36 / sqrt(20*72).
# Q2: mean 4, facility 0.4, sd sqrt(24/3); Q3: mean 6, facility 0.6, sd sqrt(24/3).
# Totals: mean 15, median 15, sd sqrt(164/3); alpha = 3/2 * (1 - (20+24+24)/3 / (164/3)).
QUESTIONS = [
    (5.0, 0.5, math.sqrt(20 / 3), 36 / math.sqrt(20 * 72)),
    (4.0, 0.4, math.sqrt(8), 0.623610),
    (6.0, 0.6, math.sqrt(8), 0.749269),
]


async def test_statistics_match_the_hand_computation(api: Api) -> None:
    async with api.sessionmaker() as db:
        await sit_the_fixed_data_set(db)
        examiner = await make_user(db, role=UserRole.EXAMINER, college_type=None)
        await set_assigned_colleges(db, examiner.id, ["medical"])
        # Four candidates are enough here only because the minimum is lowered for the test.
        await ConfigurationRepository(db).set(
            "statistics_min_candidates", 4, value_type=ConfigValueType.INTEGER
        )
        await db.commit()
    client = api.client()
    headers = await api.headers_for(examiner.id)

    response = await client.get("/statistics/medical", headers=headers)
    assert response.status_code == 200, response.text
    report = response.json()
    exam = report["exam"]
    assert (exam["candidates"], exam["items"], exam["mean"], exam["median"]) == (4, 3, 15, 15)
    assert exam["std_dev"] == pytest.approx(math.sqrt(164 / 3))
    assert exam["cronbach_alpha"] == pytest.approx(1.5 * (1 - 68 / 164))
    assert (exam["cronbach_alpha_note"], exam["min_candidates"]) == (None, 4)
    assert exam["terminated_excluded"] == 0
    # Ten bands of 10 %: 20 -> band 2, 46.7 -> 4, 53.3 -> 5, 80 -> 8.
    assert [b["count"] for b in exam["distribution"]] == [0, 0, 1, 0, 1, 1, 0, 0, 1, 0]
    assert (exam["distribution"][8]["lower"], exam["distribution"][8]["upper"]) == (80, 90)
    got = [
        (q["mean"], q["facility"], q["std_dev"], q["discrimination"]) for q in report["questions"]
    ]
    for row, wanted in zip(got, QUESTIONS, strict=True):
        assert row == pytest.approx(wanted, abs=1e-6)
    assert [q["attempts"] for q in report["questions"]] == [4, 4, 4]
    # Pass at 50 %: March 2 of 3, April 0 of 1.
    assert [(r["period_start"], r["attempts"], r["passes"]) for r in report["pass_rates"]] == [
        ("2026-03-01", 3, 2),
        ("2026-04-01", 1, 0),
    ]

    march = await client.get(
        "/statistics/medical",
        params={"since": "2026-03-01T00:00:00", "until": "2026-04-01T00:00:00", "period": "week"},
        headers=headers,
    )
    assert march.status_code == 200
    assert march.json()["exam"]["candidates"] == 3
    assert [(r["period_start"], r["passes"]) for r in march.json()["pass_rates"]] == [
        ("2026-03-02", 2),
        ("2026-03-09", 0),
    ]
    backwards = await client.get(
        "/statistics/medical",
        params={"since": "2026-04-01T00:00:00Z", "until": "2026-03-01T00:00:00Z"},
        headers=headers,
    )
    assert backwards.status_code == 422
    assert (await client.get("/statistics/law", headers=headers)).status_code == 404


async def test_statistics_say_when_there_are_too_few_candidates(api: Api) -> None:
    async with api.sessionmaker() as db:
        await sit_the_fixed_data_set(db)
        examiner = await make_user(db, role=UserRole.EXAMINER, college_type=None)
        await set_assigned_colleges(db, examiner.id, ["medical"])
        await db.commit()
    headers = await api.headers_for(examiner.id)
    response = await api.client().get("/statistics/medical", headers=headers)
    assert response.status_code == 200, response.text
    report = response.json()
    exam = report["exam"]
    assert exam["cronbach_alpha"] is None
    assert exam["min_candidates"] == 30
    assert "needs at least 30 candidates" in exam["cronbach_alpha_note"]
    assert [q["discrimination"] for q in report["questions"]] == [None, None, None]
    assert all("there are 4" in q["discrimination_note"] for q in report["questions"])
    assert [q["facility"] for q in report["questions"]] == [0.5, 0.4, 0.6]
