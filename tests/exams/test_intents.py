from __future__ import annotations

import pytest

from newspeech.exams.intents import Intent, Reply, detect_intent, yes_or_no


@pytest.mark.parametrize(
    ("said", "intent"),
    [
        ("Could you repeat the question?", Intent.REPEAT),
        ("Sorry, could you repeat that, please?", Intent.REPEAT),
        ("Can you say that again?", Intent.REPEAT),
        ("Repeat.", Intent.REPEAT),
        ("What was the question again?", Intent.REPEAT),
        ("Sorry, I didn't catch that.", Intent.REPEAT),
        ("Pardon?", Intent.REPEAT),
        ("Skip.", Intent.SKIP),
        ("Can we skip this one?", Intent.SKIP),
        ("I don't know, skip.", Intent.SKIP),
        ("Next question, please.", Intent.SKIP),
        ("Um, I'd like to pass on this question.", Intent.SKIP),
        ("I want to stop the exam.", Intent.END),
        ("I'd like to stop.", Intent.END),
        ("Could we end the exam now?", Intent.END),
        ("I quit.", Intent.END),
    ],
)
def test_short_requests_are_recognised(said: str, intent: Intent) -> None:
    assert detect_intent(said) is intent


@pytest.mark.parametrize(
    "said",
    [
        "I would repeat the ECG in ten minutes to look for evolving changes.",
        "Repeat the troponin at three hours.",
        "Stop the bleeding with direct pressure.",
        "I would stop the infusion and call for help.",
        "We should skip the nitrates because of hypotension.",
        "Move on to thrombolysis if PCI is not available within 120 minutes.",
        "I don't know.",
        "Inferior STEMI.",
        "",
        # A request buried in a long answer is still an answer.
        "Could you repeat that, because I think it is an inferior STEMI with reciprocal changes",
    ],
)
def test_answers_that_use_the_words_are_answers(said: str) -> None:
    assert detect_intent(said) is None


@pytest.mark.parametrize(
    ("said", "reply"),
    [
        ("Yes.", Reply.YES),
        ("Yes, that's me.", Reply.YES),
        ("Yeah, it is.", Reply.YES),
        ("That's correct.", Reply.YES),
        ("No.", Reply.NO),
        ("No, I'm not.", Reply.NO),
        ("That is not me.", Reply.NO),
        ("It's someone else's account.", Reply.NO),
        ("Um, yes, I'm Jane Doe and I'm ready to begin.", Reply.YES),
        ("It is.", Reply.YES),
        ("Hello?", Reply.UNCLEAR),
        ("It is an inferior STEMI with ST elevation and reciprocal changes.", Reply.UNCLEAR),
        ("I'm not sure, but I think it is sepsis from the chest.", Reply.UNCLEAR),
        ("", Reply.UNCLEAR),
    ],
)
def test_confirmation_replies(said: str, reply: Reply) -> None:
    assert yes_or_no(said) is reply
