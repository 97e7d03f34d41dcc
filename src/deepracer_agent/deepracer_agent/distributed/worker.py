"""The rollout-worker role: its own env (track, randomization, seed), the current policy, and
complete episodes pushed to Redis.

- Waits for the first published model version, then builds the env and network from the
  version's ``training_config.json`` with this worker's settings on top.
- Runs whole episodes (obs, actions, rewards, values, log-probs, the policy version) and pushes
  each one only once it is finished: a worker killed mid-episode leaves nothing behind.
- Between episodes it checks for a newer version (Redis pub/sub, with the ``latest`` key as a
  fallback), loads it after verifying every checksum, and keeps the version it has if the new one is
  corrupt (that version is then skipped).
- While Redis is down it keeps the finished episode and retries with exponential backoff.
- Back-pressure: it waits while more than ``max_backlog`` entries are queued in the stream.
- Simtrace (:mod:`deepracer_agent.aws_logs`): worker ``i`` writes ``run_dir/<i>/training-simtrace/
  <k>-iteration.csv``, one file per policy version it acted with (k counts those versions from 0),
  and ``run_dir/metrics/TrainingMetrics[_<i>].json``: DRfC's multi-worker layout.
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from . import ppo, wire
from .sac import actor_for
from ..reward import RewardFunctionError
from .config import ConfigError, DistributedConfig, StopFlag, common_arguments, config_from_args
from .model_store import CorruptModelError, ModelStore, ModelStoreError, ModelVersion, StoreAccessError, open_store
from .runtime import WorkerSettings, load_runtime
from .transport import ExperienceStream, ModelNotifications, TransportError

COMMAND_HELP = "decoupled training: a rollout worker"  # `deepracer --help`

log = logging.getLogger("deepracer.worker")
POLICY_OBJECTS = ["policy.npz", "training_config.json"]


class PolicyFollower:
    """Keeps a model in sync with the store: shared by workers and evaluators."""

    def __init__(self, store: ModelStore, notifications: ModelNotifications | None, worker: WorkerSettings,
                 lease: Any = None):
        self.store, self.notifications, self.worker = store, notifications, worker
        self.lease = lease   # retention.ReaderLease: the trainer never deletes the version held here
        self.version: int = -1
        self.bad_versions: set[int] = set()
        self.model: Any = None
        self.env: Any = None
        self.runtime: Any = None
        self.spec: dict[str, Any] | None = None
        self.policy_sha256: str | None = None   # stamped on every episode: which exact policy acted

    def _install(self, mv: ModelVersion) -> None:
        spec = mv.json("training_config.json")
        if spec != self.spec:  # first version (or a changed config): build env and network
            self.runtime = load_runtime(spec, self.worker.overrides)
            if self.env is not None and hasattr(self.env, "close"):
                self.env.close()
            self.env = self.runtime.make_env(self.worker)
            self.model = self.runtime.make_model(self.env)
            self.spec = spec
        ppo.arrays_to_policy(self.model.policy, mv.arrays("policy.npz"))
        self.version = mv.version
        self.policy_sha256 = str(mv.manifest["objects"]["policy.npz"]["sha256"])

    def try_load(self, version: int) -> bool:
        """Load ``version`` if newer and not known bad; False (keeping the current one) on failure."""
        if version <= self.version or version in self.bad_versions:
            return False
        if self.lease is not None:
            self.lease.hold(version)           # before reading: the trainer will not delete it now
        try:
            mv = self.store.load(version, POLICY_OBJECTS)
            self._install(mv)
        except (CorruptModelError, ValueError) as exc:
            self.bad_versions.add(version)
            log.error("rejected model version %d (keeping version %d): %s", version, self.version, exc)
            return False
        except StoreAccessError:
            raise                           # wrong credentials: waiting cannot help
        except ModelStoreError as exc:  # unreachable store: try again later
            log.warning("cannot load model version %d yet: %s", version, exc)
            if self.lease is not None and self.version >= 0:
                self.lease.hold(self.version)
            return False
        log.info("%s now acts with model version %d", self.worker.worker_id, version)
        return True

    def refresh(self) -> bool:
        """Check notifications and the store's ``latest`` pointer; load what is newer."""
        candidates = []
        if self.notifications is not None:
            v = self.notifications.poll(0.0)
            if v is not None:
                candidates.append(v)
        try:
            ptr = self.store.latest_pointer()
            if ptr is not None:
                candidates.append(ptr)
        except StoreAccessError:
            raise
        except ModelStoreError as exc:
            log.warning("model store unreachable: %s", exc)
        if self.lease is not None and self.version >= 0:
            self.lease.hold(self.version)      # heartbeat on the version in use
        if not candidates:
            return False
        newest = max(candidates)
        if self.try_load(newest):
            return True
        if newest in self.bad_versions and self.version < 0:
            # nothing loaded yet and the newest is bad: fall back to the newest valid one
            mv = self.store.load_latest_valid(POLICY_OBJECTS)
            if mv is not None and mv.version not in self.bad_versions:
                self._install(mv)
                return True
        return False

    def wait_first(self, stop: StopFlag, timeout_s: float | None = None) -> bool:
        t0 = time.monotonic()
        while not stop():
            if self.refresh() or self.version >= 0:
                return True
            if timeout_s is not None and time.monotonic() - t0 > timeout_s:
                return False
            time.sleep(0.2)
        return False


