"""A sitting's side of a database outage: its held writes (``newspeech.exams.outage``), and
when the candidate is told there is a short technical pause and that it is over.

The pause is said once per outage: at the start of the next reply, or at once (through the
session loop's :data:`~newspeech.voice.conversation.SayMeanwhile`) when the reply itself must
wait for the database (the result needs every answer stored, or the buffer is full).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from newspeech.exams.outage import PAUSE_TEXT, HeldAnswer, HeldEvaluation, HeldWrites
from newspeech.voice.conversation import ExaminerTurn, SayMeanwhile, Utterance, UtteranceKind


class TechnicalPause:
    def __init__(self, writes: HeldWrites) -> None:
        self.writes = writes
        self._paused = False
        """The database went away and the candidate has been told (or is about to be)."""
        self._due = False
        """... and is still to be told."""
        self._say_meanwhile: SayMeanwhile | None = None

    def speak_meanwhile(self, say: SayMeanwhile) -> None:
        self._say_meanwhile = say

    async def essential(self, call: Callable[[], Awaitable[None]]) -> None:
        """A write the sitting cannot do without: now, or held until the database is back."""
        was_holding = self.writes.holding
        if await self.writes.write_or_hold(call) and not was_holding:
            self._begin()

    async def hold(self, held: HeldAnswer | HeldEvaluation) -> None:
        if not self.writes.holding:
            self._begin()
        if self.writes.full:  # the reply waits for the database: say why now
            self.say_now()
        await self.writes.hold(held)

    def say_now(self) -> None:
        """The pause, said at once (not with the reply) when the reply must wait for the
        database; nothing if it was said already or there is no loop to say it."""
        if self._say_meanwhile is None:
            return
        said, told = self.notice()
        if said:
            self._say_meanwhile(ExaminerTurn(utterances=tuple(said), events=tuple(told)))

    def _begin(self) -> None:
        if not self._paused:
            self._paused = self._due = True

    async def catch_up(self) -> list[Mapping[str, Any]]:
        """Write what was held if the database is back; the ``technical_pause_over`` event
        once nothing is held any more."""
        if self.writes.holding:
            await self.writes.flush()
        if not self._paused or self.writes.holding:
            return []
        self._paused = False  # a pause not yet told (``_due``) is still told, before this event
        return [{"type": "technical_pause_over", "kept": self.writes.kept_total}]

    def notice(self) -> tuple[list[Utterance], list[Mapping[str, Any]]]:
        """The pause's words and ``technical_pause`` event, if they are due (then not again
        until the next outage)."""
        if not self._due:
            return [], []
        self._due = False
        event = {"type": "technical_pause", "reason": "database_unavailable"}
        return [Utterance(PAUSE_TEXT, UtteranceKind.PROMPT, cacheable=True)], [event]
