"""What each speech engine reads from the application's settings, as protocols.

``newspeech.config.Settings`` has every one of these fields; the voice engine names only the ones
it uses, so it never imports the settings module (nor, through it, the rest of the product).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Protocol

from pydantic import SecretStr


class WhisperSettings(Protocol):
    """``NEWSPEECH_WHISPER_*``: the local speech-to-text model."""

    @property
    def whisper_model(self) -> Literal["tiny.en", "base"]: ...
    @property
    def whisper_compute_type(self) -> Literal["int8", "int8_float32", "float32"]: ...
    @property
    def whisper_beam_size(self) -> int: ...
    @property
    def models_dir(self) -> Path: ...


class RemoteSpeechSettings(Protocol):
    """``NEWSPEECH_SPEECH_*``, ``NEWSPEECH_STT_REMOTE_MODEL``, ``NEWSPEECH_TTS_REMOTE_*``: engines
    on an OpenAI-compatible server."""

    @property
    def speech_api_url(self) -> str | None: ...
    @property
    def speech_api_key(self) -> SecretStr | None: ...
    @property
    def speech_timeout_seconds(self) -> float: ...
    @property
    def speech_retries(self) -> int: ...
    @property
    def stt_remote_model(self) -> str: ...
    @property
    def tts_remote_model(self) -> str: ...
    @property
    def tts_remote_voice(self) -> str: ...


class SpeechSettings(WhisperSettings, RemoteSpeechSettings, Protocol):
    """Which engines the process loads, and how many inference threads they share."""

    @property
    def stt_engine(self) -> Literal["whisper", "openai"]: ...
    @property
    def tts_engine(self) -> Literal["piper", "espeak", "openai"]: ...
    @property
    def espeak_voice(self) -> str: ...
    @property
    def inference_workers(self) -> int | None: ...

    @property
    def tts_clause_cache_mb(self) -> int: ...
    @property
    def tts_disk_cache_mb(self) -> int: ...
    @property
    def phrases_folder(self) -> Path: ...


class TurnTakingSettings(Protocol):
    """``NEWSPEECH_VAD_*``, ``NEWSPEECH_TURN_*``, barge-in and the examiner's audio lead."""

    @property
    def vad_threshold(self) -> float: ...
    @property
    def vad_start_seconds(self) -> float: ...
    @property
    def vad_stop_seconds(self) -> float: ...
    @property
    def turn_complete_threshold(self) -> float: ...
    @property
    def turn_incomplete_stop_seconds(self) -> float: ...
    @property
    def barge_in_min_ms(self) -> int: ...
    @property
    def tts_lead_seconds(self) -> float: ...
