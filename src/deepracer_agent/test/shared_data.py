"""Where the official AWS files (route .npy, worlds) live for tests: ``$DEEPRACER_SHARED`` if set, else
the first ``shared/`` folder found beside the repository or one of its parents (``/work/shared`` from
a worktree or from /work/main, ``../shared`` in CI). Tests skip with the reason when it is absent."""
from __future__ import annotations

import os
from pathlib import Path

import pytest


def shared_dir() -> Path | None:
    env = os.environ.get("DEEPRACER_SHARED")
    if env:
        return Path(env) if Path(env).is_dir() else None
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "shared"
        if candidate.is_dir() and (candidate / "tracks").is_dir():
            return candidate
    return None


def shared_path(*parts: str) -> Path:
    """A file under the shared folder, or pytest.skip naming what is missing."""
    base = shared_dir()
    if base is None:
        pytest.skip("official AWS files not found: set DEEPRACER_SHARED or put shared/ beside the repository")
    path = base.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not found")
    return path
