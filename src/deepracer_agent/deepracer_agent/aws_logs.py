"""The run-folder layout the community tools detect (deepracer-utils ``DeepRacerLog``, DRfC's).

deepracer-utils 1.5.6 (``deepracer/logs/handler.py``, ``FSFileHandler.determine_root_folder_type``)
recognises a folder by what it holds. A ``deepracer train`` run folder is a DRfC single-worker
model folder (``DRFC_MODEL_SINGLE_WORKERS``)::

    run_dir/training-simtrace/<iteration>-iteration.csv    one per training iteration, from 0
    run_dir/model/model_metadata.json                      a copy of run_dir/model_metadata.json
    run_dir/ip/hyperparameters.json                        the hyperparameters used (DRfC names)
    run_dir/metrics/TrainingMetrics.json                   {"metrics": [...]} (TrainingMetrics(fname=...))
    run_dir/evaluation-<YYYYmmddHHMMSS>/evaluation-simtrace/0-iteration.csv   deepracer evaluate
    run_dir/metrics/evaluation/evaluation-<YYYYmmddHHMMSS>.json              its metrics JSON

A decoupled run (``deepracer train --decoupled``) is a DRfC multi-worker folder
(``DRFC_MODEL_MULTIPLE_WORKERS``): worker ``i`` writes ``run_dir/<i>/training-simtrace/`` and
``run_dir/metrics/TrainingMetrics_<i>.json`` (deepracer-utils reads single-character worker folders:
workers 0-9), the trainer writes ``model/`` and ``ip/``, and the evaluator writes one
``evaluation-<stamp>/`` per policy version it scores (``info.json`` names the version).
Formats: :mod:`deepracer_agent.simtrace`.

Iteration ``k`` of ``metrics.jsonl`` (1-based) is ``<k-1>-iteration.csv``. Every iteration's
episodes are complete in its file; ``episode`` numbers and the TrainingMetrics ``episode`` count
continue over iterations (and over ``--resume``, which drops files and rows after the checkpoint).
deepracer-utils' ``unique_episode`` assumes the same number of episodes in every iteration, which
SB3's fixed-step rollouts do not give: group by ``iteration`` + ``episode`` (its default).
"""
from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any
from collections.abc import Sequence

from .simtrace import (SIMTRACE_SUFFIX, CarRecorder, SimtraceLog, atomic_write_text, attach,
                       evaluation_metric_row, read_metrics_json, training_metric_row, write_metrics_json)

TRAINING_SIMTRACE = "training-simtrace"
EVALUATION_SIMTRACE = "evaluation-simtrace"
MODEL_DIR = "model"
IP_DIR = "ip"
METRICS_DIR = "metrics"
TRAINING_METRICS = "TrainingMetrics.json"
HYPERPARAMETERS = "hyperparameters.json"
STAMP_FORMAT = "%Y%m%d%H%M%S"
_ITER_RE = re.compile(r"^(\d+)-iteration\.csv$")


def training_metrics_path(run_dir: str | Path, worker: int | None = None) -> Path:
    """``metrics/TrainingMetrics.json`` (worker None or 0 of a single-worker run) or ``TrainingMetrics_<i>.json``."""
    name = TRAINING_METRICS if not worker else f"TrainingMetrics_{int(worker)}.json"
    return Path(run_dir) / METRICS_DIR / name


def write_model_files(run_dir: str | Path, metadata: dict[str, Any], hyperparameters: dict[str, Any]) -> None:
    """``model/model_metadata.json`` and ``ip/hyperparameters.json`` (atomic)."""
    run_dir = Path(run_dir)
    atomic_write_text(run_dir / MODEL_DIR / "model_metadata.json", json.dumps(metadata, indent=4) + "\n")
    atomic_write_text(run_dir / IP_DIR / HYPERPARAMETERS, json.dumps(hyperparameters, indent=4) + "\n")


def drop_after(folder: Path, keep_iterations: int) -> None:
    """Delete ``<k>-iteration.csv`` files with ``k >= keep_iterations`` (resume)."""
    if not folder.is_dir():
        return
    for path in folder.iterdir():
        m = _ITER_RE.match(path.name)
        if m and int(m.group(1)) >= keep_iterations:
            path.unlink(missing_ok=True)


