"""The real-time loop of one exam connection: hear, take turns, speak, yield to barge-in.

Frames → VAD (shared Silero, this stream's state) → :class:`~newspeech.voice.ear.Ear` → at a
pause, decode speculatively and ask the turn model → the :class:`Conversation` → speech, paced
in real time in ≤ 40 ms chunks. One TaskGroup per connection holds the receiver, a watchdog
(silence prompts) and the examiner (thinking, then speaking). Time comes from an injected
:class:`~newspeech.voice.clock.Clock`, so tests run frame by frame on a virtual clock.

Calls into the conversation store answers; a barge-in or a disconnect never cuts one short
(they run shielded and are awaited before the loop ends). Only speech is cancelled.

A fair turn (``ARCHITECTURE.md``): an answer belongs to the question the candidate heard, and
the next question counts as asked only once it has been spoken in full. So a declared turn is
not closed at once: until the examiner's reply has been spoken and the microphone opens for the
next answer, the ear keeps the answer's audio, pause included, and speech that resumes — while
the examiner thinks, gives feedback, presents a case or reads the next question — is the same
answer going on: the reply is cancelled, and once the answer ends again the whole of it, from
its first word, is transcribed and given to :meth:`Conversation.amend` in the first part's place.
The question cut short was not heard, so it is asked again. ``continue`` ("I haven't finished")
does the same on request; the last answer can go on over the closing words too (its result is
then re-summed).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import logging
from collections.abc import Awaitable, Coroutine, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, TypeVar

import numpy as np

from newspeech.errors import NewSpeechError
from newspeech.voice.clock import Clock
from newspeech.voice.conversation import (
    Control,
    Conversation,
    ExaminerTurn,
    HeardAnswer,
    ListenPlan,
    SpeaksMeanwhile,
    TurnTimings,
    Utterance,
    UtteranceKind,
)
from newspeech.voice.ear import Ear, EarSettings, EarState, Heard
from newspeech.voice.pool import InferencePool, Ticket, Urgency, component, urgency
from newspeech.voice.protocols import (
    PCM16,
    SAMPLE_RATE,
    SpeechToText,
    Transcript,
    VadStream,
    VoiceActivityDetector,
)
from newspeech.voice.settings import TurnTakingSettings
from newspeech.voice.speaker import Speaker
from newspeech.voice.transcripts import joined
from newspeech.voice.turn import TurnDetector

logger = logging.getLogger(__name__)
T = TypeVar("T")

Inbound = bytes | Control
"""What the edge hands the loop: validated PCM16 audio, or a control request."""


ASKED_WHEN_SPOKEN = frozenset({UtteranceKind.SCENARIO, UtteranceKind.QUESTION})
"""Utterances whose events (``scenario``, ``question``) are sent as they start to be spoken."""


class Inbox(Protocol):
    async def receive(self) -> Inbound | None:
        """The next message from the client; ``None`` once the connection has closed."""
        ...


class Outbox(Protocol):
    async def send_event(self, event: Mapping[str, Any]) -> None: ...

    async def send_audio(self, pcm: bytes) -> None: ...


@dataclass(frozen=True)
class LoopSettings:
    ear: EarSettings = field(default_factory=EarSettings)
    turn_complete_threshold: float = 0.5
    turn_incomplete_stop_seconds: float = 4.0
    barge_in_min_seconds: float = 0.3
    lead_seconds: float = 0.12
    """Examiner audio is sent this far ahead of real time (the client's jitter buffer)."""
    tick_seconds: float = 0.1
    continuation_min_seconds: float = 0.5
    """Speech this long (voiced) over the reply is the answer going on; shorter — a cough,
    "mm" — is a backchannel, kept in the audio in case more follows."""
    language: str | None = None
    """What speech recognition is told the answers' language is (``None``: the engine's)."""
    settle_min_seconds: float | None = None
    """If set, the decode started at a pause is kept when the answer goes on, if what it heard
    since the last kept one is at least this long: later decodes then hear only what came
    after, so an answer is decoded about once whatever its pauses (not again from its first
    word at each), and the decode the student waits for at the end covers the last piece only.
    A shorter piece ("One.") is decoded again with what follows it. ``None`` (the default)
    keeps none: every decode hears the whole answer. Off by default because Whisper hears a
    piece worse without what came before it: on the end-of-turn set (``scripts/bench turns``)
    3 s cut decoding from 3.9 to 1.14 seconds per second of answer but raised the word error
    rate from 11.0 % to 14.8 %."""

    def for_sitting(
        self, *, vad_threshold: float | None = None, language: str | None = None
    ) -> LoopSettings:
        """These settings with one sitting's own values (from its exam configuration) where
        it has them."""
        settings = self
        if vad_threshold is not None:
            settings = replace(settings, ear=replace(settings.ear, threshold=vad_threshold))
        if language is not None:
            settings = replace(settings, language=language)
        return settings

    @classmethod
    def from_settings(cls, settings: TurnTakingSettings, frame_samples: int = 512) -> LoopSettings:
        return cls(
            ear=EarSettings(
                frame_samples=frame_samples,
                threshold=settings.vad_threshold,
                start_seconds=settings.vad_start_seconds,
                stop_seconds=settings.vad_stop_seconds,
            ),
            turn_complete_threshold=settings.turn_complete_threshold,
            turn_incomplete_stop_seconds=settings.turn_incomplete_stop_seconds,
            settle_min_seconds=settings.settle_min_seconds,
            barge_in_min_seconds=settings.barge_in_min_ms / 1000.0,
            lead_seconds=settings.tts_lead_seconds,
        )


@dataclass(frozen=True)
class SessionEngines:
    """The process's shared models, as one exam uses them."""

    frame_pool: InferencePool
    """Where VAD frames are scored (kept clear of long transcriptions)."""
    vad: VoiceActivityDetector
    turn: TurnDetector
    stt: SpeechToText
    speaker: Speaker


@dataclass
class LoopStats:
    """What happened in this connection; for tests, logs and the benchmark."""

    turns: int = 0
    speculative_decodes: int = 0
    speculative_discarded: int = 0
    settled_decodes: int = 0
    """Decodes made at a pause and kept when the answer went on (``settle_min_seconds``)."""
    barge_ins: int = 0
    backchannels: int = 0
    continuations: int = 0
    """Answers that went on after their turn was declared (heard as one answer)."""
    stop_seconds: list[float] = field(default_factory=list)
    """Per barge-in: decision → the last examiner audio byte sent (seconds)."""


@dataclass
class _Speaking:
    utterance: Utterance
    utterance_id: int
    started: float | None = None
    sent: float = 0.0


@dataclass(eq=False)
class _Piece:
    """The decode of one stretch of an answer's audio, samples ``start`` to ``end``."""

    start: int
    end: int
    decode: asyncio.Task[Transcript | NewSpeechError]
    ticket: Ticket


@dataclass
class _Answer:
    speech_started: float
    plan: ListenPlan
    speech_ended: float = 0.0
    audio: PCM16 | None = None
    decode: asyncio.Task[Transcript | NewSpeechError] | None = None
    """The whole answer's transcript: the settled pieces' and the latest piece's, joined."""
    settled: list[_Piece] = field(default_factory=list)
    """Decodes made at pauses the answer went on after, kept (in order, end to end)."""
    piece: _Piece | None = None
    """The decode of what was heard since the last settled piece, started at the last pause."""
    prefix: PCM16 | None = None
    """Audio heard before the ear's buffer began (an answer reopened by ``continue`` after
    the ear was cleared): it comes first in the answer."""
    stored: asyncio.Future[ExaminerTurn] | None = None
    """The conversation call that took this answer, once made: going on amends it."""
    urgency: Ticket = field(default_factory=lambda: Ticket(Urgency.SPECULATIVE))
    """Of its decode: speculative at a pause, turn-critical once its turn is declared."""


class VoiceLoop:
    """One connection's loop. ``await run(inbox)`` until the exam ends or the client leaves."""

    def __init__(
        self,
        conversation: Conversation,
        engines: SessionEngines,
        settings: LoopSettings,
        clock: Clock,
        outbox: Outbox,
    ) -> None:
        self._conversation = conversation
        self._engines = engines
        self._settings = settings
        self._clock = clock
        self._out = outbox
        self._ear = Ear(settings.ear)
        self._vad: VadStream = engines.vad.new_stream()
        self._pending = bytearray()
        self._frame_bytes = 2 * settings.ear.frame_samples
        self._ids = itertools.count(1)
        self._tg: asyncio.TaskGroup | None = None
        self._done = asyncio.Event()
        self._examiner: asyncio.Task[None] | None = None
        self._speaking: _Speaking | None = None
        self._in_flight: set[asyncio.Future[Any]] = set()
        self._deferred: Control | None = None
        self._interruptible = False
        self._closing = False
        """The turn being performed ends the sitting (its closing words are being said)."""
        self._listening = False
        self._plan = ListenPlan(prompt=None, continuable=False)
        self._quiet_since = clock.now()
        self._answer: _Answer | None = None
        self._reply: _Answer | None = None
        """A declared answer whose reply is still being given: speech now is that answer going
        on (the ear still holds its audio)."""
        self._amendable: _Answer | None = None
        """The last declared answer, until the next one starts: what ``continue`` reopens."""
        self._question_number: int | None = None
        self._held: list[Mapping[str, Any]] = []
        """``question`` / ``scenario`` events of the reply, sent as their utterance starts."""
        self.end_reason: str | None = None
        self._draining = False
        self.drained = False
        """The loop ended for a server shutdown, between two answers (:meth:`drain`)."""
        self.stats = LoopStats()
        self._meanwhile: asyncio.Queue[ExaminerTurn] = asyncio.Queue()
        """What the conversation asked to be said while it works out its reply."""
        self._thinking = False
        """The examiner waits for its reply (perhaps saying something meanwhile)."""
        if isinstance(conversation, SpeaksMeanwhile):
            conversation.speak_meanwhile(self._meanwhile.put_nowait)

    @property
    def examiner(self) -> asyncio.Task[None] | None:
        """The examiner's task while it thinks or speaks; ``None`` while the student has the
        floor. (A virtual-clock harness waits for it to sleep on the clock before moving time.)"""
        return self._examiner

    def hang_up(self) -> None:
        """End the loop as if the connection had gone: stores under way finish, the
        conversation hears ``disconnected``, and :meth:`run` returns."""
        self._done.set()

    def drain(self) -> None:
        """The server is shutting down: end the loop (as :meth:`hang_up` does) at the next
        moment nothing is under way, the microphone open and no answer begun, so that no
        answer is cut short. The candidate resumes the sitting elsewhere; what was asked and
        not yet answered is asked again there."""
        self._draining = True
        self._end_if_drained()

    def _end_if_drained(self) -> None:
        between_answers = (
            self._listening
            and self._answer is None
            and self._reply is None
            and self._ear.state is EarState.QUIET
        )
        if self._draining and between_answers and not self._done.is_set():
            self.drained = True
            self._done.set()

    async def run(self, inbox: Inbox) -> str:
        """Run the exam; returns why it ended (``completed``, ``disconnected`` …)."""
        try:
            async with asyncio.TaskGroup() as tg:
                self._tg = tg
                receiver = tg.create_task(self._receive(inbox))
                watchdog = tg.create_task(self._watch())
                self._start_examiner(self._conversation.begin())
                await self._done.wait()
                for task in (receiver, watchdog, self._examiner):
                    if task is not None:
                        task.cancel()
        finally:
            await self._settle()
        return self.end_reason or "disconnected"

    async def _settle(self) -> None:
        """Let stores already under way finish; tell the conversation if we were cut off."""
        while self._in_flight:
            await asyncio.wait(set(self._in_flight))
        if self.end_reason is None:
            await self._conversation.disconnected()

    # -- hearing ---------------------------------------------------------------------------

    async def _receive(self, inbox: Inbox) -> None:
        while (message := await inbox.receive()) is not None:
            if isinstance(message, Control):
                await self._control(message)
                continue
            self._pending += message
            while len(self._pending) >= self._frame_bytes:
                frame = np.frombuffer(bytes(self._pending[: self._frame_bytes]), dtype="<i2")
                del self._pending[: self._frame_bytes]
                await self._hear(frame.astype(np.int16))
        self._done.set()

    async def _hear(self, frame: PCM16) -> None:
        with component("vad"):
            probability = await self._engines.frame_pool.run(self._vad.probability, frame)
        now = self._clock.now()
        heard = self._ear.hear(frame, probability)
        if heard is Heard.SPEECH_STARTED:
            await self._out.send_event({"type": "vad", "speech": True})
            if self._answer is None:  # else a reopened answer: this is more of it
                self._answer = _Answer(now - self._ear.segment_seconds, self._plan)
                self._amendable = None
        elif heard is Heard.RESUMED:
            await self._out.send_event({"type": "vad", "speech": True})
            if self._answer is not None:
                self._settle_decode(self._answer)
        elif heard is Heard.PAUSED:
            await self._out.send_event({"type": "vad", "speech": False})
            await self._paused(now)
            return
        speaking = self._ear.state is EarState.SPEAKING
        if self._reply is not None:
            if speaking and self._ear.segment_seconds >= self._settings.continuation_min_seconds:
                await self._go_on(self._reply)
            return
        if self._speaking is not None and speaking:
            if (
                self._interruptible
                and self._ear.segment_seconds >= self._settings.barge_in_min_seconds
            ):
                await self._barge_in()
            return
        if self._listening and self._answer is not None:
            paused = self._ear.state is EarState.PAUSED
            if (
                paused and self._ear.pause_seconds >= self._settings.turn_incomplete_stop_seconds
            ) or (self._ear.answer_seconds >= self._plan.max_answer_seconds):
                await self._declare_turn()

    async def _paused(self, now: float) -> None:
        if self._reply is not None:
            # A cough or "mm" over the reply: kept in the answer's audio in case it goes on.
            self.stats.backchannels += 1
            return
        if not self._listening or self._answer is None:
            # Speech over the examiner that stopped short of a barge-in: a backchannel.
            if self._speaking is not None or self._examiner is not None:
                self.stats.backchannels += 1
            self._ear.reset()
            self._answer = None
            return
        answer = self._answer
        answer.speech_ended = now - self._ear.pause_seconds
        answer.audio = self._audio_of(answer)
        # The turn model is asked first: its 50 ms must not wait behind the decode.
        verdict = asyncio.ensure_future(self._engines.turn.completion_probability(answer.audio))
        answer.urgency = Ticket(Urgency.SPECULATIVE)
        self._start_decode(answer)
        self.stats.speculative_decodes += 1
        probability = await verdict
        if probability >= self._settings.turn_complete_threshold and self._answer is answer:
            await self._declare_turn()

    def _audio_of(self, answer: _Answer) -> PCM16:
        """The answer's audio from its first word: anything reopened, then the ear's buffer."""
        heard = self._ear.audio()
        return heard if answer.prefix is None else np.concatenate([answer.prefix, heard])

    def _close_reply(self) -> None:
        """The reply has moved on: what is said from now on is not the last answer."""
        if self._reply is not None:
            self._reply = None
            self._ear.reset()

    async def _go_on(self, answer: _Answer) -> None:
        """The answer whose turn was declared goes on: cancel the reply, listen to the rest."""
        self._reply = None
        if self._speaking is not None:
            await self._stop_speaking(counts_as_said=False)
        elif self._examiner is not None:  # still thinking: its stores run on, shielded
            examiner, self._examiner = self._examiner, None
            examiner.cancel()
            await asyncio.wait([examiner])
            self._held = []
        self._settle_decode(answer)  # what was heard so far stays heard
        self.stats.continuations += 1
        self._answer = answer
        self._amendable = None
        self._plan = answer.plan
        self._listening = True
        self._interruptible = False
        self._quiet_since = self._clock.now()
        await self._out.send_event(
            {
                "type": "listening",
                "max_seconds": answer.plan.max_answer_seconds,
                "resumed": True,
                "continuable": True,
            }
        )

    def _start_decode(self, answer: _Answer) -> None:
        """Decode, with the answer's current urgency, what was heard since the last settled
        piece; ``answer.decode`` joins it to the settled pieces."""
        assert answer.audio is not None
        start = answer.settled[-1].end if answer.settled else 0
        with urgency(answer.urgency):
            task = self._tasks().create_task(self._decode(answer.audio[start:]))
        answer.piece = _Piece(start, answer.audio.size, task, answer.urgency)
        parts = [*answer.settled, answer.piece]
        answer.decode = self._tasks().create_task(self._joined(parts, answer.audio.size))

    @staticmethod
    async def _joined(parts: list[_Piece], samples: int) -> Transcript | NewSpeechError:
        # Shielded: dropping the joined transcript (the answer went on) keeps its pieces.
        heard: list[tuple[float, Transcript]] = []
        for part in parts:
            result = await asyncio.shield(part.decode)
            if isinstance(result, NewSpeechError):
                return result
            heard.append((part.start / SAMPLE_RATE, result))
        return heard[0][1] if len(heard) == 1 else joined(heard, samples / SAMPLE_RATE)

    def _settle_decode(self, answer: _Answer) -> None:
        """The answer goes on after a pause: keep the latest piece's decode if it heard long
        enough (:attr:`LoopSettings.settle_min_seconds`), else drop it (it is decoded again
        with what follows)."""
        piece, minimum = answer.piece, self._settings.settle_min_seconds
        if piece is None:
            return
        if minimum is None or piece.end - piece.start < minimum * SAMPLE_RATE:
            self._drop_decode(answer)
            return
        answer.settled.append(piece)
        answer.piece = None
        if answer.decode is not None:
            answer.decode.cancel()  # the join only
            answer.decode = None
        self.stats.settled_decodes += 1

    def _drop_decode(self, answer: _Answer, *, settled: bool = False) -> None:
        """Cancel the latest piece's decode (and, with ``settled``, the kept ones)."""
        pieces = [answer.piece, *(answer.settled if settled else [])]
        for piece in pieces:
            if piece is not None:
                piece.decode.cancel()
        if answer.decode is not None:
            answer.decode.cancel()
            self.stats.speculative_discarded += 1
        answer.decode = answer.piece = None
        if settled:
            answer.settled = []

    def _discard_decode(self) -> None:
        if self._answer is not None:
            self._drop_decode(self._answer, settled=True)

    async def _decode(self, audio: PCM16) -> Transcript | NewSpeechError:
        try:
            return await self._engines.stt.transcribe(
                audio,
                prompt=self._plan.prompt,
                hotwords=self._plan.hotwords,
                language=self._settings.language,
            )
        except NewSpeechError as exc:
            return exc

    async def _declare_turn(self) -> None:
        answer, self._answer = self._answer, None
        assert answer is not None
        declared = self._clock.now()
        at_limit = answer.decode is None  # max length reached while speaking
        for part in answer.settled:
            part.ticket.promote(Urgency.TURN)  # the student now waits for these decodes
        answer.urgency.promote(Urgency.TURN)
        if at_limit:
            answer.speech_ended = declared
            answer.audio = self._audio_of(answer)
            answer.urgency = Ticket(Urgency.TURN)
            self._start_decode(answer)
        self._listening = False
        if answer.plan.continuable and not at_limit:
            self._reply = answer  # the ear keeps listening to this answer
        else:
            self._ear.reset()
        self._amendable = answer if answer.plan.continuable else None
        self.stats.turns += 1
        self._spawn_examiner(self._respond(answer, declared))

    # -- the examiner ----------------------------------------------------------------------

    def _tasks(self) -> asyncio.TaskGroup:
        assert self._tg is not None, "the session is not running"
        return self._tg

    def _start_examiner(self, call: Awaitable[ExaminerTurn], *, reason: str | None = None) -> None:
        self._spawn_examiner(self._examine(call, reason))

    def _spawn_examiner(self, work: Coroutine[Any, Any, None]) -> None:
        examiner = self._tasks().create_task(work)
        self._examiner = examiner

        def finished(task: asyncio.Task[None]) -> None:
            if self._examiner is task:
                self._examiner = None

        examiner.add_done_callback(finished)

    async def _examine(
        self, call: Awaitable[ExaminerTurn], reason: str | None, timings: TurnTimings | None = None
    ) -> None:
        turn = await self._think(self._begin_store(call))
        await self._perform(turn, reason, timings)

    async def _think(self, stored: asyncio.Future[ExaminerTurn]) -> ExaminerTurn:
        """Await the examiner's reply (a barge-in or disconnect never cuts it short), saying
        meanwhile what the conversation asks to be said at once (a technical pause while the
        reply waits for the database). That speech is the examiner's like any other (the
        answer going on over it withdraws it) but not a barge-in's to interrupt."""
        self._thinking = True
        try:
            while True:
                said = asyncio.ensure_future(self._meanwhile.get())
                try:
                    await asyncio.wait({stored, said}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    if not said.done():
                        said.cancel()
                if said.done() and not said.cancelled():
                    meanwhile = said.result()
                    self._interruptible = False
                    await self._send_events(meanwhile)
                    for utterance in meanwhile.utterances:
                        await self._say(utterance, None)
                    continue
                return stored.result()
        finally:
            self._thinking = False

    async def _store(self, call: Awaitable[T]) -> T:
        """Await a conversation call that must not be cut short by a barge-in or disconnect."""
        return await asyncio.shield(self._begin_store(call))

    def _begin_store(self, call: Awaitable[T]) -> asyncio.Future[T]:
        future = asyncio.ensure_future(call)
        self._in_flight.add(future)
        future.add_done_callback(self._in_flight.discard)
        return future

    async def _respond(self, answer: _Answer, declared: float) -> None:
        assert answer.decode is not None
        assert answer.audio is not None
        result = await answer.decode
        ready = self._clock.now()
        if isinstance(result, NewSpeechError) or not result.text.strip():
            if isinstance(result, NewSpeechError):
                await self._error(result)
            # Nothing to answer (or noise with no words in it): listen again.
            await self._perform(ExaminerTurn(), None, None)
            return
        await self._out.send_event(
            {
                "type": "transcript",
                "final": True,
                "text": result.text,
                "confidence": result.confidence,
            }
        )
        timings = TurnTimings(
            speech_started=answer.speech_started,
            speech_ended=answer.speech_ended,
            turn_declared=declared,
            transcript_ready=ready,
        )
        heard = HeardAnswer(transcript=result, pcm=answer.audio.tobytes(), timings=timings)
        if answer.stored is None:
            call = self._conversation.answer(heard)
        else:  # the answer went on: the whole of it replaces what was taken
            await answer.stored
            call = self._conversation.amend(heard)
        answer.stored = self._begin_store(call)
        turn = await self._think(answer.stored)
        timings = dataclasses.replace(timings, grade_ready=self._clock.now())
        await self._perform(turn, None, timings)

    async def _perform(
        self, turn: ExaminerTurn, reason: str | None, timings: TurnTimings | None
    ) -> None:
        while self._deferred is not None:  # a control arrived while the examiner was thinking
            command, self._deferred = self._deferred, None
            if turn.finished:  # ... and the sitting ended meanwhile: nothing left to control
                await self._exam_over()
                break
            await self._send_events(turn)
            reason = "ended_by_student" if command is Control.END else None
            turn = await self._think(self._begin_store(self._conversation.control(command)))
            timings = None
        self._listening = False
        self._closing = turn.finished
        # The student may talk over a turn that then listens; the closing words are heard out.
        self._interruptible = turn.listen and not turn.finished
        await self._send_events(turn, hold=True)
        for utterance in turn.utterances:
            if utterance.kind in ASKED_WHEN_SPOKEN:
                await self._release_held()
            timings = await self._say(utterance, timings)
        await self._release_held()
        if turn.finished:
            self._close_reply()
            self.end_reason = turn.end_reason or reason or "completed"
            await self._out.send_event({"type": "ended", "reason": self.end_reason})
            self._done.set()
        elif turn.listen:
            self._open_mic()

    async def _send_events(self, turn: ExaminerTurn, *, hold: bool = False) -> None:
        """Send the turn's events; with ``hold``, a question (and its case) waits until it is
        spoken: an answer that goes on over the feedback withdraws the question unheard."""
        self._held = []
        for event in turn.events:
            if event.get("type") == "question" and isinstance(event.get("number"), int):
                self._question_number = event["number"]
            if hold and event.get("type") in ("question", "scenario"):
                self._held.append(event)
            else:
                await self._out.send_event(event)

    async def _release_held(self) -> None:
        held, self._held = self._held, []
        for event in held:
            await self._out.send_event(event)

    async def _say(self, utterance: Utterance, timings: TurnTimings | None) -> TurnTimings | None:
        speaking = _Speaking(utterance, next(self._ids))
        await self._out.send_event(
            {
                "type": "speaking",
                "utterance_id": speaking.utterance_id,
                "kind": utterance.kind.value,
                "text": utterance.text,
            }
        )
        self._speaking = speaking
        lead = self._settings.lead_seconds
        async with contextlib.aclosing(self._engines.speaker.chunks(utterance)) as chunks:
            async for chunk in chunks:
                if speaking.started is None:
                    speaking.started = self._clock.now()
                wait = speaking.started + speaking.sent - lead - self._clock.now()
                if wait > 0:
                    await self._clock.sleep(wait)
                await self._out.send_audio(chunk.pcm)
                speaking.sent += chunk.seconds
                if timings is not None:
                    self._report(dataclasses.replace(timings, first_audio_sent=self._clock.now()))
                    timings = None
        self._speaking = None
        await self._out.send_event({"type": "speaking_done", "utterance_id": speaking.utterance_id})
        return timings

    def _report(self, timings: TurnTimings) -> None:
        event: dict[str, Any] = {"type": "latency", "question_number": self._question_number}
        event.update(timings.milliseconds())

        async def report() -> None:
            await self._out.send_event(event)
            await self._store(self._conversation.turn_measured(timings))

        self._tasks().create_task(report())

    def _open_mic(self) -> None:
        # Speech already under way as the examiner finishes (too short so far to take back
        # the reply) is the start of the answer now listened for: keep its first words.
        carried = self._ear.state is EarState.SPEAKING
        if carried:
            self._reply = None
            self._ear.keep_current_segment()
        else:
            self._close_reply()
        self._listening = True
        self._plan = self._conversation.listen_plan()
        self._quiet_since = self._clock.now()
        if carried:
            self._answer = _Answer(self._quiet_since - self._ear.answer_seconds, self._plan)
            self._amendable = None
        self._tasks().create_task(
            self._out.send_event(
                {
                    "type": "listening",
                    "max_seconds": self._plan.max_answer_seconds,
                    "continuable": self._plan.continuable,
                }
            )
        )
        self._end_if_drained()

    async def _stop_speaking(self, *, counts_as_said: bool = True) -> _Speaking | None:
        """Cancel the examiner's speech now; returns what was being said (None if silent).
        ``counts_as_said``: the interrupted utterance was heard (a barge-in), not withdrawn
        (the answer it replied to went on)."""
        speaking, examiner = self._speaking, self._examiner
        if speaking is None or examiner is None:
            return None
        decided = self._clock.now()
        examiner.cancel()
        await asyncio.wait([examiner])
        self.stats.stop_seconds.append(self._clock.now() - decided)
        self._speaking = self._examiner = None
        played = 0.0 if speaking.started is None else self._clock.now() - speaking.started
        played = max(0.0, min(speaking.sent, played))
        await self._out.send_event(
            {
                "type": "flush",
                "utterance_id": speaking.utterance_id,
                "played_ms": round(played * 1000),
                "stop_ms": round(self.stats.stop_seconds[-1] * 1000, 1),
            }
        )
        if counts_as_said:  # what was cut short counts as asked: the client is told of it
            await self._release_held()
            await self._store(self._conversation.interrupted(speaking.utterance, played))
        else:
            self._held = []
        return speaking

    async def _barge_in(self) -> None:
        if await self._stop_speaking() is None:
            return
        self.stats.barge_ins += 1
        self._open_mic()
        if self._answer is None:
            self._answer = _Answer(self._clock.now() - self._ear.segment_seconds, self._plan)
            self._amendable = None
        else:  # begun over the examiner: it answers what the examiner now listens for
            self._answer.plan = self._plan

    async def _control(self, command: Control) -> None:
        if self._closing and not (command is Control.CONTINUE and self._reply is not None):
            # The sitting is over and the examiner says its last words: a button pressed now
            # changes nothing (and must not cut the goodbye short or reopen the sitting).
            await self._exam_over()
            return
        if command is Control.CONTINUE:
            await self._continue_on_request()
            return
        self._amendable = None
        self._close_reply()
        if self._examiner is not None and (self._speaking is None or self._thinking):
            self._deferred = command  # thinking: handled as soon as its turn is stored
            return
        await self._stop_speaking()
        self._discard_decode()
        self._ear.reset()
        self._answer = None
        self._listening = False
        reason = "ended_by_student" if command is Control.END else None
        self._start_examiner(self._conversation.control(command), reason=reason)

    async def _exam_over(self) -> None:
        await self._out.send_event(
            {
                "type": "error",
                "error": "exam_over",
                "detail": "the exam has ended; the examiner is saying goodbye",
            }
        )

    async def _continue_on_request(self) -> None:
        """ "I haven't finished": reopen the answer just given, if the next has not begun."""
        answer = self._reply if self._reply is not None else self._amendable
        if answer is None or self._answer is not None:
            await self._out.send_event(
                {
                    "type": "error",
                    "error": "nothing_to_continue",
                    "detail": "there is no answer to go on with now",
                }
            )
            return
        # What was heard of the answer comes first; the ear starts afresh for the rest (a
        # pause so far must not count towards ending it again at once).
        answer.prefix = self._audio_of(answer) if self._reply is not None else answer.audio
        self._reply = None
        self._ear.reset()
        await self._go_on(answer)

    async def _error(self, error: NewSpeechError) -> None:
        await self._out.send_event({"type": "error", "error": error.code, "detail": error.detail})

    async def _watch(self) -> None:
        """Silence prompts: nothing said for the plan's time since the examiner stopped."""
        while True:
            await self._clock.sleep(self._settings.tick_seconds)
            if not self._listening or self._examiner is not None:
                continue
            self._end_if_drained()
            waited = self._clock.now() - self._quiet_since
            if self._answer is not None:
                if (
                    self._ear.state is EarState.QUIET
                    and waited >= self._plan.silence_prompt_seconds
                ):
                    await self._declare_turn()  # reopened, then nothing more was said
                continue
            if waited >= self._plan.silence_prompt_seconds:
                self._listening = False
                self._amendable = None
                self._start_examiner(self._conversation.silence(waited))
