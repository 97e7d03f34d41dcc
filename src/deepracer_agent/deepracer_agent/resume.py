"""Deciding how a training run (re)starts in its run folder, before anything in it is changed.

:func:`plan` only reads; :func:`apply` makes the few changes a resume needs, and ``train`` calls it
after the checkpoint has been loaded into a model (validate first, write last). The rules:

- a fresh start (no ``--resume``) needs a folder without checkpoints or metrics;
- ``--resume`` continues from the newest VALID checkpoint (zip + sidecar whose size and sha256
  match). Invalid ones (torn zip, missing or unreadable sidecar, checksum mismatch, sidecar without
  zip) are moved to ``checkpoints/invalid/`` with a message, so ``keep_last`` pruning never weighs a
  corrupt checkpoint against a valid one and nothing is deleted;
- ``--resume`` with checkpoints but none valid, or with metrics rows but no checkpoint at all, is
  refused (it would restart at iteration 1 and drop the history) and nothing is changed;
- metrics rows after the resumed checkpoint (written by the killed run after its last checkpoint)
  are dropped with a message saying how many;
- hidden temp files that only a training writes (``.iter_*.tmp-*``, ``.metrics.*.tmp-*``, ...) and a
  killed or disk-full run left behind are removed at start (:func:`clean_stale_temp`; the caller holds
  the run lock, so no live training owns them).
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .run_folder import (CHECKPOINT_DIR, CHECKPOINT_RE, METADATA_FILE, METRICS_CSV, METRICS_JSONL, RESOLVED_CONFIG,
                         STATUS_FILE, TrainError, read_metrics, rewrite_metrics, sha256_file)

INVALID_DIR = "invalid"
_TEMP_RE = re.compile(r"^\.(iter_\d{6,}|" + "|".join(re.escape(n) for n in (
    METRICS_CSV, METRICS_JSONL, RESOLVED_CONFIG, METADATA_FILE, STATUS_FILE)) + r")\..*tmp-\d+.*$")


@dataclass
class ResumePlan:
    """What :func:`apply` will do and where training continues."""

    start_iteration: int = 0
    wall_offset_s: float = 0.0
    load_from: Path | None = None
    invalid: list[tuple[Path, str]] = field(default_factory=list)   # (zip or sidecar, reason)
    keep_rows: list[dict[str, Any]] | None = None                    # None: metrics untouched
    messages: list[str] = field(default_factory=list)


def clean_stale_temp(run_dir: str | Path) -> list[Path]:
    """Delete the hidden temp files of a dead training in ``run_dir`` and ``run_dir/checkpoints``;
    returns them: :func:`deepracer_common.fileio.clean_stale_temps` (writer process gone) plus the
    older ``.<name>.tmp-<pid>`` names that only a training writes. A live writer's temp files (e.g.
    a running ``evaluate --watch``) are left alone."""
    from deepracer_common.fileio import clean_stale_temps

    removed = []
    for folder in (Path(run_dir), Path(run_dir) / CHECKPOINT_DIR):
        if not folder.is_dir():
            continue
        removed += clean_stale_temps(folder)          # deepracer_common temp names: writer pid gone
        for path in folder.iterdir():
            if _TEMP_RE.match(path.name) and path.is_file():
                try:
                    path.unlink()
                    removed.append(path)
                except FileNotFoundError:
                    pass
    return removed


def verify_checkpoints(run_dir: str | Path) -> tuple[list[tuple[Path, dict[str, Any]]], list[tuple[Path, str]]]:
    """(valid ``(zip, sidecar)`` pairs oldest first, invalid ``(path, reason)``) of a run folder."""
    folder = Path(run_dir) / CHECKPOINT_DIR
    valid: list[tuple[Path, dict[str, Any]]] = []
    invalid: list[tuple[Path, str]] = []
    if not folder.is_dir():
        return valid, invalid
    for path in sorted(folder.glob("iter_*.json")):
        if CHECKPOINT_RE.match(path.with_suffix(".zip").name) and not path.with_suffix(".zip").exists():
            invalid.append((path, "sidecar without its zip"))
    for path in sorted(folder.glob("iter_*.zip")):
        if not CHECKPOINT_RE.match(path.name):
            continue
        try:
            sidecar = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
            if not isinstance(sidecar, dict) or not isinstance(sidecar.get("iteration"), int):
                raise ValueError("no iteration")
        except FileNotFoundError:
            invalid.append((path, "no sidecar (interrupted while saving)"))
            continue
        except (OSError, ValueError) as exc:
            invalid.append((path, f"unreadable sidecar ({exc})"))
            continue
        if path.stat().st_size != sidecar.get("bytes"):
            invalid.append((path, f"{path.stat().st_size} bytes, sidecar says {sidecar.get('bytes')}"))
        elif sha256_file(path) != sidecar.get("sha256"):
            invalid.append((path, "sha256 differs from its sidecar"))
        else:
            valid.append((path, sidecar))
    return valid, invalid


def plan(run_dir: str | Path, resume: bool) -> ResumePlan:
    """Read the run folder and decide (raises :class:`~deepracer_agent.run_folder.TrainError`; writes nothing)."""
    run_dir = Path(run_dir)
    valid, invalid = verify_checkpoints(run_dir)
    rows = read_metrics(run_dir)
    if not resume:
        if valid or invalid or (run_dir / METRICS_JSONL).exists():
            raise TrainError(f"{run_dir}: already holds a run (checkpoints or metrics); pass --resume to "
                             "continue it or choose another --run-dir")
        return ResumePlan()
    names = "; ".join(f"{p.name}: {why}" for p, why in invalid[:5]) + (" ..." if len(invalid) > 5 else "")
    if not valid and invalid:
        raise TrainError(f"{run_dir}: no valid checkpoint to resume from ({names}); nothing was changed. "
                         f"Move {CHECKPOINT_DIR}/ and metrics.* away to start over, or restore a checkpoint")
    if not valid:
        if rows:
            raise TrainError(f"{run_dir}: {METRICS_JSONL} has {len(rows)} rows (up to iteration "
                             f"{rows[-1].get('iteration')}) but there is no checkpoint; refusing to restart at "
                             f"iteration 1 and drop them. Move metrics.* away to start over")
        return ResumePlan(keep_rows=[], messages=["no checkpoint yet (killed before the first one): starting at iteration 1"])
    path, sidecar = valid[-1]
    iteration = int(sidecar["iteration"])
    keep = [r for r in rows if int(r.get("iteration", 0)) <= iteration]
    out = ResumePlan(iteration, float(sidecar.get("wall_time_s", 0.0)), path, invalid, keep)
    if invalid:
        out.messages.append(f"setting aside {len(invalid)} invalid checkpoint file(s) into "
                            f"{CHECKPOINT_DIR}/{INVALID_DIR}/: {names}")
    if len(keep) < len(rows):
        out.messages.append(f"{METRICS_JSONL}: dropping {len(rows) - len(keep)} row(s) after iteration {iteration} "
                            f"(written after the last valid checkpoint)")
    return out


def apply(run_dir: str | Path, p: ResumePlan) -> None:
    """Move invalid checkpoint files aside (never deleted) and rewrite the metrics to the kept rows."""
    run_dir = Path(run_dir)
    if p.invalid:
        dest = run_dir / CHECKPOINT_DIR / INVALID_DIR
        dest.mkdir(exist_ok=True)
        for path, _ in p.invalid:
            for f in {path, path.with_suffix(".json")} if path.suffix == ".zip" else {path}:
                if f.exists():
                    target = dest / f.name
                    n = 1
                    while target.exists():
                        target = dest / f"{f.stem}.{n}{f.suffix}"
                        n += 1
                    os.replace(f, target)
    if p.keep_rows is not None and (p.keep_rows or (run_dir / METRICS_JSONL).exists() or (run_dir / METRICS_CSV).exists()):
        rewrite_metrics(run_dir, p.keep_rows)
