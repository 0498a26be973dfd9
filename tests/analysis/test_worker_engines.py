"""How ``newspeech worker`` loads Whisper: a worker transcribes a job's pieces one after
another, so it gets one decoder per job it runs at once (each with its share of the cores),
not the exam server's decoder per core."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from newspeech.analysis.jobs.worker import worker_speech_to_text
from newspeech.config import Settings
from newspeech.voice.pool import InferencePool
from newspeech.voice.stt import available_cores


@pytest.fixture
def pool() -> Iterator[InferencePool]:
    pool = InferencePool(4)
    yield pool
    pool.close()


@pytest.mark.parametrize("concurrency", [1, 2, 8])
def test_a_worker_has_one_decoder_per_job_at_once(pool: InferencePool, concurrency: int) -> None:
    settings = Settings(environment="test", speech_enabled=False)

    stt = worker_speech_to_text(settings, pool, concurrency)

    expected = min(concurrency, available_cores())
    assert stt.num_workers == stt.model.model.num_workers == expected
