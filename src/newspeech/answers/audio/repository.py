"""Queries over ``answers.answer_audio_path``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from newspeech.models import Answer, ExamSession


@dataclass(frozen=True)
class AnswerAudioRow:
    """An answer as far as its audio goes: the key, and who may hear it."""

    answer_id: int
    exam_session_id: int
    key: str | None
    college_type: str
    owner_id: int
    created_at: dt.datetime
    transcript: str | None
    """What the take stored with the row said (what a spooled take is matched on)."""


_COLUMNS = (
    Answer.id,
    Answer.session_id,
    Answer.answer_audio_path,
    ExamSession.college_type,
    ExamSession.user_id,
    Answer.created_at,
    Answer.transcribed_text,
)


class AnswerAudioRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def get(self, answer_id: int) -> AnswerAudioRow | None:
        query = (
            select(*_COLUMNS)
            .join(ExamSession, ExamSession.id == Answer.session_id)
            .where(Answer.id == answer_id)
        )
        row = (await self.db.execute(query)).first()
        return None if row is None else AnswerAudioRow(*row)

    async def set_path(self, answer_id: int, key: str | None, *, transcript: str | None) -> bool:
        """Save the key if the answer still says ``transcript`` (checked in the update itself,
        so a take committed meanwhile wins); whether it was saved."""
        result = await self.db.execute(
            update(Answer)
            .where(Answer.id == answer_id, Answer.transcribed_text.is_not_distinct_from(transcript))
            .values(answer_audio_path=key)
        )
        return bool(getattr(result, "rowcount", 0))

    async def stored_before(
        self, cutoff: dt.datetime, *, after_id: int = 0, limit: int = 500
    ) -> list[AnswerAudioRow]:
        """Answers created before ``cutoff`` that still have audio, in id order from
        ``after_id`` (keyset pages: a failed delete is not met again in the same run)."""
        query = (
            select(*_COLUMNS)
            .join(ExamSession, ExamSession.id == Answer.session_id)
            .where(
                Answer.answer_audio_path.is_not(None),
                Answer.created_at < cutoff,
                Answer.id > after_id,
            )
            .order_by(Answer.id)
            .limit(limit)
        )
        return [AnswerAudioRow(*row) for row in await self.db.execute(query)]

    async def clear_paths(self, answer_ids: Sequence[int]) -> None:
        if answer_ids:
            await self.db.execute(
                update(Answer).where(Answer.id.in_(answer_ids)).values(answer_audio_path=None)
            )
