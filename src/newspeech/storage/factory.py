"""The configured :class:`AudioStore`."""

from __future__ import annotations

import logging

from newspeech.config import Settings
from newspeech.errors import ConfigurationError
from newspeech.storage.local import LocalAudioStore
from newspeech.storage.protocols import AudioStore, StorageFailed
from newspeech.storage.s3 import S3AudioStore, S3Location

logger = logging.getLogger(__name__)


async def check_audio_store(store: AudioStore) -> None:
    """At start-up: a store that cannot work as configured (no such bucket, refused
    credentials, an unwritable folder) stops it with one clear line; one that is only
    unreachable for now is logged, since answers are kept without their audio meanwhile."""
    try:
        await store.check()
    except StorageFailed as exc:
        if not exc.retryable:
            raise ConfigurationError(f"answer audio store ({store.name}): {exc.detail}") from exc
        logger.warning("answer audio store (%s) unreachable for now: %s", store.name, exc.detail)


def audio_store_from_settings(settings: Settings) -> AudioStore:
    if settings.audio_store == "local":
        return LocalAudioStore(settings.audio_folder)
    assert settings.audio_s3_bucket is not None  # checked when the settings were read
    secret = settings.audio_s3_secret_key
    return S3AudioStore(
        S3Location(
            bucket=settings.audio_s3_bucket,
            endpoint_url=settings.audio_s3_endpoint_url,
            region=settings.audio_s3_region,
            access_key=settings.audio_s3_access_key,
            secret_key=None if secret is None else secret.get_secret_value(),
            prefix=settings.audio_s3_prefix,
            addressing_style=settings.audio_s3_addressing_style,
            timeout_seconds=settings.audio_s3_timeout_seconds,
        )
    )
