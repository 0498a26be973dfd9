"""The exam engine on its own: every flow, driven by hand, with a clock that never sleeps."""

from __future__ import annotations

import pytest

from newspeech.errors import ConfigurationError, InvalidState
from newspeech.exams import phrases
from newspeech.exams.engine import (
    Conclude,
    EndReason,
    ExamEngine,
    GradeAnswer,
    IdentityConfirmed,
    NoAnswer,
    NoAnswerReason,
    Phase,
    RequestMade,
    Step,
)
from newspeech.exams.intents import Intent
from newspeech.exams.plan import ExamRules
from newspeech.results.rules import QuestionScore, ResultPolicy, summarise
from newspeech.voice.conversation import Control, Utterance, UtteranceKind
from tests.exams.plans import FakeClock, bank_plan

PLAN = bank_plan("medical")
RULES = ExamRules(max_answer_seconds=120, min_answer_seconds=3, session_limit_seconds=45 * 60)
LONG_ANSWER = "It is an inferior STEMI with ST elevation and reciprocal changes."


def new_engine(clock: FakeClock | None = None, **kwargs: object) -> ExamEngine:
    return ExamEngine(PLAN, RULES, "Jane Doe", clock or FakeClock(), **kwargs)  # type: ignore[arg-type]


def kinds(step: Step) -> list[UtteranceKind]:
    return [u.kind for u in step.utterances]


def asked(step: Step) -> list[int]:
    return [e["number"] for e in step.events if e["type"] == "question"]


def confirmed(clock: FakeClock | None = None) -> tuple[ExamEngine, Step]:
    engine = new_engine(clock)
    engine.begin()
    return engine, engine.hear("Yes, that's me.", 1.0)


def test_welcome_names_the_candidate_and_asks_to_confirm() -> None:
    engine = new_engine()
    step = engine.begin()
    assert kinds(step) == [UtteranceKind.WELCOME]
    assert "Jane Doe" in step.utterances[0].text
    assert "Medical" in step.utterances[0].text
    assert step.listen
    assert not engine.listen_plan().continuable


def test_yes_starts_the_sitting_with_the_first_case_and_question() -> None:
    engine, step = confirmed()
    assert step.records == (IdentityConfirmed(),)
    assert kinds(step) == [UtteranceKind.PROMPT, UtteranceKind.SCENARIO, UtteranceKind.QUESTION]
    assert step.utterances[1].text == PLAN.scenarios[0].case
    assert step.utterances[2].text == PLAN.questions[0].text
    assert step.utterances[2].cacheable
    assert [e["type"] for e in step.events] == ["scenario", "question"]
    assert step.events[1] == {
        "type": "question",
        "number": 1,
        "total": 12,
        "scenario_index": 1,
        "text": PLAN.questions[0].text,
    }
    plan = engine.listen_plan()
    assert plan.prompt == PLAN.questions[0].text
    assert "inferior stemi," in plan.hotwords
    assert plan.max_answer_seconds == 120


def test_a_clear_no_ends_politely_and_asks_them_to_sign_in_as_themselves() -> None:
    engine = new_engine()
    engine.begin()
    step = engine.hear("No, that's not me.", 1.0)
    assert step.pending == Conclude(EndReason.IDENTITY_NOT_CONFIRMED, scored=False)
    assert "sign in with your own account" in step.utterances[0].text
    assert "Jane Doe" in step.utterances[0].text
    assert not step.listen
    done = engine.concluded(None)
    assert done.finished
    assert done.end_reason is EndReason.IDENTITY_NOT_CONFIRMED
    with pytest.raises(InvalidState):
        engine.hear("yes", 1.0)


def test_unclear_identity_is_asked_again_then_the_sitting_does_not_start() -> None:
    engine = new_engine()
    engine.begin()
    first = engine.hear("Hello?", 1.0)
    assert first.listen
    assert "Jane Doe" in first.utterances[0].text
    second = engine.silence(8.0)
    assert second.listen
    third = engine.hear("What?", 1.0)
    assert third.pending == Conclude(EndReason.IDENTITY_NOT_CONFIRMED, scored=False)


