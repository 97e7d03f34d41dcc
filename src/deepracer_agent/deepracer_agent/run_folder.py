"""The run folder of ``deepracer train``: its file names, checkpoint completeness, metrics files.

One module for the FORMAT, so training (:mod:`.train`), resume (:mod:`.resume`), evaluation
(:mod:`.evaluate`), ``deepracer runs`` and the ROS Gym bridge read and write the same folder
without importing each other. Layout (see :mod:`.train` for what writes what)::

    run_dir/config.resolved.yaml   the validated config (every default filled in)
    run_dir/model_metadata.json    the action space + network (AWS format), travels with exports
    run_dir/checkpoints/           iter_NNNNNN.zip + iter_NNNNNN.json (sidecar: size, sha256, counters)
    run_dir/metrics.csv, metrics.jsonl, tensorboard/, training_progress.png, status.json

A checkpoint is COMPLETE when its sidecar exists and matches the zip (size and sha256).
"""
from __future__ import annotations

import csv
import hashlib
import json
import re
from pathlib import Path
from typing import Any

from deepracer_common.fileio import atomic_open, atomic_write_json

CHECKPOINT_DIR = "checkpoints"
CHECKPOINT_RE = re.compile(r"^iter_(\d{6,})\.zip$")
METRICS_CSV = "metrics.csv"
METRICS_JSONL = "metrics.jsonl"
RESOLVED_CONFIG = "config.resolved.yaml"
METADATA_FILE = "model_metadata.json"
PROGRESS_PLOT = "training_progress.png"
STATUS_FILE = "status.json"

METRIC_FIELDS = (
    "iteration", "steps", "wall_time_s", "n_steps", "episodes", "episodes_total", "mean_reward",
    "mean_progress", "lap_completion_rate", "mean_episode_steps", "entropy", "policy_loss", "value_loss",
    "approx_kl", "clip_fraction", "explained_variance", "env_steps_per_s", "rollout_time_s",
    "update_time_s", "save_time_s", "eval_time_s", "eval_completion_rate", "eval_mean_progress",
    "eval_mean_lap_time_s", "track",
)


class TrainError(RuntimeError):
    """Training cannot start or continue; the message names the file or folder at fault."""


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_json_atomic(data: Any, path: Path) -> None:
    """JSON to ``path`` atomically (deepracer_common.fileio)."""
    atomic_write_json(path, data)


def checkpoint_path(run_dir: Path, iteration: int) -> Path:
    return Path(run_dir) / CHECKPOINT_DIR / f"iter_{iteration:06d}.zip"


def commit_checkpoint(path: Path, info: dict[str, Any]) -> None:
    """Write the sidecar (size + sha256): from now on the checkpoint is complete. ``train`` commits
    after the iteration's metrics row is written, so a complete checkpoint always has its row."""
    sidecar = dict(info, checkpoint=path.name, bytes=path.stat().st_size, sha256=sha256_file(path))
    write_json_atomic(sidecar, path.with_suffix(".json"))


def complete_checkpoints(run_dir: Path, verify: bool = True) -> list[tuple[Path, dict[str, Any]]]:
    """Complete checkpoints of a run, oldest first: ``(zip, sidecar)`` pairs whose sidecar parses
    and (with ``verify``) whose zip has the recorded size and sha256. Temp files are ignored."""
    folder = Path(run_dir) / CHECKPOINT_DIR
    out = []
    for path in sorted(folder.glob("iter_*.zip")) if folder.is_dir() else []:
        if not CHECKPOINT_RE.match(path.name):
            continue
        try:
            sidecar = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if verify and (path.stat().st_size != sidecar.get("bytes") or sha256_file(path) != sidecar.get("sha256")):
            continue
        out.append((path, sidecar))
    return out


def prune_checkpoints(run_dir: Path, keep_last: int | None) -> None:
    """Delete all but the newest ``keep_last`` complete checkpoints (zip first, then sidecar). Only
    checkpoints whose size matches their sidecar count, so a torn newer file never pushes a valid
    older one out (resume also moves invalid ones aside, see :mod:`deepracer_agent.resume`)."""
    if keep_last is None:
        return
    done = [(p, s) for p, s in complete_checkpoints(run_dir, verify=False) if p.stat().st_size == s.get("bytes")]
    for path, _ in done[:-keep_last]:
        path.unlink(missing_ok=True)
        path.with_suffix(".json").unlink(missing_ok=True)


# ------------------------------------------------------------------------------ metrics files
def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """Rows of ``metrics.jsonl`` (a torn last line from a killed run is skipped)."""
    path = Path(run_dir) / METRICS_JSONL
    rows = []
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rows.append(json.loads(line))
            except ValueError:
                continue
    return rows


def rewrite_metrics(run_dir: Path, rows: list[dict[str, Any]]) -> None:
    """Rewrite metrics.csv / metrics.jsonl from ``rows`` atomically (used on resume)."""
    for name, writer in ((METRICS_JSONL, _write_jsonl), (METRICS_CSV, _write_csv)):
        with atomic_open(Path(run_dir) / name, "w", newline="") as fh:
            writer(fh, rows)


def _write_jsonl(fh: Any, rows: list[dict[str, Any]]) -> None:
    for row in rows:
        fh.write(json.dumps(row) + "\n")


def _write_csv(fh: Any, rows: list[dict[str, Any]]) -> None:
    w = csv.DictWriter(fh, fieldnames=METRIC_FIELDS, extrasaction="ignore")
    w.writeheader()
    for row in rows:
        w.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in METRIC_FIELDS})


def append_metrics(run_dir: Path, row: dict[str, Any]) -> None:
    csv_path = Path(run_dir) / METRICS_CSV
    new = not csv_path.is_file() or csv_path.stat().st_size == 0
    with open(csv_path, "a", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=METRIC_FIELDS, extrasaction="ignore")
        if new:
            w.writeheader()
        w.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in METRIC_FIELDS})
    with open(Path(run_dir) / METRICS_JSONL, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(row) + "\n")
