"""One MiniLM embedder for every grading test module (it loads in about a second)."""

from __future__ import annotations

import pytest

from newspeech.grading.embeddings import MiniLMEmbedder


@pytest.fixture(scope="session")
def minilm() -> MiniLMEmbedder:
    return MiniLMEmbedder()
