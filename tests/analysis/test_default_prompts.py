"""The prompt set shipped with NewSpeech: complete, and its JSON Schemas accept the answers the
prompts ask for and refuse others."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator

from newspeech.analysis.cli import DEFAULT_PROMPTS
from newspeech.analysis.prompt_tree import PromptFile, read_prompt_tree

PROMPTS = read_prompt_tree(DEFAULT_PROMPTS)
BUILDINGS = ("hotel", "restaurant", "spa")


def _part(report_type: str, building: str, run_part: int) -> PromptFile:
    return next(
        p
        for p in PROMPTS
        if (p.report_type, p.building_type, p.run_part) == (report_type, building, run_part)
    )


def test_every_building_type_has_both_reports_in_three_parts() -> None:
    chains = {(p.scenario, p.report_type, p.building_type) for p in PROMPTS}
    assert chains == {
        (scenario, report, building)
        for scenario, report in (("interview", "client-brief"), ("design", "site-audit"))
        for building in BUILDINGS
    }
    assert len(PROMPTS) == 18
    assert {p.run_part for p in PROMPTS} == {1, 2, 3}
    assert [p.returns_json for p in PROMPTS].count(True) == 6
    for prompt in PROMPTS:
        assert prompt.building_type in prompt.text
        assert ("JSON Schema given after these instructions" in prompt.text) == (
            prompt.returns_json
        )


@pytest.mark.parametrize("building", BUILDINGS)
def test_requirements_schema_takes_a_well_formed_answer_only(building: str) -> None:
    schema = _part("client-brief", building, 2).json_schema
    assert schema is not None
    area = schema["properties"]["requirements"]["items"]["properties"]["area"]["enum"][0]
    answer: dict[str, Any] = {
        "requirements": [
            {
                "area": area,
                "requirement": "Stay open during the works.",
                "priority": "must",
                "stated_by": "client",
                "evidence": "we cannot close, not even for a week",
                "timestamp": "12:40",
            }
        ],
        "budget": "about 2 million euros",
        "timeline": None,
    }
    validator = Draft202012Validator(schema)

    assert list(validator.iter_errors(answer)) == []
    assert list(validator.iter_errors({**answer, "requirements": [{"area": "castle"}]}))
    assert list(validator.iter_errors({"requirements": []}))  # budget and timeline are required


@pytest.mark.parametrize("building", BUILDINGS)
def test_issues_schema_takes_a_well_formed_answer_only(building: str) -> None:
    schema = _part("site-audit", building, 2).json_schema
    assert schema is not None
    zones = schema["properties"]["zones_not_covered"]["items"]["enum"]
    issue = {
        "zone": zones[0],
        "category": "safety",
        "severity": "critical",
        "finding": "The fire door on the first floor is wedged open.",
        "evidence": "this one's always propped open with a chair",
        "timestamp": "1:03:12",
        "recommendation": "Remove the wedge and fit a hold-open device linked to the alarm.",
        "effort": "quick win",
    }
    validator = Draft202012Validator(schema)

    assert list(validator.iter_errors({"issues": [issue], "zones_not_covered": zones[1:]})) == []
    assert list(
        validator.iter_errors(
            {"issues": [{**issue, "severity": "urgent"}], "zones_not_covered": []}
        )
    )
    assert list(
        validator.iter_errors({"issues": [{**issue, "timestamp": "soon"}], "zones_not_covered": []})
    )