class TrainingLogs:
    """Simtrace + TrainingMetrics of one worker's training (the embedded env: all cars are one worker).

    :param run_dir: the run (model) folder.
    :param worker: None for a single-worker run (``run_dir/training-simtrace``), else the worker
        index (``run_dir/<worker>/training-simtrace``).
    :param done_iterations: iterations already logged (resume; later files and rows are dropped).
    :param done_episodes: episodes already logged (resume).
    """

    def __init__(self, run_dir: str | Path, worker: int | None = None, done_iterations: int = 0,
                 done_episodes: int = 0) -> None:
        self.run_dir = Path(run_dir)
        base = self.run_dir if worker is None else self.run_dir / str(int(worker))
        self.folder = base / TRAINING_SIMTRACE
        self.metrics_path = training_metrics_path(self.run_dir, worker)
        drop_after(self.folder, done_iterations)
        self.rows = [r for r in read_metrics_json(self.metrics_path)
                     if isinstance(r, dict) and int(r.get("episode", 0)) <= done_episodes]
        self.log = SimtraceLog(self.folder, first_episode=done_episodes)
        self.recorders: list[CarRecorder] = []
        self.iterations = int(done_iterations)   # files written so far (the next one's number)

    @classmethod
    def continuing(cls, run_dir: str | Path, worker: int | None = None) -> TrainingLogs:
        """The logs of a worker that may have run before (a restarted decoupled worker): new files
        and episodes continue after what is already there."""
        base = Path(run_dir) if worker is None else Path(run_dir) / str(int(worker))
        folder = base / TRAINING_SIMTRACE
        done = [int(m.group(1)) for p in (folder.iterdir() if folder.is_dir() else [])
                if (m := _ITER_RE.match(p.name))]
        rows = read_metrics_json(training_metrics_path(run_dir, worker))
        logs = cls(run_dir, worker, done_iterations=max(done) + 1 if done else 0, done_episodes=len(rows))
        logs.iterations = max(done) + 1 if done else 0
        return logs

    def attach(self, envs: Sequence[Any]) -> None:
        """Record every car of ``envs`` (VecEnvs / envs / batches sharing this worker's simtrace)."""
        self.recorders += [attach(e, self.log) for e in envs]

    def end_iteration(self, iteration: int | None = None) -> list[Any]:
        """Close training iteration ``iteration`` (1-based; None: the next one): write
        ``<iteration-1>-iteration.csv`` and TrainingMetrics.json; returns its episode summaries."""
        iteration = self.iterations + 1 if iteration is None else int(iteration)
        self.iterations = iteration
        for rec in self.recorders:
            rec.take_finished()
        path, episodes = self.log.write_iteration(iteration - 1)
        self.rows += [training_metric_row(ep, trial=k + 1) for k, ep in enumerate(episodes)]
        write_metrics_json(self.metrics_path, self.rows)
        return episodes


def evaluation_stamps(out_dir: str | Path, count: int, start: float | None = None) -> list[str]:
    """``count`` distinct 14-digit stamps for ``evaluation-<stamp>`` folders: the start time plus one
    second per unit, skipping stamps whose folder exists."""
    out_dir = Path(out_dir)
    t = int(time.time() if start is None else start)
    stamps: list[str] = []
    while len(stamps) < count:
        stamp = time.strftime(STAMP_FORMAT, time.localtime(t))
        if not (out_dir / f"evaluation-{stamp}").exists():
            stamps.append(stamp)
        t += 1
    return stamps


def write_evaluation(run_dir: str | Path, stamp: str, log: SimtraceLog, trials: Sequence[dict[str, Any]],
                     info: dict[str, Any]) -> Path:
    """One evaluation (a checkpoint x mode x track unit): ``evaluation-<stamp>/evaluation-simtrace/
    0-iteration.csv``, ``evaluation-<stamp>/info.json`` and ``metrics/evaluation/evaluation-<stamp>.json``."""
    run_dir = Path(run_dir)
    folder = run_dir / f"evaluation-{stamp}"
    log.folder = folder / EVALUATION_SIMTRACE
    log.sort_episodes()
    _, episodes = log.write_iteration(0)
    by_trial = {ep.episode: ep for ep in episodes}
    rows = []
    for k, t in enumerate(trials):
        ep = by_trial.get(k)
        start = ep.start_tstamp if ep else 0.0
        end = ep.end_tstamp if ep else start
        rows.append(evaluation_metric_row(k + 1, float(t["completion_percentage"]),
                                          int(t["elapsed_time_in_milliseconds"]), str(t["episode_status"]), start, end))
    write_metrics_json(run_dir / METRICS_DIR / "evaluation" / f"evaluation-{stamp}.json", rows, training=False)
    atomic_write_text(folder / "info.json", json.dumps(info, indent=2) + "\n")
    return folder


__all__ = ["TrainingLogs", "write_model_files", "write_evaluation", "evaluation_stamps", "training_metrics_path",
           "SIMTRACE_SUFFIX"]
