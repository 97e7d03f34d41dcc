"""Load a script of the repository's bench/ folder as a module, for the tests that keep the commands
BENCHMARKS.md quotes from rotting (skips where the package runs without its repository)."""
from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

BENCH_DIR = Path(__file__).resolve().parents[3] / "bench"


def load_bench(name: str) -> ModuleType:
    """``bench/<name>.py`` imported under ``name``."""
    path = BENCH_DIR / f"{name}.py"
    if not path.is_file():
        pytest.skip(f"{path} is not in this checkout (an installed package without the repo)")
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
