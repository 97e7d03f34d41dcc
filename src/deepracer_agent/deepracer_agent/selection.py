"""Checkpoint selection: prefer a run of consistently good checkpoints over a single lucky one.

The paper (Fig. 6) shows robust-evaluation success jumping up and down between neighbouring
checkpoints; a checkpoint that scores 10/10 once between two 3/10 neighbours is likely lucky. So:

1. Order the robust-evaluated checkpoints by training iteration.
2. Score every window of ``k`` consecutive checkpoints (``k = min(window, number of checkpoints)``)
   by its WORST robust success rate, then its mean success rate, then its position (later wins).
3. In the best window, choose the checkpoint with the highest robust success rate; ties go to the
   higher mean completion, then the lower mean lap time, then the later checkpoint.

The result goes to ``run_dir/selected_checkpoint.json`` and ``run_dir/best.zip`` (a copy of the
chosen checkpoint, written atomically), which ``deepracer export run_dir/best.zip`` turns into a
model artifact (``model_metadata.json`` is beside it in the run folder).
"""
from __future__ import annotations

import math
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

from deepracer_common.fileio import atomic_path, atomic_write_json

SELECTED_JSON = "selected_checkpoint.json"
BEST_ZIP = "best.zip"


@dataclass(frozen=True)
class CheckpointScore:
    """Robust-evaluation result of one checkpoint: success rate in [0, 1], mean completion in %,
    mean lap time in seconds over the lapped trials (None if none lapped)."""

    path: str
    iteration: int | None
    success_rate: float
    mean_completion: float = 0.0
    mean_lap_time_s: float | None = None


@dataclass(frozen=True)
class Selection:
    path: str
    iteration: int | None
    success_rate: float
    window: tuple[str, ...]            # the checkpoints of the winning window, oldest first
    window_min_success: float
    window_mean_success: float
    reason: str


def _order(scores: Sequence[CheckpointScore]) -> list[CheckpointScore]:
    return sorted(scores, key=lambda s: (s.iteration if s.iteration is not None else -1, s.path))


def select_checkpoint(scores: Sequence[CheckpointScore], window: int = 3) -> Selection:
    """Apply the rule of the module docstring; ``scores`` must not be empty."""
    if not scores:
        raise ValueError("select_checkpoint: no scored checkpoints")
    if window < 1:
        raise ValueError(f"select_checkpoint: window must be >= 1, got {window}")
    ordered = _order(scores)
    k = min(window, len(ordered))
    best_key, best_start = None, 0
    for start in range(len(ordered) - k + 1):
        rates = [s.success_rate for s in ordered[start:start + k]]
        key = (min(rates), sum(rates) / k, start)
        if best_key is None or key > best_key:
            best_key, best_start = key, start
    win = ordered[best_start:best_start + k]

    def rank(item: tuple[int, CheckpointScore]) -> tuple:
        pos, s = item
        lap = s.mean_lap_time_s if s.mean_lap_time_s is not None and math.isfinite(s.mean_lap_time_s) else math.inf
        return (s.success_rate, s.mean_completion, -lap, pos)

    _, chosen = max(enumerate(win), key=rank)
    assert best_key is not None
    reason = (f"best {k}-checkpoint window {Path(win[0].path).name}..{Path(win[-1].path).name}: "
              f"worst robust success {best_key[0]:.0%}, mean {best_key[1]:.0%}; "
              f"chosen inside it: robust success {chosen.success_rate:.0%}")
    return Selection(chosen.path, chosen.iteration, chosen.success_rate, tuple(s.path for s in win),
                     best_key[0], best_key[1], reason)


def write_selection(run_dir: str | Path, selection: Selection) -> Path:
    """``selected_checkpoint.json`` and a copy of the checkpoint as ``best.zip`` (both atomic)."""
    run_dir = Path(run_dir)
    best = run_dir / BEST_ZIP
    src = Path(selection.path)
    if src.is_file() and src.resolve() != best.resolve():
        with atomic_path(best) as tmp:
            shutil.copyfile(src, tmp)
    data = asdict(selection) | {"best_zip": str(best)}
    data["window"] = list(selection.window)
    return atomic_write_json(run_dir / SELECTED_JSON, data)