def test_a_whole_sitting_presents_each_case_before_its_questions_and_ends_with_the_result() -> None:
    engine, step = confirmed()
    scenario_starts, numbers = [], asked(step)
    for number in range(1, 13):
        step = engine.hear(f"{LONG_ANSWER} ({number})", 20.0)
        assert step.utterances == ()
        assert isinstance(step.pending, GradeAnswer)
        assert step.pending.question.number == number
        assert step.pending.parts == 1
        step = engine.graded(f"Feedback {number}.")
        assert step.utterances[0] == Utterance(f"Feedback {number}.", UtteranceKind.FEEDBACK)
        scenario_starts += [e["index"] for e in step.events if e["type"] == "scenario"]
        numbers += asked(step)
    assert numbers == list(range(1, 13))
    assert scenario_starts == [2, 3, 4]
    assert step.pending == Conclude(EndReason.COMPLETED, scored=True)
    assert step.utterances[-1].text == phrases.CLOSING["completed"]

    scores = [QuestionScore(n, 7) for n in range(1, 13)]
    final = engine.concluded(summarise(scores, ResultPolicy()))
    assert final.finished
    assert not final.listen
    assert final.end_reason is EndReason.COMPLETED
    assert kinds(final) == [UtteranceKind.RESULT, UtteranceKind.GOODBYE]
    assert final.utterances[0].text == (
        "You scored 84 out of 120, which is 70 percent: grade C. You have passed."
    )


def test_silence_prompts_once_then_repeats_then_moves_on_with_no_answer() -> None:
    engine, _ = confirmed()
    first = engine.silence(8.0)
    assert first.utterances[0].text == phrases.TAKE_YOUR_TIME
    assert first.listen
    assert not first.records
    second = engine.silence(8.0)
    assert kinds(second) == [UtteranceKind.PROMPT, UtteranceKind.QUESTION]
    assert asked(second) == [1]
    third = engine.silence(8.0)
    assert third.records == (NoAnswer(PLAN.questions[0], NoAnswerReason.SILENCE),)
    assert third.utterances[0].text == phrases.MOVE_ON_SILENT
    assert asked(third) == [2]
    # The next question starts with a fresh count.
    assert engine.silence(8.0).utterances[0].text == phrases.TAKE_YOUR_TIME


def test_silence_longer_than_the_question_limit_moves_on_at_once() -> None:
    engine, _ = confirmed()
    step = engine.silence(RULES.max_answer_seconds)
    assert step.records == (NoAnswer(PLAN.questions[0], NoAnswerReason.SILENCE),)
    assert asked(step) == [2]


def test_an_empty_transcript_counts_as_silence() -> None:
    engine, _ = confirmed()
    assert engine.hear("  ", 0.4).utterances[0].text == phrases.TAKE_YOUR_TIME


def test_spoken_repeat_asks_the_same_question_again() -> None:
    engine, _ = confirmed()
    step = engine.hear("Sorry, could you repeat the question?", 1.5)
    assert step.records == (RequestMade(Intent.REPEAT, 1, spoken=True),)
    assert asked(step) == [1]
    assert step.pending is None
    assert engine.current == PLAN.questions[0]


def test_an_answer_that_says_repeat_is_graded_not_obeyed() -> None:
    engine, _ = confirmed()
    step = engine.hear("I would repeat the ECG and send a troponin.", 4.0)
    assert isinstance(step.pending, GradeAnswer)
    assert step.pending.text == "I would repeat the ECG and send a troponin."


