"""Clause splitting: where examiner text may be cut so speech starts early."""

from __future__ import annotations

import re

import pytest

from newspeech.voice.text import LEAD_WORDS, LONG_CLAUSE_WORDS, MIN_WORDS, split_clauses


def words(clause: str) -> int:
    return len([token for token in clause.split() if re.search(r"\w", token)])


EXAMINER_TEXTS = [
    "Good morning. Please introduce yourself, then tell me about your last placement.",
    "The patient has a blood pressure of ninety over sixty and a heart rate of one hundred "
    "and twenty.",
    "Dr. Smith prescribed 7.5 mg. of morphine, e.g. for pain, at the U.S. Army hospital; "
    "what would you do next?",
    "Describe the management of acute asthma in adults, including the first-line drugs, and "
    "explain why oxygen saturation matters. Go on.",
    "Yes. No. Maybe. Why?",
    "First: list the causes; second: rank them; third: justify the ranking.",
    "Explain the difference between type one and type two diabetes mellitus in terms of "
    "insulin secretion and insulin resistance in the liver and in skeletal muscle.",
]


def test_empty_or_wordless_text_gives_no_clauses() -> None:
    assert split_clauses("") == []
    assert split_clauses("   \n\t ") == []
    assert split_clauses("...") == []


def test_short_sentence_stays_whole() -> None:
    assert split_clauses("What is the normal range?") == ["What is the normal range?"]


@pytest.mark.parametrize("text", EXAMINER_TEXTS)
def test_clauses_join_back_to_the_text(text: str) -> None:
    assert " ".join(split_clauses(text)) == " ".join(text.split())


def is_whole_sentence(clause: str, text: str) -> bool:
    """``clause`` is a complete sentence of ``text`` (it starts one and ends with .!?)."""
    joined = " ".join(text.split())
    start = joined.find(clause)
    before = joined[:start].rstrip()
    return clause[-1] in ".!?" and (not before or before[-1] in ".!?")


@pytest.mark.parametrize("text", EXAMINER_TEXTS)
def test_never_produces_fragments_of_one_or_two_words(text: str) -> None:
    clauses = split_clauses(text)
    assert clauses
    for clause in clauses:
        assert words(clause) >= MIN_WORDS or is_whole_sentence(clause, text), clauses


def test_splits_sentences() -> None:
    assert split_clauses("Tell me about the heart. Now describe the lungs in detail.") == [
        "Tell me about the heart.",
        "Now describe the lungs in detail.",
    ]
    assert split_clauses("Is that your final answer? Then explain your reasoning!") == [
        "Is that your final answer?",
        "Then explain your reasoning!",
    ]


def test_splits_at_commas_semicolons_colons_and_dashes() -> None:
    assert split_clauses(
        "Before you answer, think about the anatomy; the nerve supply matters: "
        "it explains the pain — and the treatment."
    ) == [
        "Before you answer,",
        "think about the anatomy;",
        "the nerve supply matters:",
        "it explains the pain —",
        "and the treatment.",
    ]


def test_attached_em_dash_is_a_cut_and_gets_spaces() -> None:
    assert split_clauses("The main risk factors—smoking and obesity—are modifiable ones.") == [
        "The main risk factors —",
        "smoking and obesity —",
        "are modifiable ones.",
    ]


@pytest.mark.parametrize(
    "text",
    [
        "Dr. Smith reviewed the chart.",
        "Mrs. Jones and Prof. Brown agreed with the plan.",
        "Give analgesia, e.g. Paracetamol or ibuprofen.",
        "Use a selective agent i.e. One that spares it.",
        "The trial ran in the U.S. Army hospitals.",
        "Give 5 mg. twice daily with food.",
        "See No. 5 in the appendix.",
        "The potassium was 7.5 millimoles per litre.",
        "J. R. Smith wrote the guideline.",
    ],
)
def test_keeps_abbreviations_and_decimals_intact(text: str) -> None:
    assert split_clauses(text) == [text]


def test_sentence_ends_after_a_unit_abbreviation_before_a_capital() -> None:
    assert split_clauses("The dose was five mg. Then the pain settled completely.") == [
        "The dose was five mg.",
        "Then the pain settled completely.",
    ]


