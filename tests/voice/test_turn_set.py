"""A part of the end-of-turn set (``scripts/bench turns`` runs all of it): each answer heard whole
and stored under the question it answers.

Real engines on the virtual-clock harness, the product's loop settings; the same audio in
gives the same turns out on every run. No assertion is about how long anything took.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from newspeech.voice.engines import SpeechEngines
from newspeech.voice.session import LoopSettings, SessionEngines
from tests.fixtures.turn_set import TurnItem, turn_set
from tests.fixtures.voices import CandidateVoices
from tests.voice.turn_sitting import ItemOutcome, sit, steady_engines
from tests.voice.wer import normalize


@pytest.fixture(scope="module")
def engines(speech: SpeechEngines) -> SessionEngines:
    return steady_engines(speech)


@pytest.fixture(scope="module")
def items(shared_dir: Path, voices: CandidateVoices) -> dict[str, Callable[[], TurnItem]]:
    return turn_set(shared_dir / "audio", voices)


SUBSET = (
    "real-jfk-thinking-2.5s",  # a 2.5 s thinking pause spliced into a real recording
    "real-one-two-three",  # counting, half-second pauses
    "piper-one-word",  # six one-word answers in a row
    "espeak-one-word",
    "piper-engineering-sentences",  # two model answers, cut at 0.3-1.5 s pauses and healed
    "piper-law-list",  # keywords read as a list, 1-1.5 s pauses at the commas
    "espeak-law-list",
    "espeak-medical-list",
)


async def sit_out(engines: SessionEngines, item: TurnItem) -> ItemOutcome:
    """``item`` with the product's default loop settings."""
    return await sit(engines, item, LoopSettings())


@pytest.mark.parametrize("name", SUBSET)
async def test_every_answer_is_stored_whole_under_its_own_question(
    engines: SessionEngines, items: dict[str, Callable[[], TurnItem]], name: str
) -> None:
    item = items[name]()
    outcome = await sit_out(engines, item)

    for number, answer in enumerate(outcome.answers, start=1):
        assert answer.asked == number, f"answer {number} was given to question {answer.asked}"
        assert answer.filed_under == (number,), f"answer {number}'s words went elsewhere: {answer}"
        assert answer.whole, f"answer {number} is not stored whole: {answer}"
        assert not answer.shifted
        if any(cut.rejoined for cut in answer.cuts):
            assert outcome.continuations > 0
    for spoken, answer in zip(item.answers, outcome.answers, strict=True):
        if item.voice == "real" and spoken.text:  # the last words were heard, on this question
            assert normalize(answer.transcript)[-3:] == normalize(spoken.text)[-3:]


async def test_a_list_with_a_long_pause_at_a_comma_stays_on_its_question(
    engines: SessionEngines, items: dict[str, Callable[[], TurnItem]]
) -> None:
    """ "..., [2.5 s] and ...": the turn is declared at the comma; the rest, spoken over the
    feedback or the next question (not yet asked in full), is amended into the same answer, not
    filed under question 2. (With a fixed 2 s window after the turn, every cut in a pause of
    2 s or more landed on the next question.)"""
    item = items["espeak-automobile-list"]()
    assert any(pause.seconds >= 2.5 for pause in item.answers[0].pauses)
    outcome = await sit_out(engines, item)
    (answer,) = outcome.answers
    assert answer.filed_under == (1,)
    assert answer.whole