def run_episode(env: Any, actor: ppo.Actor, max_steps: int, stop: StopFlag, seed: int | None = None
                ) -> tuple[dict[str, np.ndarray], bool, float, dict[str, Any]] | None:
    """One complete episode; None if stopped before it finished (nothing partial is returned)."""
    t0 = time.monotonic()
    obs, info = env.reset(seed=seed)
    cols: dict[str, list[Any]] = {"obs": [], "actions": [], "rewards": [], "values": [], "log_probs": []}
    terminated = truncated = False
    while not (terminated or truncated):
        if stop():
            return None
        obs_p, action, env_action, value, log_prob = actor.step(obs)
        obs, reward, terminated, truncated, info = env.step(env_action)
        cols["obs"].append(obs_p)
        cols["actions"].append(action)
        cols["rewards"].append(float(reward))
        cols["values"].append(value)
        cols["log_probs"].append(log_prob)
        if len(cols["rewards"]) >= max_steps and not terminated:
            truncated = True
    last_value = actor.value(obs) if (truncated and not terminated) else 0.0
    arrays = {"obs": np.stack(cols["obs"]), "actions": np.asarray(cols["actions"]),
              "rewards": np.asarray(cols["rewards"], np.float32), "values": np.asarray(cols["values"], np.float32),
              "log_probs": np.asarray(cols["log_probs"], np.float32)}
    meta = {k: _jsonable(info[k]) for k in ("progress", "lap_time_s", "termination_reason", "episode_status")
            if k in info}
    meta["wall_s"] = round(time.monotonic() - t0, 4)   # the trainer's steps/s per worker
    return arrays, bool(terminated), float(last_value), meta


def _jsonable(v: Any) -> Any:
    if isinstance(v, (np.floating, np.integer, np.bool_)):
        return v.item()
    return v if isinstance(v, (int, float, str, bool)) or v is None else str(v)


class Worker:
    def __init__(self, cfg: DistributedConfig, settings: WorkerSettings, stop: StopFlag | None = None,
                 max_episodes: int | None = None, max_steps: int = 100_000, index: int | None = None):
        self.cfg, self.settings, self.stop = cfg, settings, stop or StopFlag(install_signals=False)
        self.max_episodes, self.max_steps = max_episodes, max_steps
        redis_settings = cfg.redis_settings()
        self.stream = ExperienceStream(redis_settings, consumer=settings.worker_id, should_stop=self.stop)
        self.store = open_store(cfg.store, endpoint_url=cfg.store_endpoint_url)
        from .retention import ReaderLease

        self.follower = PolicyFollower(self.store, ModelNotifications(redis_settings), settings,
                                       lease=ReaderLease(redis_settings, settings.worker_id, cfg.lease_ttl_s))
        self.nonce = uuid.uuid4().hex[:10]   # a restarted worker never reuses an episode id
        self.episodes = 0
        self.steps = 0
        Path(cfg.run_dir).mkdir(parents=True, exist_ok=True)
        self.audit_path = Path(cfg.run_dir) / f"pushed_{settings.worker_id}.txt"
        if index is None:
            digits = "".join(c for c in settings.worker_id if c.isdigit())
            index = int(digits) if digits else 0
        from ..aws_logs import TrainingLogs

        self.logs = TrainingLogs.continuing(cfg.run_dir, worker=index)
        self._traced_env: Any = None
        self._trace_version: int | None = None

    def _trace(self, version: int) -> None:
        """Simtrace bookkeeping before an episode: close the file of the previous policy version,
        record the (possibly rebuilt) env."""
        if self._trace_version is not None and version != self._trace_version:
            self.logs.end_iteration()
        self._trace_version = version
        env = self.follower.env
        if env is not self._traced_env and hasattr(env, "batch"):
            self.logs.recorders = []
            self.logs.attach([env])
            self._traced_env = env

    def run(self) -> int:
        t0 = time.monotonic()
        log.info("%s waiting for a model in %s", self.settings.worker_id, self.store.url)
        if not self.follower.wait_first(self.stop, self.cfg.max_wall_time_s):
            return 0
        seed = self.settings.seed
        while not self.stop():
            if self.max_episodes is not None and self.episodes >= self.max_episodes:
                break
            if self.cfg.max_wall_time_s is not None and time.monotonic() - t0 > self.cfg.max_wall_time_s:
                break
            self.follower.refresh()
            while self.stream.backlog() > self.cfg.max_backlog and not self.stop():
                time.sleep(0.2)   # the trainer is behind: episodes made now would only go stale
                self.follower.refresh()
            version = self.follower.version
            self._trace(version)
            result = run_episode(self.follower.env, actor_for(self.follower.model.policy), self.max_steps, self.stop,
                                 seed=seed if self.episodes == 0 else None)
            if result is None:
                log.info("%s stopped mid-episode; the partial episode is discarded", self.settings.worker_id)
                break
            arrays, terminated, last_value, meta = result
            meta.update(track=self.settings.track, seed=self.settings.seed, speed_scale=self.settings.speed_scale,
                        policy_sha256=self.follower.policy_sha256)
            rec = wire.EpisodeRecord(worker_id=self.settings.worker_id,
                                     episode_id=f"{self.settings.worker_id}:{self.nonce}:{self.episodes}",
                                     policy_version=version, arrays=arrays, terminated=terminated,
                                     last_value=last_value, meta=meta)
            self.stream.push(rec.episode_id, wire.encode(rec, compression=self.cfg.compression))
            with self.audit_path.open("a") as f:   # audit trail: which complete episodes left this worker
                f.write(rec.episode_id + "\n")
            self.episodes += 1
            self.steps += rec.steps
        if self._trace_version is not None:
            self.logs.end_iteration()
        if self.follower.lease is not None:
            self.follower.lease.release()
        return 0


