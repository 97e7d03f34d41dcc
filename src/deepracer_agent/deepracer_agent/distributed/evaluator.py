"""The evaluator role: scores every new model version with the robust evaluation and records it.

It follows the store like a worker (notifications + ``latest``; checksums verified; a corrupt
version is skipped and logged), evaluates each version in order (or only the newest when
``evaluation: {latest_only: true}`` and it has fallen behind), and writes the result both to
``<run_dir>/evaluations.jsonl`` and to the store as ``evaluations/v000012.json``. Evaluating is the
runtime's job: for the DeepRacer runtime that is :mod:`deepracer_agent.evaluate`'s robust evaluation.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

from . import ppo
from .config import ConfigError, DistributedConfig, StopFlag, common_arguments, config_from_args
from .model_store import CorruptModelError, ModelStoreError, StoreAccessError, open_store
from .runtime import WorkerSettings, load_runtime
from .transport import ModelNotifications, TransportError

COMMAND_HELP = "decoupled training: an evaluation worker"  # `deepracer --help`

log = logging.getLogger("deepracer.evaluator")


class Evaluator:
    def __init__(self, cfg: DistributedConfig, stop: StopFlag | None = None, max_evaluations: int | None = None):
        self.cfg, self.stop, self.max_evaluations = cfg, stop or StopFlag(install_signals=False), max_evaluations
        self.store = open_store(cfg.store, endpoint_url=cfg.store_endpoint_url)
        self.notifications = ModelNotifications(cfg.redis_settings())
        from .retention import ReaderLease

        self.lease = ReaderLease(cfg.redis_settings(), "evaluator", cfg.lease_ttl_s)
        self.run_dir = Path(cfg.run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.out = self.run_dir / "evaluations.jsonl"
        self.done: set[int] = set()
        if self.out.exists():
            for line in self.out.read_text().splitlines():
                try:
                    self.done.add(int(json.loads(line)["version"]))
                except (ValueError, KeyError):
                    continue
        self.t0 = time.monotonic()
        self._runtime: Any = None
        self._spec: Any = None
        self._model: Any = None

    def evaluate_version(self, version: int) -> dict[str, Any] | None:
        self.lease.hold(version)    # the trainer's retention never deletes a leased version
        try:
            mv = self.store.load(version, ["policy.npz", "training_config.json"])
        except CorruptModelError as exc:
            log.error("version %d rejected (checksum): %s; not evaluated", version, exc)
            self.done.add(version)
            return None
        except ModelStoreError as exc:   # deleted by retention before the lease was taken
            log.warning("version %d is gone (%s); not evaluated", version, exc)
            self.done.add(version)
            return None
        spec = mv.json("training_config.json")
        if spec != self._spec:
            self._runtime = load_runtime(spec)
            self._model = self._runtime.make_model(self._runtime.make_env(WorkerSettings(worker_id="evaluator")))
            self._spec = spec
        ppo.arrays_to_policy(self._model.policy, mv.arrays("policy.npz"))
        self._model.policy.set_training_mode(False)
        t = time.monotonic()
        summary = self._runtime.evaluate(self._model, version, str(self.run_dir / f"eval_v{version:06d}"))
        row = {"version": version, "wall_s": round(time.monotonic() - self.t0, 3),
               "eval_s": round(time.monotonic() - t, 3), **summary}
        with self.out.open("a") as f:
            f.write(json.dumps(row) + "\n")
        self.store.put_record(f"evaluations/v{version:06d}.json", json.dumps(row, indent=1).encode())
        self.done.add(version)
        log.info("version %d evaluated: %s", version, summary)
        return row

    def run(self) -> int:
        latest_only = bool(self.cfg.evaluation.get("latest_only", False))
        n = 0
        while not self.stop():
            if self.cfg.max_wall_time_s is not None and time.monotonic() - self.t0 > self.cfg.max_wall_time_s:
                break
            self.notifications.poll(0.5)   # wakes up early on a notification
            try:
                todo = [v for v in self.store.versions() if v not in self.done]
            except StoreAccessError as exc:
                from .worker import BUCKET_WAIT_S

                if "NoSuchBucket" in str(exc) and time.monotonic() - self.t0 < BUCKET_WAIT_S:
                    continue                # started before the trainer created the bucket: wait for it
                raise                       # wrong credentials: waiting cannot help
            except ModelStoreError as exc:
                log.warning("model store unreachable: %s", exc)
                continue
            if latest_only and todo:
                todo = todo[-1:]
            for v in todo:
                if self.stop():
                    break
                if self.evaluate_version(v) is not None:
                    n += 1
                if self.max_evaluations is not None and n >= self.max_evaluations:
                    self.lease.release()
                    return 0
        self.lease.release()
        return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="deepracer evaluator", description=__doc__.split("\n\n")[0])
    common_arguments(parser)
    parser.add_argument("--max-evaluations", type=int, help="stop after scoring this many versions")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        cfg = config_from_args(args)
        return Evaluator(cfg, StopFlag(), args.max_evaluations).run()
    except (ConfigError, ModelStoreError, TransportError, ValueError) as exc:
        print(f"deepracer evaluator: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
