"""Every benchmark under bench/ still imports: they are not run by the suite (they measure,
on demand), so a moved helper would otherwise break one silently."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.mark.parametrize(
    "module", sorted(p.stem for p in BENCH.glob("*.py") if p.stem != "__init__")
)
def test_the_benchmark_imports(module: str) -> None:
    importlib.import_module(f"bench.{module}")
