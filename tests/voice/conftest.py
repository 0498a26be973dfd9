"""The Whisper engines the speech-to-text tests share: each test module loads them once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from newspeech.config import Settings
from newspeech.voice.pool import InferencePool
from newspeech.voice.stt import WhisperSpeechToText


@pytest.fixture(scope="module")
def pool() -> Iterator[InferencePool]:
    pool = InferencePool()
    yield pool
    pool.close()


@pytest.fixture(scope="module")
def tiny(pool: InferencePool, tmp_path_factory: pytest.TempPathFactory) -> WhisperSpeechToText:
    settings = Settings(environment="test", data_dir=tmp_path_factory.mktemp("tiny"))
    return WhisperSpeechToText.from_settings(settings, pool=pool)


@pytest.fixture(scope="module")
def base(pool: InferencePool, tmp_path_factory: pytest.TempPathFactory) -> WhisperSpeechToText:
    settings = Settings(
        environment="test", data_dir=tmp_path_factory.mktemp("base"), whisper_model="base"
    )
    return WhisperSpeechToText.from_settings(settings, pool=pool)
