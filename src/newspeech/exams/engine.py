"""One sitting as a pure state machine: what the examiner says next, and what must be stored.

No database, no audio, no event loop. Time comes from an injected monotonic clock. Each input
(a heard transcript, a silence, a client control, a grade, a stored result) returns a
:class:`Step`: what to say and send, whether to listen, what to record, and at most one piece of
``pending`` work (grade this answer / store the result) whose outcome the caller feeds back with
:meth:`ExamEngine.graded` or :meth:`ExamEngine.concluded`.

Flow: welcome and "are you <name>?" → for each case: read the case, then its questions → after
each answer: grade, spoken feedback, next → result and goodbye. Silence: "Take your time…",
then the question again, then move on with no answer. Spoken or clicked repeat / skip / end.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from newspeech.errors import InvalidState
from newspeech.exams import phrases
from newspeech.exams.intents import Intent, Reply, detect_intent, yes_or_no
from newspeech.exams.plan import ExamPlan, ExamRules, PlannedQuestion
from newspeech.results.rules import ResultSummary
from newspeech.voice.conversation import Control, ListenPlan, Utterance, UtteranceKind


class Phase(enum.StrEnum):
    IDENTITY = "identity"
    ANSWERING = "answering"
    CONFIRM_END = "confirm_end"
    CONCLUDING = "concluding"
    FINISHED = "finished"


class EndReason(enum.StrEnum):
    COMPLETED = "completed"
    ENDED_BY_STUDENT = "ended_by_student"
    TIME_LIMIT = "time_limit"
    IDENTITY_NOT_CONFIRMED = "identity_not_confirmed"


class NoAnswerReason(enum.StrEnum):
    SKIPPED = "skipped"
    SILENCE = "silence"


@dataclass(frozen=True)
class IdentityConfirmed:
    """The candidate said they are who the sign-in says: the sitting starts now."""


@dataclass(frozen=True)
class NoAnswer:
    """Move past ``question`` with nothing to grade."""

    question: PlannedQuestion
    reason: NoAnswerReason


@dataclass(frozen=True)
class RequestMade:
    """A spoken or clicked request (repeat, skip, end), for the audit trail."""

    intent: Intent
    question_number: int | None
    spoken: bool


Record = IdentityConfirmed | NoAnswer | RequestMade


@dataclass(frozen=True)
class GradeAnswer:
    """Store and grade ``text`` as the answer to ``question``, then call ``graded``."""

    question: PlannedQuestion
    text: str
    speech_seconds: float
    parts: int
    """How many heard turns make up ``text`` (a too-short start, then the rest): the last
    ``parts`` heard; 0 when none (never for a real answer)."""


@dataclass(frozen=True)
class Conclude:
    """Finish the sitting (store the result if ``scored``), then call ``concluded``."""

    reason: EndReason
    scored: bool
    again: bool = False
    """The sitting was already concluded: its last answer went on and was graded again, so
    the stored result is re-summed, not created."""


@dataclass(frozen=True)
class Step:
    utterances: tuple[Utterance, ...] = ()
    events: tuple[Mapping[str, Any], ...] = ()
    listen: bool = False
    records: tuple[Record, ...] = ()
    pending: GradeAnswer | Conclude | None = None
    finished: bool = False
    end_reason: EndReason | None = None


@dataclass
class _Turn:
    """Per-question state, reset whenever a question is (re)asked fresh."""

    silences: int = 0
    silent_seconds: float = 0.0
    fragment: list[str] = field(default_factory=list)
    fragment_seconds: float = 0.0

    def copy(self) -> _Turn:
        return dataclasses.replace(self, fragment=list(self.fragment))


@dataclass(frozen=True)
class _Position:
    """Where the sitting stood just before an answer was taken (see :meth:`ExamEngine.amend`)."""

    current: PlannedQuestion | None
    done: frozenset[int]
    turn: _Turn
    last_scenario: int | None


class ExamEngine:
    """The position and rules of one sitting. ``done`` (question numbers already answered or
    passed) and ``elapsed_seconds`` rebuild a sitting being resumed."""

    def __init__(
        self,
        plan: ExamPlan,
        rules: ExamRules,
        candidate_name: str,
        clock: Callable[[], float],
        *,
        confirmed: bool = False,
        done: Collection[int] = (),
        elapsed_seconds: float = 0.0,
    ) -> None:
        self.plan = plan
        self.rules = rules
        self.candidate_name = candidate_name
        self._clock = clock
        self._questions = plan.questions
        self.done: set[int] = set(done)
        self.phase = Phase.ANSWERING if confirmed else Phase.IDENTITY
        self._resuming = confirmed
        self._started: float | None = clock() - elapsed_seconds if confirmed else None
        self._identity_tries = 0
        self._turn = _Turn()
        self.interruptions = 0
        self.current: PlannedQuestion | None = self._first_open()
        self._last_scenario: int | None = None
        self._end_reason: EndReason | None = None
        self._before_answer: _Position | None = None
        self._concluded_once = False

    # -- the clock -------------------------------------------------------------------------

    @property
    def elapsed_seconds(self) -> float:
        return 0.0 if self._started is None else self._clock() - self._started

    def _overtime(self) -> bool:
        return (
            self._started is not None and self.elapsed_seconds >= self.rules.session_limit_seconds
        )

    def listen_plan(self) -> ListenPlan:
        if self.phase in (Phase.IDENTITY, Phase.CONFIRM_END) or self.current is None:
            return ListenPlan(
                prompt=phrases.YES_NO_PROMPT,
                hotwords=tuple(self.candidate_name.split()),
                max_answer_seconds=min(15.0, self.rules.max_answer_seconds),
                silence_prompt_seconds=self.rules.silence_prompt_seconds,
                continuable=False,
            )
        remaining = self.rules.session_limit_seconds - self.elapsed_seconds
        return ListenPlan(
            prompt=self.current.text,
            hotwords=self.current.hotwords,
            max_answer_seconds=max(1.0, min(self.rules.max_answer_seconds, remaining)),
            silence_prompt_seconds=self.rules.silence_prompt_seconds,
        )

    # -- inputs ----------------------------------------------------------------------------

    def begin(self) -> Step:
        if self.phase is Phase.IDENTITY:
            welcome = phrases.welcome(self.plan.college_name, self.candidate_name)
            return self._say(welcome, kind=UtteranceKind.WELCOME)
        self._ensure_open()
        if self.current is None:
            return self._conclude(EndReason.COMPLETED)
        back = Utterance(phrases.welcome_back(self.candidate_name), UtteranceKind.WELCOME)
        return self._ask(self.current, lead=(back,), present_case=True)

    def hear(self, text: str, speech_seconds: float) -> Step:
        """The student finished a turn saying ``text`` over ``speech_seconds`` of speech."""
        self._ensure_open()
        if self.phase is Phase.IDENTITY:
            return self._hear_identity(text)
        if self.phase is Phase.CONFIRM_END:
            reply, intent = yes_or_no(text), detect_intent(text)
            if reply is Reply.YES or intent is Intent.END:
                return self._conclude(EndReason.ENDED_BY_STUDENT)
            self.phase = Phase.ANSWERING
            if reply is Reply.UNCLEAR and intent is None and len(text.split()) > 3:
                return self._answer(text, speech_seconds)  # they went on to answer instead
            return self._repeat(lead=phrases.CARRY_ON)
        if not text.strip():
            return self.silence(0.0)
        intent = detect_intent(text)
        if intent is not None:
            return self._request(intent, spoken=True)
        self._before_answer = _Position(
            self.current, frozenset(self.done), self._turn.copy(), self._last_scenario
        )
        return self._answer(text, speech_seconds)

    def amend(self, text: str, speech_seconds: float) -> Step:
        """The student went on with the answer just heard (speech resumed before the reply
        was heard, or "I haven't finished"): ``text`` is the whole answer. The sitting goes
        back to where it stood before that answer was taken — a question asked since then was
        not heard and counts as not asked — and takes the whole answer in its place."""
        position = self._before_answer
        if position is None:
            raise InvalidState("there is no answer to go on with")
        if self.phase in (Phase.CONCLUDING, Phase.FINISHED):
            # The last answer ended the sitting: it may go on while the result is spoken.
            if self._end_reason is not EndReason.COMPLETED:
                raise InvalidState(f"the sitting is {self.phase.value}; it takes no more input")
            self._concluded_once = True
        self.phase = Phase.ANSWERING
        self.current = position.current
        self.done = set(position.done)
        self._turn = position.turn.copy()
        self._last_scenario = position.last_scenario
        return self._answer(text, speech_seconds)

    def silence(self, waited_seconds: float) -> Step:
        """Nothing was said for ``waited_seconds`` since the examiner stopped (or last spoke)."""
        self._ensure_open()
        self._before_answer = None
        turn = self._turn
        turn.silences += 1
        turn.silent_seconds += waited_seconds
        if self.phase is Phase.IDENTITY:
            return self._identity_unclear(silent=True)
        if self.phase is Phase.CONFIRM_END:
            self.phase = Phase.ANSWERING
            return self._repeat(lead=phrases.CARRY_ON)
        if turn.fragment:  # what was said is graded even past the time limit
            return self._grade(" ".join(turn.fragment), turn.fragment_seconds)
        if self._overtime():
            return self._conclude(EndReason.TIME_LIMIT)
        if turn.silent_seconds >= self.rules.max_answer_seconds or turn.silences >= 3:
            return self._pass(NoAnswerReason.SILENCE, lead=phrases.MOVE_ON_SILENT)
        if turn.silences == 1:
            return self._say(phrases.TAKE_YOUR_TIME, kind=UtteranceKind.PROMPT, cacheable=True)
        return self._repeat(lead=phrases.ONCE_MORE, fresh=False)

    def control(self, command: Control) -> Step:
        self._ensure_open()
        self._before_answer = None
        return self._request(Intent(command.value), spoken=False)

    def interrupted(self, utterance: Utterance, played_seconds: float) -> None:
        """Barge-in: what was cut short counts as said (an interrupted question as asked), so
        nothing is re-said and the position does not move."""
        del utterance, played_seconds
        self.interruptions += 1

    def graded(self, spoken_feedback: str | None) -> Step:
        """The pending answer is stored and graded (``None``: grading failed, it is stored for
        an examiner); speak the feedback and move on."""
        if self.phase is not Phase.ANSWERING or self.current is None:
            raise InvalidState("no answer is waiting for its grade")
        feedback = Utterance(spoken_feedback or phrases.NOT_MARKED, UtteranceKind.FEEDBACK)
        return self._advance(lead=(feedback,))

    def concluded(self, summary: ResultSummary | None) -> Step:
        """The sitting is finished and stored (with ``summary`` when it was scored)."""
        if self.phase is not Phase.CONCLUDING:
            raise InvalidState("the sitting is not concluding")
        self.phase = Phase.FINISHED
        words = [] if summary is None else [phrases.result(summary)]
        utterances = tuple(Utterance(w, UtteranceKind.RESULT) for w in words)
        if summary is not None:
            utterances += (Utterance(phrases.GOODBYE, UtteranceKind.GOODBYE, cacheable=True),)
        return Step(utterances=utterances, finished=True, end_reason=self._end_reason)

    # -- identity --------------------------------------------------------------------------

    def _hear_identity(self, text: str) -> Step:
        intent = detect_intent(text)
        if intent is Intent.END:
            return self._conclude(EndReason.IDENTITY_NOT_CONFIRMED, goodbye=phrases.NOT_STARTED)
        if intent is Intent.REPEAT:
            return self._identity_request(intent)
        reply = yes_or_no(text)
        if reply is Reply.NO:
            return self._conclude(
                EndReason.IDENTITY_NOT_CONFIRMED,
                goodbye=phrases.not_you(self.candidate_name),
            )
        if reply is Reply.UNCLEAR:
            return self._identity_unclear(silent=False)
        self.phase = Phase.ANSWERING
        self._started = self._clock()
        assert self.current is not None  # a new sitting has every question open
        intro = Utterance(phrases.instructions(self.candidate_name), UtteranceKind.PROMPT)
        step = self._ask(self.current, lead=(intro,), present_case=True)
        return _with_records(step, IdentityConfirmed())

    def _identity_request(self, intent: Intent) -> Step:
        """Repeat or skip asked for before the identity is confirmed: the question is asked
        again, and the request does not count as an unclear reply (only END ends here)."""
        if intent is Intent.END:
            return self._conclude(EndReason.IDENTITY_NOT_CONFIRMED, goodbye=phrases.NOT_STARTED)
        lead = phrases.ASK_AGAIN if intent is Intent.REPEAT else phrases.IDENTITY_FIRST
        return self._say(
            f"{lead} {phrases.ask_identity(self.candidate_name)}", kind=UtteranceKind.PROMPT
        )

    def _identity_unclear(self, *, silent: bool) -> Step:
        self._identity_tries += 1
        if self._identity_tries >= self.rules.identity_attempts:
            return self._conclude(
                EndReason.IDENTITY_NOT_CONFIRMED, goodbye=phrases.IDENTITY_UNCONFIRMED
            )
        ask = phrases.ask_identity(self.candidate_name)
        lead = phrases.TAKE_YOUR_TIME if silent and self._identity_tries == 1 else ""
        return self._say(f"{lead} {ask}".strip(), kind=UtteranceKind.PROMPT)

    # -- answering -------------------------------------------------------------------------

    def _request(self, intent: Intent, *, spoken: bool) -> Step:
        number = self.current.number if self.current else None
        record = RequestMade(intent, number, spoken)
        if self.phase is Phase.IDENTITY:
            step = self._identity_request(intent)
        elif self._overtime():
            step = self._conclude(EndReason.TIME_LIMIT)
        elif intent is Intent.END:
            if spoken and self.phase is Phase.ANSWERING:
                self.phase = Phase.CONFIRM_END
                step = self._say(phrases.CONFIRM_END, kind=UtteranceKind.PROMPT, cacheable=True)
            else:
                step = self._conclude(EndReason.ENDED_BY_STUDENT)
        elif intent is Intent.REPEAT:
            self.phase = Phase.ANSWERING
            step = self._repeat(lead=phrases.OF_COURSE)
        else:
            self.phase = Phase.ANSWERING
            step = self._pass(NoAnswerReason.SKIPPED, lead=phrases.SKIPPED)
        return _with_records(step, record)

    def _answer(self, text: str, speech_seconds: float) -> Step:
        turn = self._turn
        turn.fragment.append(text.strip())
        turn.fragment_seconds += max(speech_seconds, 0.0)
        short = turn.fragment_seconds < self.rules.min_answer_seconds
        if short and len(turn.fragment) == 1 and not self._overtime():
            return self._say(phrases.SAY_MORE, kind=UtteranceKind.PROMPT, cacheable=True)
        return self._grade(" ".join(turn.fragment), turn.fragment_seconds)

    def _grade(self, text: str, speech_seconds: float) -> Step:
        assert self.current is not None
        self.done.add(self.current.number)
        parts = len(self._turn.fragment)
        return Step(pending=GradeAnswer(self.current, text, speech_seconds, parts))

    def _pass(self, reason: NoAnswerReason, *, lead: str) -> Step:
        assert self.current is not None
        self.done.add(self.current.number)
        record = NoAnswer(self.current, reason)
        say = Utterance(lead, UtteranceKind.PROMPT, cacheable=True)
        return _with_records(self._advance(lead=(say,)), record)

    def _advance(self, *, lead: tuple[Utterance, ...]) -> Step:
        if self._overtime():
            return _prefixed(lead, self._conclude(EndReason.TIME_LIMIT))
        self.current = self._first_open()
        if self.current is None:
            return _prefixed(lead, self._conclude(EndReason.COMPLETED))
        return self._ask(self.current, lead=lead, present_case=False)

    def _repeat(self, *, lead: str, fresh: bool = True) -> Step:
        assert self.current is not None
        say = Utterance(lead, UtteranceKind.PROMPT, cacheable=True)
        return self._ask(self.current, lead=(say,), present_case=False, fresh=fresh)

    def _ask(
        self,
        question: PlannedQuestion,
        *,
        lead: tuple[Utterance, ...],
        present_case: bool,
        fresh: bool = True,
    ) -> Step:
        if fresh:
            self._turn = _Turn()
        utterances, events = list(lead), []
        scenario = self.plan.scenario_of(question)
        if present_case or scenario.index != self._last_scenario:
            self._last_scenario = scenario.index
            utterances.append(Utterance(scenario.case, UtteranceKind.SCENARIO, cacheable=True))
            events.append(
                {
                    "type": "scenario",
                    "index": scenario.index,
                    "scenario_id": scenario.scenario_id,
                    "name": scenario.name,
                    "description": scenario.case,
                }
            )
        utterances.append(Utterance(question.text, UtteranceKind.QUESTION, cacheable=True))
        events.append(
            {
                "type": "question",
                "number": question.number,
                "total": len(self._questions),
                "scenario_index": question.scenario_index,
                "text": question.text,
            }
        )
        return Step(utterances=tuple(utterances), events=tuple(events), listen=True)

    # -- the end ---------------------------------------------------------------------------

    def _conclude(self, reason: EndReason, *, goodbye: str | None = None) -> Step:
        self.phase = Phase.CONCLUDING
        self._end_reason = reason
        scored = reason is not EndReason.IDENTITY_NOT_CONFIRMED
        text = goodbye or phrases.CLOSING[reason]
        kind = UtteranceKind.PROMPT if scored else UtteranceKind.GOODBYE
        return Step(
            utterances=(Utterance(text, kind, cacheable=goodbye is None),),
            pending=Conclude(reason, scored, again=self._concluded_once),
        )

    def _say(
        self, text: str, *, kind: UtteranceKind = UtteranceKind.PROMPT, cacheable: bool = False
    ) -> Step:
        return Step(utterances=(Utterance(text, kind, cacheable=cacheable),), listen=True)

    def _first_open(self) -> PlannedQuestion | None:
        return next((q for q in self._questions if q.number not in self.done), None)

    def _ensure_open(self) -> None:
        if self.phase in (Phase.CONCLUDING, Phase.FINISHED):
            raise InvalidState(f"the sitting is {self.phase.value}; it takes no more input")


def _with_records(step: Step, *records: Record) -> Step:
    return Step(
        utterances=step.utterances,
        events=step.events,
        listen=step.listen,
        records=(*records, *step.records),
        pending=step.pending,
        finished=step.finished,
        end_reason=step.end_reason,
    )


def _prefixed(lead: tuple[Utterance, ...], step: Step) -> Step:
    return Step(
        utterances=(*lead, *step.utterances),
        events=step.events,
        listen=step.listen,
        records=step.records,
        pending=step.pending,
        finished=step.finished,
        end_reason=step.end_reason,
    )
