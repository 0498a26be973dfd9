from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from newspeech.storage import AudioStore


def get_audio_store(request: Request) -> AudioStore:
    store: AudioStore = request.app.state.audio_store
    return store


AudioStoreDep = Annotated[AudioStore, Depends(get_audio_store)]
