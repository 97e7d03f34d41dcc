"""The trainer's run folder: the SAME layout ``deepracer train`` writes (:mod:`deepracer_agent.train`),
so ``deepracer evaluate``, ``export``, ``transfer`` and ``runs`` work on a decoupled run unchanged.

One model version = one training iteration: ``checkpoints/iter_NNNNNN.zip`` (+ sidecar) where NNNNNN
is the model version, one row in ``metrics.csv``/``metrics.jsonl`` (the embedded columns, plus the
decoupled ones in the JSONL: steps/s per worker, trainer utilisation, the evaluator's latest score),
``training_progress.png`` (Fig. 5: progress against wall time), ``status.json``,
``config.resolved.yaml``, ``model_metadata.json``; and ``decoupled.json``: the run's decoupled
settings with every worker's own track / randomization / speed (no secrets).

Every writer here is the embedded path's own (:mod:`deepracer_agent.run_folder`, one format, one
place), in its order: the checkpoint zip, then the metrics row, then the sidecar that commits the
checkpoint.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from deepracer_common.fileio import atomic_write_json

log = logging.getLogger("deepracer.trainer")
DECOUPLED_FILE = "decoupled.json"


def progress_line(row: dict[str, Any]) -> str:
    """One terminal line per model version: version, episodes, steps/s per worker, trainer
    utilisation, evaluator score."""
    per = row.get("worker_steps_per_s") or {}
    rates = " ".join(f"{w} {v:.0f}" for w, v in sorted(per.items())) or "-"
    ev = row.get("eval_completion_rate")
    score = (f"v{row.get('eval_version')} {100 * ev:.0f}% laps, {row.get('eval_mean_progress') or 0:.0f}% progress"
             if ev is not None else "-")
    return (f"version {row['iteration']:4d}  episodes {row.get('episodes', 0):3d} (total {row.get('episodes_total', 0)})"
            f"  progress {row.get('mean_progress') or 0:5.1f}%  steps/s per worker: {rates}"
            f"  trainer {100 * (row.get('utilisation') or 0):3.0f}% busy  eval: {score}  {row.get('wall_time_s', 0):.0f}s")


class RunFolder:
    """Writes the run folder of a decoupled trainer whose runtime has a ``TrainConfig`` (``cfg``)."""

    def __init__(self, run_dir: Path, train_cfg: Any, dcfg: Any):
        from ..config import save_yaml
        from ..run_folder import METADATA_FILE, RESOLVED_CONFIG, STATUS_FILE, read_metrics

        self.run_dir, self.cfg = Path(run_dir), train_cfg
        (self.run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
        save_yaml(train_cfg.to_dict(), self.run_dir / RESOLVED_CONFIG)
        train_cfg.metadata().save(self.run_dir / METADATA_FILE)
        d = dcfg.to_dict()
        workers = [dcfg.worker_settings(i).to_dict() for i in range(len(dcfg.workers))]
        atomic_write_json(self.run_dir / DECOUPLED_FILE, {
            "redis_url": d["redis_url"], "store": d["store"], "store_endpoint_url": d["store_endpoint_url"],
            "num_episodes_between_training": d["num_episodes_between_training"],
            "max_policy_lag": d["max_policy_lag"], "keep_versions": d["keep_versions"],
            "keep_best_versions": d["keep_best_versions"], "trainer_device": d["trainer_device"],
            "workers": workers})
        self.status_path = self.run_dir / STATUS_FILE
        self.rows: list[dict[str, Any]] = read_metrics(self.run_dir)
        atomic_write_json(self.status_path, {"state": "running", "pid": os.getpid(), "mode": "decoupled",
                                             "iteration": self.rows[-1]["iteration"] if self.rows else 0})

    def record(self, model: Any, row: dict[str, Any]) -> dict[str, Any]:
        """Checkpoint + metrics row + plot for one published version; returns the row written."""
        import time

        from ..callbacks import plain_row
        from ..run_folder import PROGRESS_PLOT, append_metrics, commit_checkpoint, prune_checkpoints
        from ..train import save_checkpoint

        t = time.perf_counter()
        info = {"iteration": row["iteration"], "steps": row["steps"], "wall_time_s": row["wall_time_s"],
                "episodes_total": row["episodes_total"], "model_version": row["iteration"]}
        path = save_checkpoint(model, self.run_dir, info, self.cfg, commit=False)
        row["save_time_s"] = round(time.perf_counter() - t, 3)
        row = plain_row(row)
        append_metrics(self.run_dir, row)
        commit_checkpoint(path, info)          # the sidecar last: a complete checkpoint always has its row
        prune_checkpoints(self.run_dir, self.cfg.checkpoints.keep_last)
        self.rows.append(row)
        try:
            from ..plots import plot_training

            plot_training(self.rows, self.run_dir / PROGRESS_PLOT, title=f"{self.run_dir.name}: {self.cfg.track} (decoupled)")
        except Exception as exc:  # noqa: BLE001 - a plot failure must not stop training
            log.warning("could not draw %s: %s", PROGRESS_PLOT, exc)
        atomic_write_json(self.status_path, {"state": "running", "pid": os.getpid(), "mode": "decoupled",
                                             "iteration": row["iteration"], "steps": row["steps"],
                                             "wall_time_s": row["wall_time_s"]})
        return row

    def finish(self, reason: str, failed: bool = False) -> None:
        last = self.rows[-1] if self.rows else {}
        atomic_write_json(self.status_path, {"state": "failed" if failed else "finished", "mode": "decoupled",
                                             ("reason" if failed else "stop_reason"): reason,
                                             "iteration": last.get("iteration", 0), "steps": last.get("steps", 0),
                                             "wall_time_s": last.get("wall_time_s", 0.0)})
