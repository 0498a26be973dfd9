"""Object storage for recorded audio: one small port, a local folder by default, any
S3-compatible store by setting."""

from newspeech.storage.protocols import (
    AudioStore,
    ObjectMissing,
    StorageFailed,
    check_key,
)

__all__ = ["AudioStore", "ObjectMissing", "StorageFailed", "check_key"]
