"""Decoupled training on one machine: a private redis-server, one trainer, N workers (and
optionally an evaluator) as subprocesses, all stopped cleanly at the end.

``deepracer train --decoupled --workers N`` calls :func:`run_local`. Useful to try the
architecture, to benchmark it, and as a template for a real deployment (where each role runs on
its own machine with the same ``--config``).
"""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from deepracer_common.fileio import atomic_write_yaml

from .config import DistributedConfig
from .redis_server import RedisServerProcess

log = logging.getLogger("deepracer.local")
PASSWORD_ENV = "DEEPRACER_LOCAL_REDIS_PASSWORD"


class LocalCluster:
    """The processes of a local decoupled run; use as a context manager or call ``stop()``."""

    def __init__(self, cfg: DistributedConfig, workers: int = 2, start_redis: bool = True, evaluator: bool = False,
                 worker_args: list[str] | None = None, python: str = sys.executable, env: dict[str, str] | None = None,
                 trainer_env: dict[str, str] | None = None):
        self.cfg, self.n_workers, self.evaluator = cfg, workers, evaluator
        self.worker_args, self.python = list(worker_args or []), python
        self.run_dir = Path(cfg.run_dir)
        (self.run_dir / "logs").mkdir(parents=True, exist_ok=True)
        self.env = dict(os.environ, **(env or {}))
        self.env.setdefault("PYTHONUNBUFFERED", "1")
        # children import this very package, wherever it was imported from
        pkg_parent = str(Path(__file__).resolve().parents[2])
        self.env["PYTHONPATH"] = os.pathsep.join([pkg_parent, *filter(None, [self.env.get("PYTHONPATH")])])
        self.redis: RedisServerProcess | None = None
        if start_redis:
            self.redis = RedisServerProcess(data_dir=self.run_dir / "redis").start()
            self.cfg = replace(cfg, redis_url=f"redis://127.0.0.1:{self.redis.port}/0", redis_password_env=PASSWORD_ENV,
                               redis_username=None)
            self.env[PASSWORD_ENV] = self.redis.password   # children get it through the environment only
        self.trainer_env = dict(self.env, **(trainer_env or {}))   # e.g. more torch threads for the trainer
        self.config_path = self.run_dir / "decoupled_config.yaml"
        atomic_write_yaml(self.config_path, self.cfg.to_dict())
        self.trainer: subprocess.Popen | None = None
        self.workers: dict[int, subprocess.Popen] = {}
        self.evaluator_proc: subprocess.Popen | None = None
        self._logs: list[Any] = []

    def _spawn(self, module: str, name: str, args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
        logf = open(self.run_dir / "logs" / f"{name}.log", "ab")
        self._logs.append(logf)
        return subprocess.Popen([self.python, "-m", f"deepracer_agent.distributed.{module}", "--config",
                                 str(self.config_path), *args], stdout=logf, stderr=subprocess.STDOUT, env=env or self.env)

    def start_trainer(self, extra: list[str] | None = None) -> subprocess.Popen:
        self.trainer = self._spawn("trainer", "trainer", list(extra or []), self.trainer_env)
        return self.trainer

    def start_worker(self, i: int, extra: list[str] | None = None) -> subprocess.Popen:
        self.workers[i] = self._spawn("worker", f"worker-{i}", ["--index", str(i), *self.worker_args, *(extra or [])])
        return self.workers[i]

    def start(self) -> "LocalCluster":
        self.start_trainer()
        for i in range(self.n_workers):
            self.start_worker(i)
        if self.evaluator:
            self.evaluator_proc = self._spawn("evaluator", "evaluator", [])
        log.info("local decoupled run: trainer + %d workers%s; logs in %s", self.n_workers,
                 " + evaluator" if self.evaluator else "", self.run_dir / "logs")
        return self

    @staticmethod
    def _terminate(p: subprocess.Popen | None, timeout_s: float = 15.0) -> None:
        if p is None or p.poll() is not None:
            return
        p.terminate()
        try:
            p.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()

    def stop(self) -> None:
        for p in [*self.workers.values(), self.evaluator_proc, self.trainer]:
            self._terminate(p)
        if self.redis is not None:
            self.redis.stop()
            self.redis = None
        for f in self._logs:
            f.close()
        self._logs.clear()

    def workers_failed(self) -> str | None:
        """When EVERY rollout worker has exited with an error (e.g. the reward file failed in all of
        them), a one-line reason: each worker's exit code and the last line of its log; else None."""
        if not self.workers or any(p.poll() is None or p.returncode == 0 for p in self.workers.values()):
            return None
        parts = []
        for i, p in sorted(self.workers.items()):
            last = ""
            try:
                lines = (self.run_dir / "logs" / f"worker-{i}.log").read_text(errors="replace").strip().splitlines()
                last = lines[-1].strip() if lines else ""
            except OSError:
                pass
            parts.append(f"worker-{i} exit {p.returncode}" + (f": {last}" if last else ""))
        return "every rollout worker stopped with an error (" + "; ".join(parts) + ")"

    def wait_trainer(self, timeout_s: float | None = None) -> int | None:
        assert self.trainer is not None
        try:
            return self.trainer.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return None

    def __enter__(self) -> "LocalCluster":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def as_distributed_config(config: Any, run_dir: str | Path | None = None) -> DistributedConfig:
    """A :class:`DistributedConfig` from itself, or from a ``deepracer train`` ``TrainConfig``
    (its dict becomes ``training``; K, wall-time limit and device are taken from it), with the
    store and metrics under ``run_dir`` if given."""
    if isinstance(config, DistributedConfig):
        cfg = config
    elif hasattr(config, "to_dict") and hasattr(config, "hyperparameters"):
        cfg = DistributedConfig(
            training=config.to_dict(),
            num_episodes_between_training=int(config.hyperparameters.num_episodes_between_training),
            max_wall_time_s=getattr(getattr(config, "stop", None), "max_wall_time_s", None),
            trainer_device=str(getattr(config, "device", "cpu")))
    else:
        raise TypeError(f"run_local needs a DistributedConfig or a TrainConfig, got {type(config).__name__}")
    if run_dir is not None:
        cfg = replace(cfg, run_dir=str(run_dir), store=str(Path(run_dir) / "store"))
    return cfg


def run_local(config: Any, workers: int = 2, start_redis: bool = True, evaluator: bool = False,
              worker_args: list[str] | None = None, run_dir: str | Path | None = None) -> int:
    """Run trainer + ``workers`` workers locally until the trainer stops (``max_versions`` or
    ``max_wall_time_s``) or Ctrl-C; then stop everything. Returns the trainer's exit code.

    ``config``: a :class:`DistributedConfig`, or the ``TrainConfig`` of ``deepracer train``
    (``deepracer train --decoupled --workers N`` passes its own)."""
    cluster = LocalCluster(as_distributed_config(config, run_dir), workers, start_redis, evaluator, worker_args)
    from .run_record import progress_line

    metrics = cluster.run_dir / "metrics.jsonl"
    seen = len(metrics.read_text().splitlines()) if metrics.is_file() else 0

    def show_progress() -> None:   # one line per model version (the trainer's run-folder rows)
        nonlocal seen
        if not metrics.is_file():
            return
        lines = metrics.read_text().splitlines()
        for line in lines[seen:]:
            try:
                print(progress_line(json.loads(line)), flush=True)
            except (ValueError, KeyError, TypeError):
                break             # a line being written: read it next time
            seen += 1
    try:
        cluster.start()
        while True:
            rc = cluster.wait_trainer(timeout_s=1.0)
            show_progress()
            failed = cluster.workers_failed() if rc is None else None
            if failed is not None:       # nobody produces experience any more: do not wait for the wall time
                print(f"deepracer train --decoupled: {failed}; logs in {cluster.run_dir / 'logs'}", file=sys.stderr)
                return 2
            if rc is not None:
                if evaluator and cluster.evaluator_proc is not None:
                    time.sleep(2.0)   # let it score the last version
                show_progress()
                return int(rc)
    except KeyboardInterrupt:
        return 130
    finally:
        cluster.stop()
