"""A college's own question, imported with a model answer and no keywords, is graded fairly:
keywords are derived and stored marked, and the default grader (hybrid, real MiniLM) marks a
correct spoken answer high and a wrong one low. Regrading after the grader changed uses the new
grader and leaves manual overrides alone. In both import formats that carry a model answer
(GIFT, Moodle XML), on every database backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from newspeech.grading import GradingThresholds
from newspeech.grading.embeddings import MiniLMEmbedder
from newspeech.grading.factory import PooledGrader
from newspeech.grading.hybrid import HybridGrader
from newspeech.models import Question
from newspeech.models.enums import EvaluatorType, FeedbackType
from newspeech.review.deps import get_grader
from tests.fixtures.api import Api
from tests.fixtures.sittings import evaluation_of, graded_sitting, students
from tests.fixtures.world import build_world

GIFT = """$CATEGORY: $course$/medical/Imported

::Q1::Why does a patient with sepsis need fluids early?{
####Sepsis makes the blood vessels dilate and leak, so blood pressure falls and the organs
are starved of oxygen. Early intravenous fluids restore the circulating volume and organ
perfusion.}
"""
MOODLE_XML = """<?xml version="1.0" encoding="UTF-8"?>
<quiz>
  <question type="category">
    <category><text>$course$/medical/Imported</text></category>
  </question>
  <question type="essay">
    <name><text>Q1</text></name>
    <questiontext format="html">
      <text><![CDATA[<p>Why does a patient with sepsis need fluids early?</p>]]></text>
    </questiontext>
    <generalfeedback format="html">
      <text><![CDATA[<p>Sepsis makes the blood vessels dilate and leak, so blood pressure falls
and the organs are starved of oxygen. Early intravenous fluids restore the circulating volume
and organ perfusion.</p>]]></text>
    </generalfeedback>
    <defaultgrade>1.0000000</defaultgrade>
    <responseformat>editor</responseformat>
  </question>
</quiz>
"""
IMPORTS = {"college.gift": GIFT, "college.xml": MOODLE_XML}
CORRECT = (
    "Because in sepsis the vessels widen and become leaky, the blood pressure drops and the "
    "organs don't get enough oxygen, so you give fluids into the vein early to fill the "
    "circulation back up and get blood to the organs again."
)
WRONG = "Give them paracetamol for the headache and let them sleep it off at home."
OVERRIDDEN = "I am not sure, maybe antibiotics."


@pytest.fixture(scope="module")
def minilm() -> MiniLMEmbedder:
    return MiniLMEmbedder()


@pytest.fixture
def hybrid_grader(api: Api, minilm: MiniLMEmbedder) -> Iterator[None]:
    """The API's grader becomes the default offline grader (these tests run without speech
    engines, where the API falls back to the keyword grader)."""
    grader = PooledGrader(HybridGrader(minilm, GradingThresholds()))
    api.app.dependency_overrides[get_grader] = lambda: grader
    try:
        yield
    finally:
        api.app.dependency_overrides.pop(get_grader, None)


@pytest.mark.parametrize("filename", sorted(IMPORTS))
async def test_imported_model_answer_only_question_is_graded_by_the_default_grader(
    api: Api, hybrid_grader: None, filename: str
) -> None:
    async with api.sessionmaker() as db:
        world = await build_world(db)
        await db.commit()
    headers = await api.headers_for(world.examiner.id)
    client = api.client()
    response = await client.post(
        "/question-banks/import",
        files={"file": (filename, IMPORTS[filename].encode(), "text/plain")},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["new"] == 1
    async with api.sessionmaker() as db:
        question = (
            await db.scalars(select(Question).where(Question.scenario_name == "Imported"))
        ).one()
        assert question.question_text == "Why does a patient with sepsis need fluids early?"
        assert question.model_answer is not None
        assert question.model_answer.startswith("Sepsis makes the blood vessels dilate")
        assert question.keywords
        assert all(k["derived"] for k in question.keywords)
        # Graded at the time by the keyword grader; then the default grader arrives.
        sittings = [
            await graded_sitting(db, student, question, text)
            for student, text in zip(
                await students(db, 3), [CORRECT, WRONG, OVERRIDDEN], strict=True
            )
        ]
        await db.commit()
    correct, wrong, overridden = (s.answers[0].id for s in sittings)
    override = await client.post(
        f"/answers/{overridden}/override", json={"score": 4, "comment": "half"}, headers=headers
    )
    assert override.status_code == 200, override.text

    regrade = await client.post(
        f"/questions/{question.id}/regrade", json={"apply": True}, headers=headers
    )

    assert regrade.status_code == 200, regrade.text
    assert (regrade.json()["graded"], regrade.json()["skipped_manual"]) == (2, 1)
    async with api.sessionmaker() as db:
        good = await evaluation_of(db, correct)
        bad = await evaluation_of(db, wrong)
        kept = await evaluation_of(db, overridden)
    assert good.score_obtained >= 8, good.score_obtained
    assert good.feedback_type is FeedbackType.CORRECT
    assert bad.score_obtained <= 3, bad.score_obtained
    assert bad.feedback_type is FeedbackType.INCORRECT
    # The regrade stores what changed, graded by the new grader (an unchanged mark is left).
    assert good.evaluator_type is EvaluatorType.HYBRID
    assert (kept.score_obtained, kept.evaluator_type) == (4, EvaluatorType.MANUAL)


async def test_a_question_saved_without_keywords_gets_derived_ones_until_the_examiner_edits(
    api: Api,
) -> None:
    async with api.sessionmaker() as db:
        world = await build_world(db)
        await db.commit()
    headers = await api.headers_for(world.examiner.id)
    client = api.client()
    created = await client.post(
        "/questions",
        json={
            "college_type": "medical",
            "scenario_id": 90,
            "scenario_name": "Typed in",
            "question_number": 1,
            "question_text": "What does a raised lactate suggest in sepsis?",
            "model_answer": "Tissue hypoperfusion, not simply dehydration.",
        },
        headers=headers,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert [(k["term"], k["derived"]) for k in body["keywords"]] == [
        ("tissue", True),
        ("hypoperfusion", True),
        ("not simply", True),
        ("dehydration", True),
    ]
    question_id = body["id"]
    # While every keyword is derived, a new model answer derives them again.
    changed = await client.patch(
        f"/questions/{question_id}",
        json={"model_answer": "Poor organ perfusion."},
        headers=headers,
    )
    assert [k["term"] for k in changed.json()["keywords"]] == ["poor", "organ", "perfusion"]
    # The examiner's edit is theirs: no longer derived, and kept when the model answer changes.
    edited = await client.patch(
        f"/questions/{question_id}",
        json={"keywords": [{"term": "hypoperfusion", "synonyms": ["poor perfusion"]}]},
        headers=headers,
    )
    assert edited.json()["keywords"][0]["derived"] is False
    kept = await client.patch(
        f"/questions/{question_id}", json={"model_answer": "Hypoperfusion."}, headers=headers
    )
    assert [k["term"] for k in kept.json()["keywords"]] == ["hypoperfusion"]
