"""The contract between the real-time session loop and whatever decides what the examiner says.

The session loop (``newspeech.voice``) owns time and audio: frames, VAD, end of turn, barge-in,
transcription, TTS and pacing. A :class:`Conversation` owns the exam: what to say next, grading,
and storing every answer as it happens. The loop never touches the database; the conversation never
touches audio. The exam service implements this protocol; tests of the loop use a scripted fake.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from newspeech.voice.protocols import Transcript


class UtteranceKind(enum.StrEnum):
    WELCOME = "welcome"
    SCENARIO = "scenario"
    QUESTION = "question"
    FEEDBACK = "feedback"
    PROMPT = "prompt"  # "Take your time…", "Could you repeat that?"
    RESULT = "result"
    GOODBYE = "goodbye"


@dataclass(frozen=True)
class Utterance:
    """One thing the examiner says.

    ``cacheable`` marks recurring text (questions, case presentations, fixed phrases): the loop may
    synthesise it once per process and replay the audio.
    """

    text: str
    kind: UtteranceKind
    cacheable: bool = False


@dataclass(frozen=True)
class ExaminerTurn:
    """What happens next: events for the client, then speech, then (maybe) listening.

    ``events`` are JSON-ready mappings with a ``type`` key (``scenario``, ``question``,
    ``evaluation``, ``result`` …), sent before the utterances are spoken. ``listen`` opens the
    microphone for an answer after the examiner finishes; ``finished`` ends the exam after speaking,
    and ``end_reason`` says why (the ``ended`` event's ``reason``: completed, ended_by_student,
    time_limit, identity_not_confirmed).
    """

    utterances: Sequence[Utterance] = ()
    events: Sequence[Mapping[str, Any]] = ()
    listen: bool = True
    finished: bool = False
    end_reason: str | None = None
    """With ``finished``: why the exam ended (``completed``, ``ended_by_student``,
    ``time_limit``); the loop sends it in the ``ended`` event (default ``completed``, or
    ``ended_by_student`` after an ``end`` control)."""


@dataclass(frozen=True)
class ListenPlan:
    """How to hear the current answer: ASR context and the clock's limits (seconds)."""

    prompt: str | None
    hotwords: Sequence[str] = ()
    max_answer_seconds: float = 120.0
    silence_prompt_seconds: float = 8.0
    continuable: bool = True
    """Speech that resumes soon after the turn was declared extends this answer (see
    :meth:`Conversation.amend`); off for a yes / no, where the first words decide."""


@dataclass(frozen=True)
class TurnTimings:
    """Monotonic seconds of one answered turn, measured by the loop (``None``: not reached)."""

    speech_started: float
    speech_ended: float
    turn_declared: float
    transcript_ready: float
    grade_ready: float | None = None
    first_audio_sent: float | None = None

    def milliseconds(self) -> dict[str, float]:
        """Latency components in ms (response = turn declared → first examiner audio byte)."""
        out = {
            "speech_seconds": round(self.speech_ended - self.speech_started, 3),
            "end_of_speech_to_turn_ms": _ms(self.turn_declared - self.speech_ended),
            "turn_to_transcript_ms": _ms(self.transcript_ready - self.turn_declared),
        }
        if self.grade_ready is not None:
            out["turn_to_grade_ms"] = _ms(self.grade_ready - self.turn_declared)
        if self.first_audio_sent is not None:
            out["response_ms"] = _ms(self.first_audio_sent - self.turn_declared)
            out["voice_to_voice_ms"] = _ms(self.first_audio_sent - self.speech_ended)
        return out


def _ms(seconds: float) -> float:
    return round(1000.0 * max(seconds, 0.0), 1)


@dataclass(frozen=True)
class HeardAnswer:
    """A finished student turn: transcript, its 16 kHz mono PCM16 audio, when things happened."""

    transcript: Transcript
    pcm: bytes
    timings: TurnTimings
    extra: Mapping[str, Any] = field(default_factory=dict)


class Control(enum.StrEnum):
    """Explicit requests from the client (buttons); spoken requests arrive as transcripts.

    ``continue`` ("I haven't finished") is the loop's own: it reopens the answer just given
    and never reaches :meth:`Conversation.control`."""

    REPEAT = "repeat"
    SKIP = "skip"
    END = "end"
    CONTINUE = "continue"


class Conversation(Protocol):
    """Decides what the examiner says; stores everything as it happens."""

    async def begin(self) -> ExaminerTurn:
        """Welcome (or, when resuming, where we were) and the first thing to answer."""
        ...

    def listen_plan(self) -> ListenPlan:
        """How to hear the answer the examiner is now waiting for."""
        ...

    async def answer(self, heard: HeardAnswer) -> ExaminerTurn:
        """The student finished speaking: grade, store, and say what comes next."""
        ...

    async def amend(self, heard: HeardAnswer) -> ExaminerTurn:
        """The student went on with the answer just given to :meth:`answer` (or ``amend``)
        before its reply was heard: ``heard`` is the whole answer, from its first word. Store
        it in the first one's place, grade it once more, and say what comes next from where the
        exam stood before that answer (a question asked since was not heard)."""
        ...

    async def silence(self, waited_seconds: float) -> ExaminerTurn:
        """The student said nothing for ``waited_seconds`` since the examiner stopped."""
        ...

    async def control(self, command: Control) -> ExaminerTurn:
        """A client control message (repeat, skip, end)."""
        ...

    async def interrupted(self, utterance: Utterance, played_seconds: float) -> None:
        """The student barged in ``played_seconds`` into ``utterance``; it counts as said."""
        ...

    async def turn_measured(self, timings: TurnTimings) -> None:
        """Latency of the last answered turn, once its reply's first audio byte was sent."""
        ...

    async def disconnected(self) -> None:
        """The connection closed; the exam stays resumable unless it had finished."""
        ...


SayMeanwhile = Callable[[ExaminerTurn], None]
"""Asks the loop to perform a turn's events and words at once, while the conversation is still
working out its reply (the turn's ``listen`` and ``finished`` are ignored)."""


@runtime_checkable
class SpeaksMeanwhile(Protocol):
    """A :class:`Conversation` that may have something to say before its reply is ready: the
    loop hands it :data:`SayMeanwhile` when it starts. The exam says there is a short technical
    pause at once when its reply must wait for the database (``newspeech.exams.outage``)."""

    def speak_meanwhile(self, say: SayMeanwhile) -> None: ...
