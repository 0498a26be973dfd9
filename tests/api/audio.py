"""Stored answer audio for API tests: a real Ogg/Opus recording in the app's own store."""

from __future__ import annotations

import numpy as np
from sqlalchemy import select

from newspeech.answers.audio.repository import AnswerAudioRepository
from newspeech.answers.audio.service import CONTENT_TYPE, audio_key
from newspeech.models import Answer
from newspeech.storage import AudioStore
from newspeech.voice.audio import encode_ogg_opus
from newspeech.voice.protocols import SAMPLE_RATE
from tests.fixtures.api import Api

_TONE = (8000 * np.sin(2 * np.pi * 220 * np.arange(3 * SAMPLE_RATE) / SAMPLE_RATE)).astype(np.int16)
RECORDING = encode_ogg_opus(_TONE)


def audio_store(api: Api) -> AudioStore:
    store: AudioStore = api.app.state.audio_store
    return store


async def give_audio(api: Api, exam_session_id: int) -> int:
    """Store a recording for the sitting's first answer; its id."""
    async with api.sessionmaker() as db:
        answer = (
            await db.scalars(
                select(Answer).where(Answer.session_id == exam_session_id).order_by(Answer.id)
            )
        ).first()
        assert answer is not None
        key = audio_key(exam_session_id, answer.id)
        await audio_store(api).put(key, RECORDING, CONTENT_TYPE)
        await AnswerAudioRepository(db).set_path(answer.id, key, transcript=answer.transcribed_text)
        await db.commit()
        return answer.id
