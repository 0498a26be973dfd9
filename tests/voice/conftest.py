"""The engines the voice tests share: loaded once per module (``speech``: once per run)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from newspeech.config import Settings
from newspeech.voice.engines import SpeechEngines, load_speech_engines
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


@pytest.fixture(scope="session")
async def speech(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SpeechEngines]:
    """All the offline engines, loaded and warmed once for the session loop's tests and the
    turn set (test_session.py, test_turn_set.py): both only read them, each building its own
    session engines on top."""
    settings = Settings(environment="test", data_dir=tmp_path_factory.mktemp("speech"))
    engines = await load_speech_engines(settings)
    await engines.warm_up()
    yield engines
    await engines.aclose()
