"""One item of the end-of-turn set through the real session loop, and what became of it.

The item's answers are given one per question, each once its question has been asked (the
examiner is listening), on the virtual-clock harness with the real engines. Afterwards every
answer is judged from the loop's own timings against where its words really are:

* a **cut**: a turn declared at a pause before the answer's last word;
* **healed**: the cut answer went on and was amended, so one stored answer holds all of it;
* **shifted**: some of its words were stored under a question other than the one asked;
* **delay**: last word → the turn that took the whole answer (virtual time: the loop's
  decision, not the engines' compute, which ``bench/latency.py`` measures).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from newspeech.voice.conversation import ExaminerTurn, HeardAnswer
from newspeech.voice.engines import SpeechEngines
from newspeech.voice.phrase_cache import PhraseCache
from newspeech.voice.protocols import PCM16, SAMPLE_RATE, SpeechToText, Transcript
from newspeech.voice.session import LoopSettings, SessionEngines
from newspeech.voice.speaker import Speaker
from tests.fixtures.scripted_conversation import ScriptedConversation, ScriptedQuestion
from tests.fixtures.turn_set import Pause, SpokenAnswer, TurnItem
from tests.fixtures.voices import SteadyExaminerVoice
from tests.voice.session_harness import FRAME_SECONDS, Exam, start_exam
from tests.voice.wer import edit_distance, normalize

FILLER = ScriptedQuestion("Please answer the next question.", ())
TOLERANCE = 0.3
"""Seconds a stored answer's first / last voiced frame may sit inside the answer's words (the
VAD's onset, a fading last syllable) and still count as holding all of them."""
OVERLAP = 0.1
"""Seconds of an answer's words a stored answer must hold to count as holding some of them."""


def steady_engines(speech: SpeechEngines) -> SessionEngines:
    """The process's engines, the examiner speaking with its noise off: whether an answer that
    goes on is still over the feedback depends on how long the feedback is, so it must be the
    same on every run for the set's counts to be."""
    speaker = Speaker(SteadyExaminerVoice(speech.pool), PhraseCache())
    return SessionEngines(speech.frame_pool, speech.vad, speech.turn, speech.stt, speaker)


@dataclass
class FilingConversation(ScriptedConversation):
    """The scripted exam, remembering under which question each answer was stored."""

    taken: list[tuple[int, HeardAnswer]] = field(default_factory=list)
    """Every answer as taken, in order (a first part later amended included)."""
    filed: dict[int, HeardAnswer] = field(default_factory=dict)
    """Question number → the answer stored for it in the end."""

    async def answer(self, heard: HeardAnswer) -> ExaminerTurn:
        number = self.index + 1  # an amend steps back to its question before answering
        self.taken.append((number, heard))
        self.filed[number] = heard
        return await super().answer(heard)


@dataclass(frozen=True)
class Cut:
    declared: float
    """Seconds into the answer's audio."""
    pause: Pause | None
    """The pause it was declared in."""
    rejoined: bool
    """What followed was amended into the part this turn took, under the question asked."""

    def describe(self) -> str:
        where = (
            f"at {self.declared:.2f} s"
            if self.pause is None
            else f"{self.pause.boundary} {self.pause.seconds:g} s pause"
        )
        return f"{where}, {'rejoined' if self.rejoined else 'not rejoined'}"


@dataclass(frozen=True)
class AnswerOutcome:
    item: str
    voice: str
    kind: str
    asked: int
    """The question being answered (the last one asked when the answer began)."""
    filed_under: tuple[int, ...]
    """Questions whose stored answer holds some of this answer's words."""
    whole: bool
    """The asked question's stored answer holds it from its first word to its last."""
    cuts: tuple[Cut, ...]
    delay: float | None
    """Last word → the turn that took the whole answer (seconds); None unless whole."""
    transcript: str
    reference: str = ""
    """What was said (empty where no transcript is published)."""

    @property
    def errors(self) -> tuple[int, int] | None:
        """Word errors of the stored transcript against what was said, and the words said
        (None where nothing is known to have been said)."""
        said = normalize(self.reference)
        if not said:
            return None
        return edit_distance(said, normalize(self.transcript)), len(said)

    @property
    def shifted(self) -> bool:
        return any(number != self.asked for number in self.filed_under)

    @property
    def healed(self) -> bool:
        return bool(self.cuts) and self.whole and not self.shifted

    @property
    def premature(self) -> bool:
        """Cut, and not healed: the stored answer misses words or they went elsewhere."""
        return bool(self.cuts) and not self.healed


@dataclass(frozen=True)
class ItemOutcome:
    item: TurnItem
    answers: tuple[AnswerOutcome, ...]
    turns: int
    continuations: int
    decoded_seconds: float = 0.0
    """Audio seconds the speech recogniser was given in this sitting (pauses decoded again
    count again)."""
    spoken_seconds: float = 0.0
    """Audio seconds of the answers played."""


@dataclass
class CountingEars:
    """The real recogniser, adding up the seconds of audio it is given."""

    stt: SpeechToText
    seconds: float = 0.0

    async def transcribe(self, pcm: PCM16, **options: Any) -> Transcript:
        self.seconds += pcm.size / SAMPLE_RATE
        return await self.stt.transcribe(pcm, **options)


async def _asked(exam: Exam[FilingConversation], since: int) -> None:
    """Stream silence until the examiner listens for a new question (after log entry
    ``since``): the candidate answers once a question has been put to them."""

    def listening() -> bool:
        return any(
            what == "event" and event["type"] == "listening" and not event.get("resumed")
            for _, what, event in exam.wire.log[since:]
        )

    await exam.wait_until(listening, max_seconds=120.0)


async def sit(
    engines: SessionEngines,
    item: TurnItem,
    settings: LoopSettings,
) -> ItemOutcome:
    """Give ``item``'s answers in one sitting; judge each."""
    questions = [ScriptedQuestion(a.question, a.keywords) for a in item.answers]
    questions += [FILLER] * (2 * len(item.answers) + 4)  # room for answers split in parts
    conversation = FilingConversation(questions)
    ears = CountingEars(engines.stt)
    exam = start_exam(dataclasses.replace(engines, stt=ears), conversation, settings)
    played: list[tuple[int, float]] = []
    since = 0
    for answer in item.answers:
        await _asked(exam, since)
        played.append((exam.wire.events("question")[-1]["number"], exam.clock.now()))
        await exam.play(answer.pcm)
        since = len(exam.wire.log)
    await _asked(exam, since)
    stats = exam.session.stats
    await exam.close()
    outcomes = tuple(
        judge(item, answer, asked, started, conversation)
        for answer, (asked, started) in zip(item.answers, played, strict=True)
    )
    spoken = sum(answer.pcm.size / SAMPLE_RATE for answer in item.answers)
    return ItemOutcome(item, outcomes, stats.turns, stats.continuations, ears.seconds, spoken)


def judge(
    item: TurnItem,
    answer: SpokenAnswer,
    asked: int,
    started: float,
    conversation: FilingConversation,
) -> AnswerOutcome:
    """What became of ``answer`` (played from virtual time ``started``)."""

    def seconds(at: float) -> float:
        # The loop handles a frame at the instant it starts but has heard all of it: its
        # decisions are a frame later in the answer's audio.
        return at + FRAME_SECONDS - started

    def holds(heard: HeardAnswer) -> float:
        start = seconds(heard.timings.speech_started)
        end = seconds(heard.timings.speech_ended)
        return min(end, answer.last_word) - max(start, answer.first_word)

    def rejoined(number: int, heard: HeardAnswer, declared: float) -> bool:
        final = conversation.filed.get(number)
        return (
            number == asked
            and final is not None
            and final is not heard
            and seconds(final.timings.speech_ended) > declared
        )

    cuts = tuple(
        Cut(round(declared, 3), _pause_at(answer, declared), rejoined(number, heard, declared))
        for number, heard in conversation.taken
        if holds(heard) >= min(OVERLAP, answer.last_word - answer.first_word)
        and (declared := seconds(heard.timings.turn_declared)) < answer.last_word
    )
    filed_under = tuple(
        number
        for number, heard in sorted(conversation.filed.items())
        if holds(heard) >= min(OVERLAP, answer.last_word - answer.first_word)
    )
    stored = conversation.filed.get(asked)
    whole = stored is not None and _whole(answer, stored, seconds)
    delay = None
    if stored is not None and whole:
        delay = round(seconds(stored.timings.turn_declared) - answer.last_word, 3)
    return AnswerOutcome(
        item=item.name,
        voice=item.voice,
        kind=item.kind,
        asked=asked,
        filed_under=filed_under,
        whole=whole,
        cuts=cuts,
        delay=delay,
        transcript=stored.transcript.text if stored is not None else "",
        reference=answer.text,
    )


def _whole(answer: SpokenAnswer, stored: HeardAnswer, seconds: Callable[[float], float]) -> bool:
    start, end = seconds(stored.timings.speech_started), seconds(stored.timings.speech_ended)
    audio_seconds = len(stored.pcm) / 2 / SAMPLE_RATE
    return (
        start <= answer.first_word + TOLERANCE
        and end >= answer.last_word - TOLERANCE
        and audio_seconds >= answer.last_word - answer.first_word - 2 * TOLERANCE
    )


def _pause_at(answer: SpokenAnswer, at: float) -> Pause | None:
    """The pause a turn declared at ``at`` (seconds into the answer) fell in."""
    before = [pause for pause in answer.pauses if pause.at <= at]
    return before[-1] if before else None