def test_skip_by_voice_or_button_moves_on_recording_no_answer() -> None:
    engine, _ = confirmed()
    spoken = engine.hear("Can we skip this one?", 1.2)
    assert spoken.records == (
        RequestMade(Intent.SKIP, 1, spoken=True),
        NoAnswer(PLAN.questions[0], NoAnswerReason.SKIPPED),
    )
    assert asked(spoken) == [2]
    clicked = engine.control(Control.SKIP)
    assert clicked.records[-1] == NoAnswer(PLAN.questions[1], NoAnswerReason.SKIPPED)
    assert asked(clicked) == [3]
    assert engine.done == {1, 2}


def test_spoken_end_is_confirmed_first() -> None:
    engine, _ = confirmed()
    ask = engine.hear("I want to stop the exam.", 1.5)
    assert ask.utterances[0].text == phrases.CONFIRM_END
    assert engine.phase is Phase.CONFIRM_END
    assert ask.pending is None
    carry_on = engine.hear("No, sorry.", 1.0)
    assert asked(carry_on) == [1]
    assert engine.phase is Phase.ANSWERING
    engine.hear("I'd like to stop.", 1.0)
    end = engine.hear("Yes.", 0.5)
    assert end.pending == Conclude(EndReason.ENDED_BY_STUDENT, scored=True)


def test_an_answer_instead_of_a_yes_or_no_to_ending_is_graded() -> None:
    engine, _ = confirmed()
    engine.hear("I want to stop the exam.", 1.5)
    step = engine.hear(LONG_ANSWER, 6.0)
    assert isinstance(step.pending, GradeAnswer)
    assert step.pending.text == LONG_ANSWER
    assert engine.phase is Phase.ANSWERING


def test_the_end_button_ends_at_once() -> None:
    engine, _ = confirmed()
    step = engine.control(Control.END)
    assert step.records == (RequestMade(Intent.END, 1, spoken=False),)
    assert step.pending == Conclude(EndReason.ENDED_BY_STUDENT, scored=True)


def test_a_too_short_answer_asks_for_more_and_keeps_what_was_said() -> None:
    engine, _ = confirmed()
    short = engine.hear("Heart attack.", 1.0)
    assert short.utterances[0].text == phrases.SAY_MORE
    assert short.pending is None
    assert short.listen
    more = engine.hear("An inferior one, from the right coronary artery.", 3.0)
    assert more.pending == GradeAnswer(
        PLAN.questions[0],
        "Heart attack. An inferior one, from the right coronary artery.",
        4.0,
        parts=2,
    )


def test_a_short_answer_followed_by_silence_is_graded_as_it_is() -> None:
    engine, _ = confirmed()
    engine.hear("Sepsis.", 0.8)
    step = engine.silence(8.0)
    assert step.pending == GradeAnswer(PLAN.questions[0], "Sepsis.", 0.8, parts=1)


def test_the_session_time_limit_ends_the_sitting_after_grading_the_last_answer() -> None:
    clock = FakeClock()
    engine, _ = confirmed(clock)
    clock.advance(44 * 60)
    assert engine.listen_plan().max_answer_seconds == 60.0
    clock.advance(61)
    step = engine.hear(LONG_ANSWER, 40.0)
    assert isinstance(step.pending, GradeAnswer)
    after = engine.graded("Correct!")
    assert after.pending == Conclude(EndReason.TIME_LIMIT, scored=True)
    assert after.utterances[-1].text == phrases.CLOSING["time_limit"]
    assert asked(after) == []


def test_requests_after_the_time_limit_end_the_sitting_instead() -> None:
    clock = FakeClock()
    engine, _ = confirmed(clock)
    clock.advance(RULES.session_limit_seconds + 1)
    step = engine.hear("Skip this one.", 1.0)
    assert step.pending == Conclude(EndReason.TIME_LIMIT, scored=True)
    assert not any(isinstance(r, NoAnswer) for r in step.records)


