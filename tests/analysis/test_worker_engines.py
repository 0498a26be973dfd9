"""How ``newspeech worker`` loads Whisper: a decoder per core (one thread each), and each job
it runs at once decodes its share of them in parallel (a recording's 30 s chunks), where the
exam server decodes a long answer's chunks one at a time."""

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
def test_a_worker_has_a_decoder_per_core_shared_among_its_jobs(
    pool: InferencePool, concurrency: int
) -> None:
    settings = Settings(environment="test", speech_enabled=False)

    stt = worker_speech_to_text(settings, pool, concurrency)

    cores = available_cores()
    assert stt.num_workers == stt.model.model.num_workers == cores
    assert stt.chunk_workers == max(1, cores // concurrency)


@pytest.mark.parametrize(
    ("cores", "concurrency", "chunk_workers"), [(1, 1, 1), (3, 1, 3), (3, 2, 1)]
)
def test_a_worker_decodes_on_as_many_cores_as_its_setting_says(
    pool: InferencePool, cores: int, concurrency: int, chunk_workers: int
) -> None:
    settings = Settings(environment="test", speech_enabled=False, analysis_worker_cores=cores)

    stt = worker_speech_to_text(settings, pool, concurrency)

    assert stt.num_workers == stt.model.model.num_workers == cores
    assert stt.chunk_workers == chunk_workers