def test_thousands_separator_is_not_a_comma_cut() -> None:
    assert split_clauses("The count was 1,000,000 cells per litre.") == [
        "The count was 1,000,000 cells per litre."
    ]


def test_short_pieces_join_their_neighbours() -> None:
    assert split_clauses("Yes, that is right.") == ["Yes, that is right."]
    assert split_clauses("Describe the blood supply of the kidney, please.") == [
        "Describe the blood supply of the kidney, please."
    ]


def test_a_single_short_sentence_is_kept() -> None:
    assert split_clauses("Thank you.") == ["Thank you."]


def test_a_short_whole_sentence_stands_alone_so_speech_starts_at_once() -> None:
    assert split_clauses("Good. Now tell me about the kidney.") == [
        "Good.",
        "Now tell me about the kidney.",
    ]
    assert split_clauses("Yes. No. Maybe. Why?") == ["Yes.", "No.", "Maybe.", "Why?"]


def test_a_long_first_clause_gets_a_short_lead() -> None:
    text = (
        "A fifty-eight year old man presents with crushing central chest pain that started "
        "forty minutes ago while he was shovelling snow."
    )
    clauses = split_clauses(text)
    assert clauses[0] == "A fifty-eight year old man presents"
    assert words(clauses[0]) <= LEAD_WORDS
    assert " ".join(clauses) == text


def test_only_the_first_clause_gets_a_lead() -> None:
    second = "The patient then developed severe crushing chest pain radiating to the jaw."
    assert split_clauses(f"Here is the case. {second}") == ["Here is the case.", second]


def test_no_lead_when_no_break_word_sits_early() -> None:
    text = (
        "Severe untreated diabetic ketoacidosis causes profound dehydration and dangerous "
        "electrolyte shifts everywhere."
    )
    assert words(text) > 9
    assert split_clauses(text) == [text]


def test_long_sentence_is_cut_before_a_conjunction() -> None:
    text = (
        "The patient has a blood pressure of ninety over sixty and a heart rate of one "
        "hundred and twenty."
    )
    assert split_clauses(text) == [
        "The patient has a blood pressure",  # the lead: see test_a_long_first_clause...
        "of ninety over sixty",
        "and a heart rate of one hundred and twenty.",
    ]


def test_short_sentence_is_not_cut_before_a_conjunction() -> None:
    text = "Name the drug and give its dose."
    assert words(text) <= LONG_CLAUSE_WORDS
    assert split_clauses(text) == [text]


def test_numbers_and_pairs_are_not_cut() -> None:
    assert split_clauses(
        "Over the first night the patient received one thousand and fifty millilitres of "
        "crystalloid fluid intravenously."
    ) == [
        "Over the first night the patient received one thousand and fifty millilitres of "
        "crystalloid fluid intravenously."
    ]
    assert split_clauses(
        "The registrar said the infusion should run between five and ten millilitres per "
        "hour overnight on the ward."
    ) == [
        "The registrar said the infusion should run between five and ten millilitres per "
        "hour overnight on the ward."
    ]
    assert split_clauses(
        "The patient was given two and a half litres of fluid over the first six hours "
        "and then reassessed."
    ) == [
        "The patient was given two and a half litres of fluid over the first six hours",
        "and then reassessed.",
    ]


def test_very_long_clause_is_cut_repeatedly() -> None:
    text = (
        "The nurse checked the drug chart and the fluid balance but the doctor reviewed the "
        "blood results because the creatinine had risen although the urine output was normal "
        "and the patient felt well."
    )
    clauses = split_clauses(text)
    assert len(clauses) >= 3
    assert all(MIN_WORDS <= words(clause) <= LONG_CLAUSE_WORDS for clause in clauses), clauses


def test_paragraph_break_ends_a_sentence() -> None:
    assert split_clauses("Question three of five\n\nDescribe the brachial plexus.") == [
        "Question three of five",
        "Describe the brachial plexus.",
    ]


def test_quote_after_the_full_stop_stays_with_its_sentence() -> None:
    assert split_clauses('The patient said "it hurts." Where would you examine first?') == [
        'The patient said "it hurts."',
        "Where would you examine first?",
    ]