def test_a_short_answer_is_graded_even_when_time_runs_out_during_the_silence() -> None:
    clock = FakeClock()
    engine, _ = confirmed(clock)
    engine.hear("Sepsis.", 0.8)
    clock.advance(RULES.session_limit_seconds)
    step = engine.silence(8.0)
    assert step.pending == GradeAnswer(PLAN.questions[0], "Sepsis.", 0.8, parts=1)
    assert engine.graded("Partially correct.").pending == Conclude(EndReason.TIME_LIMIT, True)


def test_silence_after_the_time_limit_ends_the_sitting() -> None:
    clock = FakeClock()
    engine, _ = confirmed(clock)
    clock.advance(RULES.session_limit_seconds)
    assert engine.silence(8.0).pending == Conclude(EndReason.TIME_LIMIT, scored=True)


def test_an_interrupted_question_counts_as_asked() -> None:
    engine, step = confirmed()
    question = step.utterances[-1]
    engine.interrupted(question, played_seconds=1.2)
    reply = engine.hear(LONG_ANSWER, 6.0)
    assert isinstance(reply.pending, GradeAnswer)
    assert reply.pending.question.number == 1
    assert asked(engine.graded("Good.")) == [2]
    assert engine.interruptions == 1


def test_resume_continues_at_the_first_open_question_with_its_case() -> None:
    clock = FakeClock()
    engine = new_engine(clock, confirmed=True, done={1, 2, 3, 4}, elapsed_seconds=600.0)
    step = engine.begin()
    assert kinds(step) == [UtteranceKind.WELCOME, UtteranceKind.SCENARIO, UtteranceKind.QUESTION]
    assert "Welcome back, Jane Doe" in step.utterances[0].text
    assert step.utterances[1].text == PLAN.scenarios[1].case
    assert asked(step) == [5]
    assert engine.elapsed_seconds == 600.0


def test_resume_with_every_question_done_concludes() -> None:
    engine = new_engine(confirmed=True, done=set(range(1, 13)))
    assert engine.begin().pending == Conclude(EndReason.COMPLETED, scored=True)


def test_resume_past_the_time_limit_concludes_on_the_first_input() -> None:
    engine = new_engine(confirmed=True, done={1}, elapsed_seconds=RULES.session_limit_seconds)
    engine.begin()
    assert engine.control(Control.REPEAT).pending == Conclude(EndReason.TIME_LIMIT, scored=True)


def test_grade_without_a_pending_answer_is_refused() -> None:
    engine = new_engine()
    engine.begin()
    with pytest.raises(InvalidState):
        engine.graded("Correct!")


def test_rules_come_from_the_configuration_values() -> None:
    rules = ExamRules.from_config(
        {
            "max_question_duration_seconds": 90,
            "min_answer_duration_seconds": 2,
            "session_time_limit_minutes": 30,
        }
    )
    assert (rules.max_answer_seconds, rules.min_answer_seconds) == (90.0, 2.0)
    assert rules.session_limit_seconds == 1800.0
    assert ExamRules.from_config({}) == ExamRules()
    with pytest.raises(ConfigurationError):
        ExamRules.from_config({"min_answer_duration_seconds": 200})


@pytest.mark.parametrize("command", [Control.REPEAT, Control.SKIP])
def test_repeat_or_skip_before_the_identity_is_confirmed_asks_again_and_never_ends_it(
    command: Control,
) -> None:
    """Pressing Repeat or Skip during "Am I speaking with ...?" is not an unclear reply: any
    number of presses leaves the sitting waiting for the yes, which then starts it."""
    engine = new_engine()
    engine.begin()
    for _ in range(5):
        step = engine.control(command)
        assert step.listen
        assert not step.finished
        assert step.pending is None
        assert "Am I speaking with Jane Doe?" in step.utterances[0].text
    assert engine.hear("Could you repeat that?", 1.0).listen
    started = engine.hear("Yes, that's me.", 1.0)
    assert started.records == (IdentityConfirmed(),)
