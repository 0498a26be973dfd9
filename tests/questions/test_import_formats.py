"""GIFT, Moodle XML and CSV parsing and export, on Moodle's own fixtures and the shipped banks."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from types import SimpleNamespace

import pytest

from newspeech.errors import ValidationFailed
from newspeech.models import Difficulty
from newspeech.questions.banks import KeywordSpec, load_banks
from newspeech.questions.interchange import (
    BankQuestion,
    ImportFormat,
    IssueKind,
    ParseResult,
    detect_format,
    export_questions,
    parse_questions,
)
from newspeech.questions.interchange.model import format_keywords, map_category, parse_keywords

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "research-data" / "moodle-fixtures"


def parse_fixture(name: str, college: str | None = "medical") -> ParseResult:
    path = FIXTURES / name
    return parse_questions(path.read_bytes(), detect_format(path), college=college)


def bank_questions() -> list[BankQuestion]:
    return [
        BankQuestion.from_row(SimpleNamespace(**row))
        for bank in load_banks()
        for row in bank.question_rows()
    ]


def test_invalid_moodle_grade_is_rejected_with_its_line() -> None:
    data = (FIXTURES / "error_invalid_grades.xml").read_bytes()
    result = parse_questions(data, ImportFormat.MOODLE_XML, college="medical")
    assert result.questions == []
    [error] = result.errors
    # The <answer fraction="33"> element is on line 38 of the fixture.
    assert error.line == 38
    assert "33% is not an allowed Moodle grade" in error.message


def test_moodle_shortanswer_becomes_one_keyword_with_synonyms() -> None:
    data = (FIXTURES / "shortanswer_testquestion.moodle.xml").read_bytes()
    result = parse_questions(data, ImportFormat.MOODLE_XML, college="law")
    [parsed] = result.questions
    question = parsed.question
    assert parsed.line == 12
    assert (question.college_type, question.scenario_name) == ("law", "Test questions")
    assert question.question_text == "Name an amphibian: __________"
    # frog 100 %, toad 80 %, "*" 0 % (the catch-all is dropped).
    assert question.keywords == (KeywordSpec(term="frog", synonyms=["toad"], weight=1),)
    assert question.model_answer == "Generalfeedback: frog or toad would have been OK."
    assert question.guidelines == "Moodle answer credit: frog 100%, toad 80%."
    assert result.issues == []


def test_moodle_essay_takes_general_feedback_as_model_answer_and_derives_keywords() -> None:
    result = parse_fixture("essay_testquestion.moodle.xml")
    [parsed] = result.questions
    assert parsed.question.question_text == "Write an essay with 500 words."
    assert parsed.question.model_answer == "This is general feedback"
    assert parsed.question.scenario_name == "Default for C1"
    assert [k.term for k in parsed.question.keywords] == ["general", "feedback"]
    assert all(k.derived for k in parsed.question.keywords)
    [warning] = result.issues
    assert (warning.line, warning.kind) == (12, IssueKind.WARNING)
    assert "2 derived from the model answer" in warning.message


def test_nested_categories_skip_other_types_with_line_numbers() -> None:
    result = parse_fixture("nested_categories_with_questions.xml", college=None)
    [parsed] = result.questions
    # $course$/Iota/Kappa: first level is the college, the rest the scenario; the category's
    # <info> is the scenario's case text.
    assert parsed.question.college_type == "iota"
    assert parsed.question.scenario_name == "Kappa"
    assert parsed.question.scenario_description == "This is Kappa category for test"
    assert [(i.line, i.kind) for i in result.skipped] == [
        (15, IssueKind.SKIPPED),
        (83, IssueKind.SKIPPED),
        (123, IssueKind.SKIPPED),
        (163, IssueKind.SKIPPED),
    ]
    assert all("truefalse" in i.message for i in result.skipped)
    # The essay (line 55) has an empty general feedback and no keywords: the import refuses
    # it unless the bank already holds it (tests/questions/test_import_service.py).
    [warning] = [i for i in result.issues if i.kind is IssueKind.WARNING]
    assert warning.line == 55
    assert warning.message.startswith("no keywords and no model answer")


def test_category_only_file_skips_its_true_false_question() -> None:
    result = parse_fixture("category_with_description.xml")
    assert result.questions == []
    assert [(i.line, i.kind) for i in result.issues] == [(15, IssueKind.SKIPPED)]


def test_gift_fixture_parses_essay_and_shortanswer_and_reports_the_rest() -> None:
    result = parse_fixture("questions.gift.txt")
    essay, shortanswer = (p.question for p in result.questions)
    assert shortanswer.question_text == "Which is the best animal?"
    assert shortanswer.keywords == (KeywordSpec(term="Frog", synonyms=["Cat"]),)
    assert shortanswer.guidelines == "Moodle answer credit: Frog 100%, Cat 50%."
    skipped = {i.line: i.message.split(" question")[0] for i in result.skipped}
    assert skipped == {
        5: "matching",
        14: "multiple-choice",
        22: "multiple-choice",
        31: "numerical",
        41: "true/false",
        46: "true/false",
        49: "true/false",
    }
    # "::Q8:: How are you? {}": an essay with neither keywords nor a model answer, which the
    # import refuses (tests/questions/test_import_service.py).
    assert essay.question_text == "How are you?"
    assert essay.keywords == ()
    assert essay.model_answer is None
    [warning] = [i for i in result.issues if i.kind is IssueKind.WARNING]
    assert warning.line == 2
    assert warning.message.startswith("no keywords and no model answer")
    assert result.errors == []


def test_gift_essay_with_a_model_answer_gets_derived_keywords() -> None:
    text = "::Q8:: Why do we wash hands? {####Washing removes 99 percent of germs, not dirt.}\n"
    result = parse_questions(text.encode(), ImportFormat.GIFT, college="medical")
    [parsed] = result.questions
    keywords = parsed.question.keywords
    assert [k.term for k in keywords] == ["removes", "99", "percent", "germs", "not dirt"]
    assert all(k.derived for k in keywords)
    assert result.errors == []


def test_gift_category_switch_names_the_scenario() -> None:
    result = parse_fixture("questions_in_category.gift.txt")
    [parsed] = result.questions
    assert parsed.line == 22
    assert parsed.question.scenario_name == "Default for New Features"
    assert parsed.question.keywords == (KeywordSpec(term="Moodler"),)
    assert len(result.skipped) == 3


def test_a_category_that_names_no_college_is_an_error_without_college() -> None:
    result = parse_fixture("questions_in_category.gift.txt", college=None)
    assert result.questions == []
    [error] = result.errors
    assert error.line == 22
    assert "'default for new features' is not a college code" in error.message
    assert "--college" in error.message


def test_gift_description_is_skipped_and_unbalanced_braces_are_an_error() -> None:
    text = "Welcome to the viva.\n\n::Q1::What is sepsis? {=infection\n\n::Q2::Name a sign {}\n"
    result = parse_questions(text.encode(), ImportFormat.GIFT, college="medical")
    assert [(i.line, i.kind) for i in result.issues] == [
        (1, IssueKind.SKIPPED),
        (3, IssueKind.ERROR),
        (5, IssueKind.WARNING),
    ]
    assert "unbalanced braces" in result.errors[0].message
    assert [p.question.question_number for p in result.questions] == [2]


def test_gift_rejects_a_weight_moodle_does_not_allow() -> None:
    text = "::Q1:: Name a sign of sepsis {=%33%fever =tachycardia}\n"
    result = parse_questions(text.encode(), ImportFormat.GIFT, college="medical")
    assert [(e.line, "33%" in e.message) for e in result.errors] == [(1, True)]
    assert result.questions == []


@pytest.mark.parametrize("fmt", list(ImportFormat))
def test_export_then_import_round_trips_every_shipped_bank(fmt: ImportFormat) -> None:
    questions = bank_questions()
    assert len(questions) == 72
    result = parse_questions(export_questions(questions, fmt), fmt)
    assert result.issues == []
    assert [p.question for p in result.questions] == questions


@pytest.mark.parametrize("fmt", list(ImportFormat))
def test_round_trip_keeps_awkward_text(fmt: ImportFormat) -> None:
    question = BankQuestion(
        college_type="law",
        scenario_id=3,
        scenario_name="Contracts: offer & {acceptance}",
        scenario_description="Line one\nLine two with # and ~ and = and <b>tags</b>",
        question_number=2,
        question_text='Is a "quote" of £5 an offer? Say why: ~ = # { } \\ :',
        category="formation",
        difficulty=Difficulty.HARD,
        keywords=(
            KeywordSpec(term="invitation to treat", synonyms=["invitation"], weight=3),
            KeywordSpec(term="offer"),
        ),
        model_answer="No; it is an invitation to treat.\nSecond paragraph.",
        guidelines="Full marks: names the rule.",
        max_score=20,
    )
    result = parse_questions(export_questions([question], fmt), fmt)
    assert result.issues == []
    assert [p.question for p in result.questions] == [question]


def test_csv_export_defuses_spreadsheet_formulas_and_still_round_trips() -> None:
    question = BankQuestion(
        college_type="engineering",
        scenario_id=1,
        scenario_name='=HYPERLINK("http://example.org")',
        scenario_description="+1 for a sketch",
        question_number=1,
        question_text="@SUM(A1:A2) - what does this formula do?",
        category="-design",
        difficulty=Difficulty.EASY,
        keywords=(KeywordSpec(term="sum"),),
        model_answer="'already quoted' text stays as it is",
        guidelines="-",
        max_score=10,
    )
    exported = export_questions([question], ImportFormat.CSV).decode()
    [row] = list(csv.reader(io.StringIO(exported)))[1:]
    assert row[2] == '\'=HYPERLINK("http://example.org")'
    assert row[3] == "'+1 for a sketch"
    assert row[5] == "'@SUM(A1:A2) - what does this formula do?"
    assert row[6] == "'-design"
    assert row[9] == "'already quoted' text stays as it is"
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in row)
    result = parse_questions(exported.encode(), ImportFormat.CSV)
    assert [p.question for p in result.questions] == [question]


def test_csv_reports_each_bad_row_with_its_line_and_keeps_the_good_ones() -> None:
    text = (
        "college,scenario_id,scenario_name,question_number,question,difficulty,keywords\n"
        "medical,1,Sepsis,1,What is sepsis?,easy,infection (2) = sepsis | septicaemia\n"
        "medical,1,Sepsis,2,Second?,impossible,fluids\n"
        '"medical",1,"Multi\nline",3,,easy,fluids\n'
        "medical,x,Sepsis,4,Fourth question?,easy,fluids (9)\n"
        ",1,Sepsis,5,Fifth question?,easy,fluids\n"
    )
    result = parse_questions(text.encode(), ImportFormat.CSV)
    [good] = result.questions
    assert good.line == 2
    assert good.question.keywords == (
        KeywordSpec(term="infection", synonyms=["sepsis", "septicaemia"], weight=2),
    )
    errors = {e.line: e.message for e in result.errors}
    assert sorted(errors) == [3, 4, 6, 7]  # the row starting on line 4 spans two lines
    assert "difficulty" in errors[3]
    assert "question_text" in errors[4]
    assert "weight" in errors[6]
    assert "no college" in errors[7]


def test_csv_row_after_blank_lines_is_reported_on_its_own_line() -> None:
    text = (
        "college,scenario_name,question,keywords,keywords\n"
        "medical,Sepsis,What is sepsis?,,infection\n"
        "\n"
        "\n"
        "medical,,Second?,fluids\n"
        "medical,Sepsis,Third?,ignored,fluids (2)\n"
        "medical,Sepsis,Fourth?\n"
    )
    result = parse_questions(text.encode(), ImportFormat.CSV)
    [error] = result.errors
    assert (error.line, error.message) == (5, "scenario_name: Field required")
    # A column named twice counts where it is named last; a short row's missing cells are empty.
    assert [(q.line, [k.term for k in q.question.keywords]) for q in result.questions] == [
        (2, ["infection"]),
        (6, ["fluids"]),
        (7, []),
    ]
    assert [warning.line for warning in result.issues if warning.kind.value == "warning"] == [7]


def test_csv_with_unknown_or_missing_columns_is_rejected_on_line_one() -> None:
    result = parse_questions(b"college,question,colour\nmedical,Why?,red\n", ImportFormat.CSV)
    [error] = result.errors
    assert error.line == 1
    assert "colour" in error.message
    assert "scenario_name" in error.message


def test_doctype_and_external_entities_are_refused() -> None:
    xxe = (
        b'<?xml version="1.0"?>\n<!DOCTYPE quiz [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
        b'<quiz><question type="essay"><name><text>&x;</text></name></question></quiz>'
    )
    result = parse_questions(xxe, ImportFormat.MOODLE_XML, college="medical")
    assert result.questions == []
    assert "DOCTYPE is not allowed" in result.errors[0].message


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-16-be", "utf-32", "utf-32-le"])
def test_a_doctype_is_refused_in_every_encoding(encoding: str) -> None:
    bomb = (
        f'<?xml version="1.0" encoding="{encoding.upper()}"?>\n'
        '<!DOCTYPE quiz [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>\n'
        '<quiz><question type="essay"><name><text>&b;</text></name>'
        "<questiontext><text>Why?</text></questiontext></question></quiz>"
    )
    result = parse_questions(bomb.encode(encoding), ImportFormat.MOODLE_XML, college="medical")
    assert result.questions == []
    assert "DOCTYPE is not allowed" in result.errors[0].message
    bare = b'<?xml version="1.0"?><!DOCTYPE quiz><quiz></quiz>'.decode().encode("utf-16")
    assert parse_questions(bare, ImportFormat.MOODLE_XML).errors


CSV_HEADER = "college,scenario_id,scenario_name,question_number,question,keywords\r\n"


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (f"medical,{2**31},Chest pain,1,Why?,ecg\r\n", "scenario_id"),
        (f"medical,1,Chest pain,{2**31},Why?,ecg\r\n", "question_number"),
        ("medical,1,Chest\x00pain,1,Why?,ecg\r\n", "U+0000"),
        ("medical,1,Chest pain,1,Why\x1b?,ecg\r\n", "U+001B"),
        ("medical,1,Chest pain,1,Why?,ecg \x07\r\n", "U+0007"),
        ("medical,1,Chest pain,1," + "x" * 140_000 + ",ecg\r\n", "field larger than"),
    ],
)
def test_csv_rows_the_database_cannot_hold_are_errors_with_their_line(
    row: str, message: str
) -> None:
    data = (CSV_HEADER + row).encode()
    result = parse_questions(data, ImportFormat.CSV)
    assert result.questions == []
    [error] = result.errors
    assert error.line == 2
    assert message in error.message


def test_broken_xml_reports_the_line() -> None:
    result = parse_questions(b"<quiz>\n<question>\n</quiz>", ImportFormat.MOODLE_XML)
    [error] = result.errors
    assert error.line == 3
    assert "not well-formed" in error.message


def test_non_utf8_text_is_a_clear_error() -> None:
    with pytest.raises(ValidationFailed, match="not UTF-8"):
        parse_questions("caf\u00e9".encode("latin-1"), ImportFormat.GIFT)


def test_format_is_detected_from_the_file_name() -> None:
    assert detect_format(Path("a.gift.txt")) is ImportFormat.GIFT
    assert detect_format(Path("b.XML")) is ImportFormat.MOODLE_XML
    assert detect_format(Path("c.csv")) is ImportFormat.CSV
    with pytest.raises(ValidationFailed, match="--format"):
        detect_format(Path("d.txt"))


def test_keyword_syntax_round_trips_and_rejects_nonsense() -> None:
    text = "inferior stemi (3) = STEMI | inferior MI; troponin; rca = right coronary artery"
    parsed = parse_keywords(text)
    assert parsed[0] == {
        "term": "inferior stemi",
        "synonyms": ["STEMI", "inferior MI"],
        "weight": 3,
    }
    assert format_keywords([KeywordSpec.model_validate(k) for k in parsed]) == text
    with pytest.raises(ValueError, match="malformed"):
        parse_keywords("bad (term) = x")


@pytest.mark.parametrize(
    ("path", "college", "expected"),
    [
        ("$course$/medical/2. Chest pain", None, ("medical", 2, "Chest pain")),
        (
            "$course$/medical/Chest pain/Follow-up",
            None,
            ("medical", None, "Chest pain / Follow-up"),
        ),
        ("$course$/Default for C1", "law", ("law", None, "Default for C1")),
        ("$system$/law/1. Contract", "law", ("law", 1, "Contract")),
        ("$course$/Medical", None, ("medical", None, "General")),
        ("", None, (None, None, "General")),
    ],
)
def test_category_paths_map_to_college_and_scenario(
    path: str, college: str | None, expected: tuple[str | None, int | None, str]
) -> None:
    target = map_category(path, college)
    assert (target.college_type, target.scenario_id, target.scenario_name) == expected
