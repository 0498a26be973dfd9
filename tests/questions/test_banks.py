from __future__ import annotations

import re
from pathlib import Path

import pytest

from newspeech.errors import ValidationFailed
from newspeech.models import Difficulty
from newspeech.questions.banks import BankSpec, load_bank, load_banks

COLLEGES = {"medical", "law", "aviation", "automobile", "engineering", "management"}
BANKS = load_banks()


def test_ships_six_colleges_of_four_scenarios_of_three_questions() -> None:
    assert {bank.college_type for bank in BANKS} == COLLEGES
    for bank in BANKS:
        assert [s.scenario_id for s in bank.scenarios] == [1, 2, 3, 4], bank.college_type
        assert all(len(s.questions) == 3 for s in bank.scenarios), bank.college_type
    assert sum(len(bank.question_rows()) for bank in BANKS) == 72


@pytest.mark.parametrize("bank", BANKS, ids=lambda b: b.college_type)
def test_every_keyword_is_said_in_the_model_answer(bank: BankSpec) -> None:
    for scenario in bank.scenarios:
        for question in scenario.questions:
            answer = question.model_answer.lower()
            for keyword in question.keywords:
                forms = [keyword.term, *keyword.synonyms]
                assert any(form.lower() in answer for form in forms), (
                    f"{bank.college_type} {scenario.scenario_id}.{question.question_number}: "
                    f"none of {forms} in the model answer"
                )


@pytest.mark.parametrize("bank", BANKS, ids=lambda b: b.college_type)
def test_questions_are_distinct_spoken_length_and_start_easy(bank: BankSpec) -> None:
    texts = [q.question for s in bank.scenarios for q in s.questions]
    assert len(set(texts)) == len(texts)
    for scenario in bank.scenarios:
        assert 60 <= len(scenario.case.split()) <= 110, scenario.name
        assert scenario.questions[0].difficulty is Difficulty.EASY, scenario.name
        for question in scenario.questions:
            assert 25 <= len(question.model_answer.split()) <= 70, question.question
            assert not re.search(r"\b(TBD|TODO|lorem)\b", question.model_answer, re.IGNORECASE)


def test_rows_carry_structured_and_flat_keywords() -> None:
    row = BANKS[0].question_rows()[0]
    assert row["expected_keywords"] == [k["term"] for k in row["keywords"]]
    assert set(row["keywords"][0]) == {"term", "synonyms", "weight"}
    assert row["scenario_description"]
    assert row["model_answer"]


def test_invalid_bank_gets_an_error_naming_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(
        "college_type: Nursing School\nname: N\nscenarios:\n"
        "  - scenario_id: 1\n    name: x\n    case: a case long enough to pass\n"
        "    questions:\n      - question_number: 2\n        question: What now, nurse?\n"
        "        category: c\n        difficulty: trivial\n        keywords: []\n"
        "        model_answer: An answer here.\n        guidelines: Some guidance.\n"
    )
    with pytest.raises(ValidationFailed) as caught:
        load_bank(path)
    message = caught.value.detail
    assert str(path) in message
    assert "college_type" in message
    assert "difficulty" in message
    assert "keywords" in message


def test_unreadable_yaml_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("college_type: [unclosed\n")
    with pytest.raises(ValidationFailed, match="cannot read question bank"):
        load_bank(path)
    with pytest.raises(ValidationFailed, match="no question banks"):
        load_banks(tmp_path / "empty")
