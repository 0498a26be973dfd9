"""What ``newspeech voice prerender`` synthesises: every fixed phrase the engine says as a
cacheable utterance, and every case and question of the chosen banks, in bank order."""

from __future__ import annotations

import ast
import inspect

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from newspeech.errors import NotFound
from newspeech.exams import engine, phrases
from newspeech.exams.outage import PAUSE_TEXT
from newspeech.exams.prerender import texts_to_render
from newspeech.questions.banks import load_banks
from newspeech.seed import seed_reference_data


def _cacheable_phrase_names() -> set[str]:
    """The ``phrases.X`` constants the engine says as cacheable utterances: in an
    ``Utterance(..., cacheable=True)`` or ``_say(..., cacheable=True)``, and as the lead of
    ``_repeat`` / ``_pass`` (which say their lead as a cacheable utterance)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(inspect.getsource(engine))):
        if not isinstance(node, ast.Call):
            continue
        callee = (
            node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        )
        keywords = {k.arg: k.value for k in node.keywords}
        cacheable = isinstance(keywords.get("cacheable"), ast.Constant) and bool(
            keywords["cacheable"].value  # type: ignore[attr-defined]
        )
        said = [*node.args[:1], keywords["lead"]] if "lead" in keywords else node.args[:1]
        if (callee in ("Utterance", "_say") and cacheable) or callee in ("_repeat", "_pass"):
            names |= {
                n.attr
                for n in said
                if isinstance(n, ast.Attribute) and getattr(n.value, "id", "") == "phrases"
            }
    return names


def test_every_fixed_phrase_the_engine_caches_is_prerendered() -> None:
    found = _cacheable_phrase_names()
    assert len(found) >= 8, found  # the scan still sees the engine's phrases
    cacheable = set(phrases.CACHEABLE)
    assert {name for name in found if getattr(phrases, name) not in cacheable} == set()


async def test_texts_are_each_colleges_cases_and_questions_after_the_fixed_phrases(
    db: AsyncSession,
) -> None:
    await seed_reference_data(db)
    groups = await texts_to_render(db, ["medical", "law"])

    assert list(groups) == ["fixed phrases", "medical", "law"]
    assert groups["fixed phrases"] == [*phrases.CACHEABLE, PAUSE_TEXT]
    banks = {bank.college_type: bank for bank in load_banks()}
    for college in ("medical", "law"):
        rows = sorted(
            banks[college].question_rows(), key=lambda r: (r["scenario_id"], r["question_number"])
        )
        questions = [str(r["question_text"]) for r in rows]
        cases = {str(r["scenario_description"] or r["scenario_name"]) for r in rows}
        assert set(groups[college]) == set(questions) | cases
        assert [t for t in groups[college] if t in questions] == questions


async def test_every_college_by_default_and_an_unknown_one_is_named(db: AsyncSession) -> None:
    await seed_reference_data(db)
    groups = await texts_to_render(db, None)
    assert set(groups) == {"fixed phrases"} | {bank.college_type for bank in load_banks()}
    with pytest.raises(NotFound, match="no college type dentistry; known: automobile"):
        await texts_to_render(db, ["medical", "dentistry"])
