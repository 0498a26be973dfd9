"""The import service and the ``newspeech questions`` commands, on every database backend."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from newspeech.audits.repository import AuditLogRepository
from newspeech.config import Settings
from newspeech.errors import InvalidState, NotFound
from newspeech.models import AuditLog, Question
from newspeech.questions.importer import export_college, import_questions
from newspeech.questions.interchange import ImportFormat, parse_questions
from newspeech.questions.repository import QuestionRepository
from newspeech.seed import seed_reference_data
from tests.fixtures.cli import Newspeech
from tests.fixtures.factories import make_college, make_questions
from tests.test_cli import run_cli

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "research-data" / "moodle-fixtures"


async def count_questions(db: AsyncSession) -> int:
    return int((await db.execute(select(func.count(Question.id)))).scalar_one())


@pytest.mark.parametrize("fmt", list(ImportFormat))
async def test_reimporting_an_exported_bank_changes_nothing(
    db: AsyncSession, fmt: ImportFormat
) -> None:
    await seed_reference_data(db)
    await db.commit()
    data = await export_college(db, "medical", fmt)

    report = await import_questions(db, parse_questions(data, fmt))
    assert (report.new, report.updated, report.unchanged, report.errors) == (0, 0, 12, 0)
    assert report.applied


async def test_dry_run_counts_without_writing_then_import_is_idempotent(db: AsyncSession) -> None:
    await make_college(db, "law")
    await db.commit()
    data = (FIXTURES / "shortanswer_testquestion.moodle.xml").read_bytes()
    parsed = parse_questions(data, ImportFormat.MOODLE_XML, college="law")

    dry = await import_questions(db, parsed, dry_run=True)
    assert (dry.new, dry.updated, dry.unchanged, dry.errors, dry.applied) == (1, 0, 0, 0, False)
    assert await count_questions(db) == 0

    applied = await import_questions(db, parsed)
    await db.commit()
    assert (applied.new, applied.applied) == (1, True)
    [stored] = await QuestionRepository(db).for_college("law")
    # An empty college: the category becomes scenario 1, the question its number 1.
    assert (stored.scenario_id, stored.scenario_name, stored.question_number) == (
        1,
        "Test questions",
        1,
    )
    assert stored.expected_keywords == ["frog"]
    assert stored.keywords == [{"term": "frog", "synonyms": ["toad"], "weight": 1}]
    assert stored.model_answer == "Generalfeedback: frog or toad would have been OK."

    again = await import_questions(db, parsed)
    assert (again.new, again.updated, again.unchanged) == (0, 0, 1)


async def test_an_edited_csv_row_updates_only_that_question(db: AsyncSession) -> None:
    await seed_reference_data(db)
    await db.commit()
    rows = list(
        csv.DictReader(io.StringIO((await export_college(db, "law", ImportFormat.CSV)).decode()))
    )
    rows[4]["keywords"] = "consideration (3) = something of value | price; privity"
    rows[4]["difficulty"] = "hard"
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)

    report = await import_questions(db, parse_questions(out.getvalue().encode(), ImportFormat.CSV))
    await db.commit()
    assert (report.new, report.updated, report.unchanged) == (0, 1, 11)
    [edited] = [
        q
        for q in await QuestionRepository(db).for_college("law")
        if (q.scenario_id, q.question_number)
        == (int(rows[4]["scenario_id"]), int(rows[4]["question_number"]))
    ]
    assert edited.expected_keywords == ["consideration", "privity"]
    assert edited.difficulty_level == "hard"


async def test_invalid_grade_file_is_rejected_and_writes_nothing(db: AsyncSession) -> None:
    await make_college(db, "medical")
    await db.commit()
    data = (FIXTURES / "error_invalid_grades.xml").read_bytes()
    report = await import_questions(
        db, parse_questions(data, ImportFormat.MOODLE_XML, college="medical")
    )
    assert report.errors == 1
    assert not report.applied
    assert "rejected" in report.summary()
    assert await count_questions(db) == 0


async def test_one_bad_item_blocks_the_whole_import(db: AsyncSession) -> None:
    await make_college(db, "medical")
    await db.commit()
    text = (
        "college,scenario_id,scenario_name,question_number,question,keywords\n"
        "medical,1,Sepsis,1,What is sepsis?,infection\n"
        "medical,1,Sepsis,1,Same place again?,fluids\n"
        "astrology,1,Stars,1,Which star?,sun\n"
    )
    report = await import_questions(db, parse_questions(text.encode(), ImportFormat.CSV))
    problems = {issue.line: issue.message for issue in report.issues}
    assert "also on line 2" in problems[3]
    assert "unknown college type 'astrology'" in problems[4]
    assert not report.applied
    assert await count_questions(db) == 0


async def test_fields_a_file_leaves_empty_keep_their_stored_values(db: AsyncSession) -> None:
    [first, *_] = await make_questions(db, "medical", scenarios=1, per_scenario=2)
    await db.commit()
    gift = f"$CATEGORY: $course$/medical/Case 1\n\n::essay::{first.question_text}{{}}\n"
    report = await import_questions(db, parse_questions(gift.encode(), ImportFormat.GIFT))
    # Placed on the stored question by scenario name and text; no keywords in the file.
    assert (report.new, report.updated, report.unchanged) == (0, 0, 1)
    await db.refresh(first)
    assert first.expected_keywords == ["sepsis"]
    assert first.model_answer == "Sepsis, treated with fluids and antibiotics."


async def test_a_new_question_with_neither_keywords_nor_model_answer_is_refused_by_line(
    db: AsyncSession,
) -> None:
    await make_college(db, "medical")
    await db.commit()
    gift = "::Q1::What is sepsis?{####Infection with organ failure.}\n\n::Q2::Name a sign.{}\n"
    report = await import_questions(
        db, parse_questions(gift.encode(), ImportFormat.GIFT, college="medical")
    )
    [error] = [i for i in report.issues if i.kind.value == "error"]
    assert error.line == 3
    assert error.message.startswith("no keywords and no model answer")
    assert not report.applied
    assert await count_questions(db) == 0


async def test_derived_keywords_are_stored_marked_and_survive_export_and_import(
    db: AsyncSession,
) -> None:
    await make_college(db, "medical")
    await db.commit()
    gift = "::Q1::What is sepsis?{####Infection with organ failure, not fever.}\n"
    report = await import_questions(
        db, parse_questions(gift.encode(), ImportFormat.GIFT, college="medical")
    )
    assert (report.new, report.errors) == (1, 0)
    await db.commit()
    [stored] = await QuestionRepository(db).for_college("medical")
    terms = ["infection", "organ", "failure", "not fever"]
    assert stored.keywords == [
        {"term": term, "synonyms": [], "weight": 1, "derived": True} for term in terms
    ]
    assert stored.expected_keywords == terms
    for fmt in ImportFormat:
        exported = await export_college(db, "medical", fmt)
        reparsed = parse_questions(exported, fmt)
        assert [k.stored() for k in reparsed.questions[0].question.keywords] == stored.keywords
        again = await import_questions(db, reparsed)
        assert (again.new, again.updated, again.unchanged) == (0, 0, 1)


async def test_applied_import_writes_an_audit_row(db: AsyncSession) -> None:
    await make_college(db, "medical")
    await db.commit()
    data = b"::Q1::Name a sign of sepsis.{=fever =tachycardia}\n"
    parsed = parse_questions(data, ImportFormat.GIFT, college="medical")
    await import_questions(db, parsed, audits=AuditLogRepository(db))
    await db.commit()
    [row] = list(await db.scalars(select(AuditLog).where(AuditLog.action == "questions.import")))
    assert row.details == {"new": 1, "updated": 0, "colleges": ["medical"]}


async def test_export_of_an_unknown_college_is_not_found(db: AsyncSession) -> None:
    with pytest.raises(NotFound, match="astrology"):
        await export_college(db, "astrology", ImportFormat.GIFT)


async def test_a_stored_keyword_no_file_can_hold_is_a_clear_refusal_not_a_500(
    db: AsyncSession,
) -> None:
    question = (await make_questions(db, "medical", scenarios=1, per_scenario=1))[0]
    # Written before the API validated keywords as the importer does.
    question.keywords = [{"term": "st; elevation", "synonyms": [], "weight": 1}]
    await db.flush()
    with pytest.raises(InvalidState, match=f"question {question.id} cannot be exported"):
        await export_college(db, "medical", ImportFormat.CSV)


async def test_cli_imports_dry_run_then_for_real_and_exports(
    db: AsyncSession, settings: Settings, tmp_path: Path, newspeech: Newspeech
) -> None:
    await make_college(db, "medical")
    await db.commit()
    run = newspeech.from_a_coroutine
    env = {"NEWSPEECH_DATABASE_URL": settings.database_url}
    # The fixture's essay (line 2) has neither keywords nor a model answer: refused, nothing
    # written. With a model answer (GIFT's general feedback) it imports.
    refused = await run("questions", "import", str(FIXTURES / "questions.gift.txt"),
                        "--college", "medical", env=env)  # fmt: skip
    assert refused.returncode == 2
    assert "line 2: error: no keywords and no model answer" in refused.stderr
    text = (FIXTURES / "questions.gift.txt").read_text(encoding="utf-8")
    fixed = tmp_path / "questions.gift.txt"
    fixed.write_text(
        text.replace("::Q8:: How are you? {}", "::Q8:: How are you? {####I am well, thank you.}"),
        encoding="utf-8",
    )
    source = str(fixed)

    dry = await run("questions", "import", source, "--college", "medical", "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert "would import: 2 new, 0 updated, 0 unchanged, 0 errors, 7 skipped" in dry.stdout
    assert "questions.gift.txt:line 5: skipped: matching question" in dry.stdout
    assert await count_questions(db) == 0

    real = await run("questions", "import", source, "--college", "medical", env=env)
    assert real.returncode == 0, real.stderr
    assert "imported: 2 new" in real.stdout
    await db.rollback()  # end the read snapshot (MariaDB reads are repeatable within one)
    assert await count_questions(db) == 2

    output = tmp_path / "medical.xml"
    export = await run("questions", "export", "--college", "medical", "--format", "moodle-xml",
                       "-o", str(output), env=env)  # fmt: skip
    assert export.returncode == 0, export.stderr
    reparsed = parse_questions(output.read_bytes(), ImportFormat.MOODLE_XML)
    assert [p.question.question_text for p in reparsed.questions] == [
        "How are you?",
        "Which is the best animal?",
    ]


async def test_cli_rejects_the_invalid_grade_file_with_exit_code_2(
    db: AsyncSession, settings: Settings, tmp_path: Path
) -> None:
    await make_college(db, "medical")
    await db.commit()
    # The questions commands from a shell.
    result = run_cli(
        "questions", "import", str(FIXTURES / "error_invalid_grades.xml"), "--college", "medical",
        data_dir=tmp_path, env={"NEWSPEECH_DATABASE_URL": settings.database_url},
    )  # fmt: skip
    assert result.returncode == 2
    assert "line 38: error: answer grade 33% is not an allowed Moodle grade" in result.stderr
    assert "rejected (nothing written)" in result.stdout