BUCKET_WAIT_S = 120.0   # how long a worker waits for the trainer to create the store's bucket


def shared_worker_settings(cfg: Any, stop: StopFlag, poll_s: float = 0.5) -> list[dict[str, Any]]:
    """The ``workers`` list the trainer put in the store (``run/workers.json``, written before
    version 0), so a worker on another machine needs no config file: only the Redis URL, the store
    and credentials. Waits until the store has a model (then the record exists if the trainer's
    config had one); [] when it has none."""
    import json

    from .trainer import WORKERS_RECORD

    store = open_store(cfg.store, endpoint_url=cfg.store_endpoint_url)
    t0 = time.monotonic()
    while not stop():
        try:
            raw = store.get_record(WORKERS_RECORD)
        except StoreAccessError as exc:
            # the trainer creates the bucket: a worker started first waits for it (a while), but a
            # wrong bucket name or credentials still end it with the store's one line
            if "NoSuchBucket" not in str(exc) or time.monotonic() - t0 > BUCKET_WAIT_S:
                raise
            time.sleep(poll_s)
            continue
        if raw is not None:
            data = json.loads(raw)
            return list(data) if isinstance(data, list) else []
        if store.latest_pointer() is not None:
            return []
        if cfg.max_wall_time_s is not None and time.monotonic() - t0 > cfg.max_wall_time_s:
            return []
        time.sleep(poll_s)
    return []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="deepracer worker", description=__doc__.split("\n\n")[0])
    common_arguments(parser)
    parser.add_argument("--index", type=int, default=0, help="which entry of the config's 'workers' list to use")
    parser.add_argument("--worker-id", help="unique name of this worker (default worker-<index>)")
    parser.add_argument("--track", help="this worker's track (built-in name or .npy)")
    parser.add_argument("--seed", type=int, help="this worker's seed")
    parser.add_argument("--max-episodes", type=int, help="stop after this many episodes")
    parser.add_argument("--max-steps", type=int, default=100_000, help="cut an episode after this many steps")
    parser.add_argument("--compression", choices=["none", "zlib", "lz4"])
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        cfg = config_from_args(args, ("compression",))
        stop = StopFlag()
        from_store = not cfg.workers
        if from_store:                 # no local list: the per-worker settings the trainer shares
            cfg = replace(cfg, workers=shared_worker_settings(cfg, stop))
        ws = cfg.worker_settings(args.index, args.worker_id)
        if from_store and args.index < len(cfg.workers):
            log.info("worker %d: settings from the store: %s", args.index, ws.to_dict())
        if args.track:
            ws.track = args.track
        if args.seed is not None:
            ws.seed = args.seed
        return Worker(cfg, ws, stop, args.max_episodes, args.max_steps, index=args.index).run()
    except (ConfigError, ModelStoreError, TransportError, ValueError, RewardFunctionError) as exc:
        print(f"deepracer worker: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
