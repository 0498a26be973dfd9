from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from newspeech.colleges.repository import CollegeTypeRepository
from newspeech.questions.repository import QuestionRepository
from newspeech.seed import seed_reference_data


async def test_seed_loads_every_bank_and_is_idempotent(db: AsyncSession) -> None:
    first = await seed_reference_data(db)
    await db.commit()
    second = await seed_reference_data(db)
    await db.commit()

    assert (first.college_types, first.questions_added, first.questions_updated) == (6, 72, 0)
    assert (second.questions_added, second.questions_updated) == (0, 0)
    colleges = [c.code for c in await CollegeTypeRepository(db).list()]
    assert colleges == ["automobile", "aviation", "engineering", "law", "management", "medical"]


async def test_reseeding_updates_an_edited_question_in_place(db: AsyncSession) -> None:
    await seed_reference_data(db)
    question = (await QuestionRepository(db).for_scenario("law", 2))[0]
    original = question.question_text
    question.question_text = "Edited by an examiner"
    await db.commit()

    report = await seed_reference_data(db)
    await db.refresh(question)
    assert (report.questions_added, report.questions_updated) == (0, 1)
    assert question.question_text == original


async def test_scenarios_and_their_questions_in_order(db: AsyncSession) -> None:
    await seed_reference_data(db)
    repo = QuestionRepository(db)
    scenarios = await repo.scenarios("medical")
    assert [s.scenario_id for s in scenarios] == [1, 2, 3, 4]
    assert all(s.question_count == 3 and s.scenario_description for s in scenarios)
    questions = await repo.for_scenario("medical", 3)
    assert [q.question_number for q in questions] == [1, 2, 3]
    assert {q.scenario_name for q in questions} == {scenarios[2].scenario_name}
    assert await repo.get(questions[0].id) is questions[0]
    assert await repo.scenarios("astrology") == []
    assert await repo.bulk_insert([]) == 0
