"""Semantic signals on real bank questions, with the real MiniLM model."""

from __future__ import annotations

import pytest

from newspeech.grading import GradingQuestion, Keyword
from newspeech.grading.embeddings import MiniLMEmbedder
from newspeech.grading.semantic import (
    MAX_CHUNKS,
    SemanticGrader,
    SemanticScorer,
    chunk_spans,
    chunks,
)
from newspeech.models.enums import FeedbackType
from tests.grading.cases import bank_question

CIRCUIT = GradingQuestion(
    text="Why does bulb B go out when bulb A is removed?",
    keywords=(Keyword("open circuit"), Keyword("no current")),
    model_answer="Removing bulb A opens the circuit. With no closed path, no current flows "
    "through bulb B.",
)


@pytest.fixture
def scorer(minilm: MiniLMEmbedder) -> SemanticScorer:
    return SemanticScorer(minilm)


def test_chunks_are_sentences_and_windows_of_long_ones() -> None:
    text = "Short one. " + " ".join(f"w{i}" for i in range(30)) + "."
    pieces = chunks(text)
    assert pieces[0] == "Short one."
    assert pieces[1].startswith("w0 ")
    assert pieces[1].endswith("w29.")
    assert "w0 w1" in pieces[2]
    assert len(pieces[2].split()) == 14
    assert all(text[a:b] == piece for (a, b), piece in zip(chunk_spans(text), pieces, strict=True))
    assert chunks("  ") == []
    assert len(chunk_spans(" ".join(["word"] * 2000))) <= MAX_CHUNKS


def test_a_paraphrase_is_closer_than_an_off_topic_answer(scorer: SemanticScorer) -> None:
    paraphrase = scorer.signals(CIRCUIT, "taking A out breaks the loop so electricity stops")
    off_topic = scorer.signals(CIRCUIT, "I had toast and coffee for breakfast this morning")
    assert paraphrase.similarity > off_topic.similarity + 0.2
    assert paraphrase.coverage > off_topic.coverage


def test_coverage_rewards_stating_every_key_point(scorer: SemanticScorer) -> None:
    one = scorer.signals(CIRCUIT, "Removing bulb A opens the circuit.")
    both = scorer.signals(
        CIRCUIT, "Removing bulb A opens the circuit. So no current can flow through bulb B."
    )
    assert both.coverage > one.coverage
    assert [name for name, _ in both.keypoints] == ["open circuit", "no current"]


def test_empty_answer_has_no_signal(scorer: SemanticScorer) -> None:
    empty = scorer.signals(CIRCUIT, "   ")
    assert (empty.similarity, empty.coverage) == (0.0, 0.0)


def test_semantic_grader_on_a_bank_question(minilm: MiniLMEmbedder) -> None:
    question = bank_question("medical", 1, 1)
    grader = SemanticGrader(minilm)
    good = grader.grade(question, question.model_answer)
    bad = grader.grade(question, "I would like to talk about the weather in Spain.")
    assert good.score == 10
    assert good.feedback_type is FeedbackType.CORRECT
    assert bad.score <= 2
    assert bad.feedback_type is FeedbackType.INCORRECT
    assert good.details["similarity"] > 0.95
