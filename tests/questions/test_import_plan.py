"""Planning an import (the part that runs in a worker process): placement, and the same plan
whether the worker kept the parsed file or has to parse it again."""

from __future__ import annotations

import json
import pickle
from typing import Any

from newspeech.kit.ids import MAX_INT32
from newspeech.questions import import_plan
from newspeech.questions.import_plan import SNAPSHOT_COLUMNS, parse_file, plan_import
from newspeech.questions.interchange import ImportFormat

HEADER = "college,scenario_id,scenario_name,question_number,question,keywords\r\n"


def stored_row(scenario_id: int, number: int, name: str, text: str) -> tuple[Any, ...]:
    values: dict[str, Any] = dict.fromkeys(SNAPSHOT_COLUMNS)
    values |= {
        "id": scenario_id * 100 + number,
        "scenario_id": scenario_id,
        "question_number": number,
        "scenario_name": name,
        "question_text": text,
        "keywords": '[{"term": "ecg", "synonyms": [], "weight": 1}]',  # JSON travels as text
        "expected_keywords": '["ecg"]',
        "max_score": 10,
    }
    return tuple(values[column] for column in SNAPSHOT_COLUMNS)


def batches(*rows: tuple[Any, ...]) -> list[bytes]:
    """Stored rows as the importer sends them to the worker."""
    return [pickle.dumps(list(rows))]


def csv_file(*rows: str) -> bytes:
    return (HEADER + "".join(row + "\r\n" for row in rows)).encode()


def test_new_scenarios_and_questions_continue_after_the_highest_taken() -> None:
    stored = {
        "medical": batches(
            stored_row(4, 1, "Chest pain", "First?"),
            stored_row(4, 2, "Chest pain", "Second?"),
            stored_row(9, 1, "Sepsis", "Fluids?"),
        )
    }
    data = csv_file(
        "medical,,Chest pain,,Third?,ecg",
        "medical,,Stroke,,Scan?,ct",
        "medical,,Stroke,,Thrombolysis?,alteplase",
        "medical,,Chest pain,,First?,ecg",
    )
    plan = plan_import(parse_file(data, ImportFormat.CSV, None), stored)
    placed = [(r["scenario_id"], r["question_number"]) for rows in plan.row_batches() for r in rows]
    assert placed == [(4, 3), (10, 1), (10, 2)]
    assert plan.unchanged == 1
    assert plan.issues == []


def test_a_changed_field_is_an_update_of_that_column_only() -> None:
    stored = {"medical": batches(stored_row(1, 1, "Chest pain", "First?"))}
    data = csv_file("medical,1,Chest pain,1,First?,troponin")
    plan = plan_import(parse_file(data, ImportFormat.CSV, None), stored)
    [[(question_id, changes)]] = list(plan.update_batches())
    assert question_id == 101
    assert set(changes) == {"keywords", "expected_keywords"}
    assert changes["expected_keywords"] == ["troponin"]


def test_stored_json_is_compared_by_value_whatever_its_text() -> None:
    """A re-import of a stored bank compares JSON columns as text first; text written another
    way (no spaces, other key order, as another writer or JSONB gives it back) is still the
    same value, and a different value is still a change."""
    data = csv_file("medical,1,Chest pain,1,First?,ecg", "medical,1,Chest pain,2,Second?,ecg")
    written = plan_import(parse_file(data, ImportFormat.CSV, None), {"medical": []})
    rows = [r for batch in written.row_batches() for r in batch]
    as_stored = [
        tuple(
            json.dumps(r[c]) if c in import_plan.JSON_COLUMNS else r.get(c, n)
            for c in SNAPSHOT_COLUMNS
        )
        for n, r in enumerate(rows, start=1)
    ]
    respelt = list(as_stored[1])
    for column in import_plan.JSON_COLUMNS:
        at = SNAPSHOT_COLUMNS.index(column)
        respelt[at] = json.dumps(json.loads(respelt[at]), separators=(",", ":"), sort_keys=True)
    assert respelt != list(as_stored[1])
    unchanged = plan_import(
        parse_file(data, ImportFormat.CSV, None),
        {"medical": batches(as_stored[0], tuple(respelt))},
        rows=False,
    )
    assert (unchanged.new, unchanged.updated, unchanged.unchanged) == (0, 0, 2)

    changed = csv_file("medical,1,Chest pain,1,First?,ecg", "medical,1,Chest pain,2,Second?,ct")
    plan = plan_import(
        parse_file(changed, ImportFormat.CSV, None),
        {"medical": batches(as_stored[0], tuple(respelt))},
    )
    [[(question_id, changes)]] = list(plan.update_batches())
    assert question_id == 2
    assert changes["expected_keywords"] == ["ct"]


def test_two_items_in_one_place_and_numbers_past_the_column_are_errors() -> None:
    stored = {"medical": batches(stored_row(MAX_INT32, 1, "Last", "Only?"))}
    data = csv_file(
        "medical,3,Case,1,A?,x",
        "medical,3,Case,1,B?,y",
        "medical,,Unnamed before,,C?,z",
    )
    plan = plan_import(parse_file(data, ImportFormat.CSV, None), stored, rows=False)
    assert [(issue.line, "also on line 2" in issue.message) for issue in plan.issues] == [
        (3, True),
        (4, False),
    ]
    assert "no number left" in plan.issues[1].message
    assert plan.new == 1
    assert list(plan.row_batches()) == []  # a dry run does not carry rows back


def test_a_replaced_worker_parses_the_file_again_to_the_same_plan() -> None:
    data = csv_file("medical,,Chest pain,,First?,ecg", "medical,,Chest pain,,Second?,ecg")
    kept = plan_import(parse_file(data, ImportFormat.CSV, None), {"medical": []})
    parsed = parse_file(data, ImportFormat.CSV, None)
    import_plan._WAITING.clear()  # what a new worker process starts with
    again = plan_import(parsed, {"medical": []})
    assert list(again.row_batches()) == list(kept.row_batches())
    assert again.new == 2


def test_items_of_an_unknown_college_are_errors() -> None:
    data = csv_file("astrology,,Stars,,Why?,x")
    plan = plan_import(parse_file(data, ImportFormat.CSV, None), {"medical": []})
    [issue] = plan.issues
    assert "unknown college type 'astrology'" in issue.message


def test_rows_come_back_from_the_worker_in_write_batches_of_fifty() -> None:
    """Each write batch is one step of the server's event loop (its parameters are built there):
    50 rows keep a step to a few milliseconds of CPU (``scripts/bench imports --loop-steps``)."""
    data = csv_file(*(f"medical,,Case {n // 10},,Question {n}?,ecg" for n in range(120)))
    plan = plan_import(parse_file(data, ImportFormat.CSV, None), {"medical": []})
    assert [len(rows) for rows in plan.row_batches()] == [50, 50, 20]
