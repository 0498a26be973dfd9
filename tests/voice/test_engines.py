from __future__ import annotations

from pathlib import Path

import pytest

from newspeech.config import Settings
from newspeech.observability.metrics import Metrics
from newspeech.voice.engines import check_model_files, load_speech_engines
from newspeech.voice.remote import OpenAISpeechToText
from newspeech.voice.remote_tts import OpenAITextToSpeech
from newspeech.voice.stt import WhisperSpeechToText
from newspeech.voice.tts import EspeakTextToSpeech, PiperTextToSpeech
from tests.observability.test_metrics import sample


def settings(tmp_path: Path, **overrides: object) -> Settings:
    return Settings(environment="test", data_dir=tmp_path, **overrides)  # type: ignore[arg-type]


async def test_default_engines_are_offline_and_shared(tmp_path: Path) -> None:
    engines = await load_speech_engines(settings(tmp_path, inference_workers=2))
    try:
        assert isinstance(engines.stt, WhisperSpeechToText)
        assert isinstance(engines.tts, PiperTextToSpeech)
        assert isinstance(engines.fallback_tts, EspeakTextToSpeech)
        assert engines.http is None
        assert engines.stt.pool is engines.pool  # one bounded pool for every model
        assert engines.pool.workers == 2
        warm = await engines.warm_up()
        assert set(warm) == {"vad", "turn", "stt", "tts", "fallback_tts"}
        # The warm-up decodes ran on CTranslate2's own threads, claimed as the decoder's,
        # not on the pool's (which only waited for them).
        metrics = Metrics()
        metrics.watch_engine_threads(engines.threads)
        exposition = metrics.exposition().decode()
        decoder = sample(
            exposition, "newspeech_engine_thread_cpu_seconds_total", component="decode"
        )
        assert decoder is not None
        assert decoder > 0.05
        assert "tts" in engines.threads.cpu_seconds()  # ONNX Runtime's intra-op thread
        loop = sample(exposition, "newspeech_event_loop_cpu_seconds_total")
        assert loop is not None
        assert loop > 0
    finally:
        await engines.aclose()


async def test_remote_engines_need_no_local_models_and_share_one_http_client(
    tmp_path: Path,
) -> None:
    engines = await load_speech_engines(
        settings(
            tmp_path,
            stt_engine="openai",
            tts_engine="openai",
            speech_api_url="http://127.0.0.1:9/v1",
        )
    )
    try:
        assert isinstance(engines.stt, OpenAISpeechToText)
        assert isinstance(engines.tts, OpenAITextToSpeech)
        assert engines.http is not None
        assert engines.describe["stt"] == "openai-compatible whisper-1 at http://127.0.0.1:9/v1"
        # Remote clients have nothing to warm: only the local VAD, turn model and espeak-ng run.
        assert set(await engines.warm_up()) == {"vad", "turn", "fallback_tts"}
    finally:
        await engines.aclose()
    assert engines.http.is_closed


async def test_espeak_as_the_main_voice_has_no_fallback(tmp_path: Path) -> None:
    engines = await load_speech_engines(settings(tmp_path, tts_engine="espeak"))
    try:
        assert isinstance(engines.tts, EspeakTextToSpeech)
        assert engines.fallback_tts is None
    finally:
        await engines.aclose()


def test_remote_engine_without_a_server_is_a_settings_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="NEWSPEECH_SPEECH_API_URL"):
        settings(tmp_path, stt_engine="openai")


def test_model_files_are_checked_for_the_chosen_whisper_model(tmp_path: Path) -> None:
    check_model_files(settings(tmp_path, whisper_model="base"))
    assert (tmp_path / "models" / "whisper-base" / "model.bin").is_file()
