"""The trainer role: Redis experiences -> PPO update every K complete episodes -> model store.

Loop: read complete episodes from the stream (consumer group), keep those that are new and fresh
enough, and once at least ``num_episodes_between_training`` (K, default 20) are buffered run one
PPO update on all of them, publish the next model version (objects, manifest, ``latest``),
announce it, and only then ACK the entries it used.

Policy-lag rule (documented in the README): an episode produced by version ``v`` is used by the
update that starts from the latest published version ``L`` only if ``L - v <= max_policy_lag``
(default 1: the current version and the one before it). Older episodes are dropped (ACKed and
counted as ``dropped_stale``); PPO's importance ratio uses the behaviour policy's log-probs from the
record, and its clipping bounds the effect of the one-version lag. Episodes that claim a version
newer than ``L`` (possible only after the trainer fell back past a corrupted version) are dropped too.

K and the number of workers (``k_per_worker``): with a fixed K, N workers make a version every K / N
episodes of each worker, so an episode's lag (versions published while it was driven) grows like
N / K and, past ``max_policy_lag``, the episodes of many workers are dropped as stale. With
``k_per_worker`` set, an update waits for ``max(K, k_per_worker x active workers)`` episodes (a
worker is active while it delivered an episode in the last ``ACTIVE_WORKER_S`` seconds): each
version then takes about ``k_per_worker`` episodes from every worker, the lag stays where it is with
one worker, and the PPO update gets a proportionally larger batch (the same epochs and minibatch
size, so the same gradient steps per sample). The lag rule itself is unchanged (no episode older
than ``max_policy_lag`` is ever used, so no importance weights beyond PPO's ratio are needed).

Exactly-once counting: the ids of the episodes used in each version are published in its
``trainer_state.json``; a restarted trainer loads them (with the newest valid version's weights and
optimizer state) and drops any redelivered duplicate. Entries it had read but not yet used are
still pending in the consumer group and are reclaimed (XAUTOCLAIM) at start.
"""
from __future__ import annotations

import argparse
import collections
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..sac import is_sac_policy
from . import ppo, sac, wire
from .config import ConfigError, DistributedConfig, StopFlag, common_arguments, config_from_args
from .model_store import ModelStore, ModelStoreError, dump_npz, open_store
from .runtime import Runtime, load_runtime
from .transport import ExperienceStream, StreamEntry, TransportError

COMMAND_HELP = "decoupled training: the trainer role"  # `deepracer --help`

log = logging.getLogger("deepracer.trainer")
WORKERS_RECORD = "run/workers.json"   # the per-worker settings, for workers without a config file
SEEN_IDS_KEPT = 100_000   # episode ids remembered for de-duplication (>> episodes per lag window)
ACTIVE_WORKER_S = 60.0    # k_per_worker: a worker that delivered an episode this recently counts as active


def model_objects(model: Any, runtime: Runtime, spec: dict[str, Any], state: dict[str, Any]) -> dict[str, bytes]:
    """Everything one published version holds (no pickle anywhere): what readers need (the policy,
    the configs) plus the trainer's small state. The optimizer's Adam moments (2x the policy's size)
    are NOT in the version: only a restarting trainer needs them, so they are a side record
    (:func:`optimizer_key`) kept for the newest version only."""
    _opt_arrays, opt_groups = optimizer_state(model)
    return {
        "policy.npz": dump_npz(ppo.policy_to_arrays(model.policy)),
        "optimizer_groups.json": opt_groups,
        "model_metadata.json": json.dumps(runtime.model_metadata(), indent=1).encode(),
        "training_config.json": json.dumps(spec, indent=1).encode(),
        "trainer_state.json": json.dumps(state).encode(),
    }


def optimizer_state(model: Any) -> tuple[dict[str, Any], bytes]:
    """(arrays, param-groups JSON) of the model's optimizer(s): PPO's one Adam, SAC's actor + critic."""
    if is_sac_policy(model.policy):       # SAC: actor + critic Adam states (the replay buffer stays here)
        return sac.optimizer_objects(model)
    return ppo.optimizer_to_arrays(model.policy.optimizer)


def optimizer_key(version: int) -> str:
    return f"trainer/v{version:06d}/optimizer.npz"


class Trainer:
    def __init__(self, cfg: DistributedConfig, stop: StopFlag | None = None, consumer: str = "trainer"):
        self.cfg, self.stop = cfg, stop or StopFlag(install_signals=False)
        self.store: ModelStore = open_store(cfg.store, endpoint_url=cfg.store_endpoint_url,
                                            create_bucket=cfg.store.startswith("s3://"))
        self.stream = ExperienceStream(cfg.redis_settings(), consumer=consumer, should_stop=self.stop)
        self.run_dir = Path(cfg.run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.metrics_path = self.run_dir / "trainer_metrics.jsonl"
        self.seen: collections.OrderedDict[str, None] = collections.OrderedDict()
        self.buffer: dict[str, tuple[wire.EpisodeRecord, StreamEntry]] = {}
        self.counts = collections.Counter()
        self.worker_seen: dict[str, float] = {}      # worker id -> monotonic time of its last episode
        self.t_start = time.monotonic()
        self.train_s = 0.0
        self.policy_shas: dict[int, str | None] = {}   # version -> sha256 of the policy this trainer published
        self.start_version = -1                          # versions above it not in policy_shas are not ours
        self.latest_at_start: int | None = None
        self.scores: dict[int, dict[str, Any]] = {}
        self.run_folder: Any = None      # run_record.RunFolder for DeepRacer runtimes
        self.wall_offset = 0.0

    # -- start: restore from the newest valid version, or publish version 0 --------------------
    def restore_or_init(self) -> None:
        self.store.put_record(WORKERS_RECORD, json.dumps(self.cfg.workers).encode())   # before any version
        latest = self.store.load_latest_valid(["policy.npz", "optimizer_groups.json", "training_config.json",
                                                "trainer_state.json"])
        if latest is None:
            self.spec = self.cfg.training_spec()
            self.runtime = load_runtime(self.spec)
            self.model = self.runtime.make_model(self.runtime.make_env(None), device=self.cfg.trainer_device)
            self.version, self.state = -1, {"num_timesteps": 0, "episodes_total": 0, "consumed_episode_ids": []}
            self._publish([])
            log.info("started from scratch; published version 0 to %s", self.store.url)
        else:
            self.spec = latest.json("training_config.json")
            self.runtime = load_runtime(self.spec)
            self.model = self.runtime.make_model(self.runtime.make_env(None), device=self.cfg.trainer_device)
            ppo.arrays_to_policy(self.model.policy, latest.arrays("policy.npz"))
            self.state = latest.json("trainer_state.json")
            self._restore_optimizer(latest)
            self.model.num_timesteps = int(self.state["num_timesteps"])
            self.version = latest.version
            for eid in self.state.get("consumed_episode_ids", []):
                self.seen[eid] = None
            log.info("restarted from version %d (%d timesteps, %d remembered episode ids)",
                     self.version, self.model.num_timesteps, len(self.seen))
        cfg = getattr(self.runtime, "cfg", None)        # DeepRacer runtimes: the DRfC model files beside
        if cfg is not None:                              # the workers' simtraces (deepracer_agent.aws_logs)
            from ..aws_logs import write_model_files
            from ..drfc import hyperparameters_json

            write_model_files(self.run_dir, self.runtime.model_metadata(), hyperparameters_json(cfg))
            from .run_record import RunFolder

            self.run_folder = RunFolder(self.run_dir, cfg, self.cfg)
            if self.run_folder.rows:       # a restarted trainer: wall time continues
                self.wall_offset = float(self.run_folder.rows[-1].get("wall_time_s") or 0.0)
        self.start_version = self.version
        self.latest_at_start = self.store.latest_pointer()
        self.stream.ensure_group()
        for entry in self.stream.reclaim(min_idle_ms=0):
            self._accept(entry)

    def _restore_optimizer(self, latest: Any) -> None:
        from .model_store import load_npz, sha256

        if "optimizer.npz" in latest.manifest.get("objects", {}):   # stores written before the side record
            data = self.store.load(latest.version, ["optimizer.npz"]).objects["optimizer.npz"]
        else:
            data = self.store.get_record(optimizer_key(latest.version))
            if data is not None and sha256(data) != self.state.get("optimizer_sha256"):
                log.warning("%s fails its checksum; the optimizer restarts from zero moments", optimizer_key(latest.version))
                data = None
        if data is None:
            log.warning("no optimizer state for version %d; Adam restarts from zero moments", latest.version)
            return
        groups = latest.objects.get("optimizer_groups.json")
        if is_sac_policy(self.model.policy):   # the replay buffer starts empty (workers refill it)
            sac.restore_optimizers(self.model, load_npz(data), groups)
        else:
            ppo.arrays_to_optimizer(self.model.policy.optimizer, load_npz(data), groups)

    # -- one stream entry --------------------------------------------------------------------
    def _drop(self, entry: StreamEntry, reason: str) -> None:
        self.counts[reason] += 1
        with (self.run_dir / "dropped_episodes.jsonl").open("a") as f:   # audit trail
            f.write(json.dumps({"episode_id": entry.episode_id, "reason": reason, "version": self.version}) + "\n")
        self.stream.ack([entry.entry_id])

    def _accept(self, entry: StreamEntry) -> None:
        try:
            rec = wire.decode(entry.data)
        except wire.WireError as exc:
            log.warning("dropping corrupt stream entry %s: %s", entry.entry_id, exc)
            return self._drop(entry, "dropped_corrupt")
        self.worker_seen[rec.worker_id] = time.monotonic()
        if rec.episode_id in self.seen or rec.episode_id in self.buffer:
            return self._drop(entry, "dropped_duplicate")
        lag = self.version - rec.policy_version
        if lag > self.cfg.max_policy_lag or lag < 0:
            return self._drop(entry, "dropped_stale")
        sha = rec.meta.get("policy_sha256")
        if sha is not None and sha != self._policy_sha(rec.policy_version):
            log.warning("dropping episode %s of worker %s: it acted with a policy this run never published as "
                        "version %d (a worker of another run on the same stream?)", rec.episode_id, rec.worker_id,
                        rec.policy_version)
            return self._drop(entry, "dropped_foreign")
        from stable_baselines3.common.preprocessing import get_obs_shape

        obs_shape = tuple(get_obs_shape(self.model.observation_space))
        obs = rec.arrays["obs"]
        if tuple(obs.shape[1:]) != obs_shape:   # would fail the PPO update, again after every restart
            log.warning("dropping episode %s of worker %s: observations %s do not fit the policy's %s",
                        rec.episode_id, rec.worker_id, tuple(obs.shape[1:]), obs_shape)
            return self._drop(entry, "dropped_mismatched")
        self.buffer[rec.episode_id] = (rec, entry)

    def active_workers(self, now: float | None = None) -> int:
        """Workers that delivered an episode in the last ``ACTIVE_WORKER_S`` seconds."""
        now = time.monotonic() if now is None else now
        return sum(1 for t in self.worker_seen.values() if now - t <= ACTIVE_WORKER_S)

    def episodes_needed(self) -> int:
        """Episodes the next update waits for: K, or ``max(K, k_per_worker x active workers)``."""
        k = self.cfg.num_episodes_between_training
        if self.cfg.k_per_worker is None:
            return k
        return max(k, self.cfg.k_per_worker * self.active_workers())

    def _policy_sha(self, version: int) -> str | None:
        """sha256 of the policy this run published as ``version`` (None: not this run's)."""
        if version not in self.policy_shas:
            ours = version <= self.start_version        # published before this trainer (re)started
            self.policy_shas[version] = self.store.policy_sha256(version) if ours else None
        return self.policy_shas[version]

    # -- one update --------------------------------------------------------------------------
    def _publish(self, used: list[wire.EpisodeRecord]) -> None:
        from .model_store import sha256

        ids = [r.episode_id for r in used]
        remembered = (list(self.state.get("consumed_episode_ids", [])) + ids)[-SEEN_IDS_KEPT:]
        ptr = self.store.latest_pointer() if self.version >= 0 else None
        if ptr is not None and ptr > max(self.version, self.latest_at_start if self.latest_at_start is not None else -1):
            raise ModelStoreError(f"{self.store.url}: version {ptr} was published by someone else after this "
                                  f"trainer's version {self.version}: two trainers on one model store? Stopping "
                                  f"(one trainer per store and stream)")
        version = self.store.next_version()
        if self.version >= 0 and version > self.version + 1:
            for skipped in range(self.version + 1, version):   # e.g. a trainer killed while publishing it
                log.warning("version %d was left incomplete or fails its checks: skipped, never overwritten "
                            "(this trainer continues from version %d as %d)", skipped, self.version, version)
        opt = dump_npz(optimizer_state(self.model)[0])
        self.store.put_record(optimizer_key(version), opt)      # before the version that names it
        self.state = {"version": version, "parent_version": self.version, "num_timesteps": int(self.model.num_timesteps),
                      "episodes_total": int(self.state.get("episodes_total", 0)) + len(used),
                      "optimizer_sha256": sha256(opt), "consumed_episode_ids": remembered}
        manifest = self.store.publish(version, model_objects(self.model, self.runtime, self.spec, self.state))
        self.policy_shas[version] = manifest["objects"]["policy.npz"]["sha256"]
        previous, self.version = self.version, version
        self.stream.announce(version)
        if previous >= 0:
            try:
                self.store.delete_record(optimizer_key(previous))   # only the newest one is ever restored
            except ModelStoreError as exc:
                log.warning("could not delete %s: %s", optimizer_key(previous), exc)
        self._retain()

    def _retain(self) -> None:
        """Keep the newest K + best-scoring + leased versions, delete the rest (:mod:`.retention`)."""
        if self.cfg.keep_versions is None:
            return
        from .retention import leased_versions, prune

        try:
            leased = leased_versions(self.stream.r, self.stream.settings)
        except Exception as exc:  # noqa: BLE001 - without the leases nothing is deleted this time
            log.warning("cannot read reader leases (%s); not deleting old versions now", exc)
            return
        deleted = prune(self.store, self.cfg.keep_versions, self.cfg.keep_best_versions, leased,
                        min_keep_last=self.cfg.max_policy_lag + 2)
        if deleted:
            log.info("retention: deleted model versions %s (leased: %s)", deleted, sorted(leased))

    def _latest_score(self) -> dict[str, Any] | None:
        """The evaluator's newest score record in the store (``evaluations/vNNNNNN.json``), if any."""
        for v in range(self.version, max(-1, self.version - 20), -1):
            if v in self.scores:
                return self.scores[v]
            raw = self.store.get_record(f"evaluations/v{v:06d}.json")
            if raw is not None:
                try:
                    self.scores[v] = json.loads(raw)
                    return self.scores[v]
                except ValueError:
                    continue
        return None

    def update(self) -> dict[str, Any]:
        records = [rec for rec, _ in self.buffer.values()]
        entries = [e for _, e in self.buffer.values()]
        t0 = time.monotonic()
        stats = (sac.sac_update if is_sac_policy(self.model.policy) else ppo.ppo_update)(self.model, records)
        self._publish(records)
        dt = time.monotonic() - t0
        self.train_s += dt
        # ACK only now: a crash before this point leaves the entries pending (reclaimed on restart)
        self.stream.ack([e.entry_id for e in entries])
        for r in records:
            self.seen[r.episode_id] = None
        while len(self.seen) > SEEN_IDS_KEPT:
            self.seen.popitem(last=False)
        self.buffer.clear()
        self.counts["episodes_used"] += len(records)
        self.counts["steps_used"] += sum(r.steps for r in records)
        wall = time.monotonic() - self.t_start
        progress = [float(r.meta["progress"]) for r in records if isinstance(r.meta.get("progress"), (int, float))]
        row = {
            "version": self.version, "wall_s": round(wall, 3), "update_s": round(dt, 3),
            "episodes": len(records), "steps": sum(r.steps for r in records),
            "mean_return": float(np.mean([float(np.sum(r.arrays["rewards"])) for r in records])),
            "mean_progress": float(np.mean(progress)) if progress else None,
            "lap_completion": float(np.mean([p >= 100.0 for p in progress])) if progress else None,
            "policy_lag": dict(collections.Counter(str(self.version - 1 - r.policy_version) for r in records)),
            "workers": dict(collections.Counter(r.worker_id for r in records)),
            "active_workers": self.active_workers(),
            "utilisation": round(self.train_s / max(wall, 1e-9), 4),
            **{k: int(v) for k, v in self.counts.items()},
            **{k: round(v, 6) for k, v in stats.items() if k.startswith("train/")},
        }
        with self.metrics_path.open("a") as f:
            f.write(json.dumps(row) + "\n")
        if self.run_folder is not None:
            self._record(row, records, stats)
        log.info("version %d: %d episodes, %d steps, mean return %.3f, update %.2f s, utilisation %.0f%%",
                 self.version, row["episodes"], row["steps"], row["mean_return"], dt, 100 * row["utilisation"])
        return row

    def _record(self, row: dict[str, Any], records: list[wire.EpisodeRecord], stats: dict[str, Any]) -> None:
        """The run-folder row (``deepracer train``'s columns) of this version, its checkpoint and plot;
        prints the version's progress line."""
        from .run_record import progress_line

        per_worker: dict[str, list[float]] = {}
        for r in records:
            w = per_worker.setdefault(r.worker_id, [0.0, 0.0])
            w[0] += r.steps
            w[1] += float(r.meta.get("wall_s") or 0.0)
        rates = {k: round(n / t, 1) for k, (n, t) in per_worker.items() if t > 0}
        steps = [r.steps for r in records]
        score = self._latest_score()
        prev = self.run_folder.rows[-1] if self.run_folder.rows else {}
        wall = self.wall_offset + row["wall_s"]
        out = {
            "iteration": self.version, "steps": int(self.model.num_timesteps), "wall_time_s": round(wall, 3),
            "n_steps": int(sum(steps)), "episodes": len(records),
            "episodes_total": int(self.state.get("episodes_total", 0)),
            "mean_reward": row["mean_return"], "mean_progress": row["mean_progress"],
            "lap_completion_rate": row["lap_completion"],
            "mean_episode_steps": float(np.mean(steps)) if steps else None,
            "entropy": -stats["train/entropy_loss"] if "train/entropy_loss" in stats else None,
            "policy_loss": stats.get("train/policy_gradient_loss"), "value_loss": stats.get("train/value_loss"),
            "approx_kl": stats.get("train/approx_kl"), "clip_fraction": stats.get("train/clip_fraction"),
            "explained_variance": stats.get("train/explained_variance"),
            "env_steps_per_s": round(sum(steps) / max(wall - float(prev.get("wall_time_s") or self.wall_offset), 1e-6), 1),
            "update_time_s": row["update_s"],
            "eval_completion_rate": score.get("success_rate") if score else None,
            "eval_mean_progress": score.get("mean_completion") if score else None,
            "eval_mean_lap_time_s": score.get("mean_lap_time_s") if score else None,
            "track": self.run_folder.cfg.track,
            # decoupled-only columns (metrics.jsonl)
            "eval_version": score.get("version") if score else None, "worker_steps_per_s": rates,
            "utilisation": row["utilisation"], "policy_lag": row["policy_lag"],
            "dropped_stale": row.get("dropped_stale", 0), "dropped_duplicate": row.get("dropped_duplicate", 0),
        }
        out = self.run_folder.record(self.model, out)
        print(progress_line(out), flush=True)

    def run(self) -> int:
        try:
            rc = self._run()
        except BaseException as exc:
            if self.run_folder is not None:
                self.run_folder.finish(f"{type(exc).__name__}: {exc}", failed=True)
            raise
        if self.run_folder is not None:
            self.run_folder.finish(self.stop_reason or "stopped")
        return rc

    def _run(self) -> int:
        self.stop_reason = ""
        self.restore_or_init()
        deadline = None if self.cfg.max_wall_time_s is None else self.t_start + self.cfg.max_wall_time_s
        while not self.stop():
            if self.cfg.max_versions is not None and self.version >= self.cfg.max_versions:
                log.info("reached max_versions=%d; stopping", self.cfg.max_versions)
                self.stop_reason = f"max_versions {self.cfg.max_versions} reached"
                break
            if deadline is not None and time.monotonic() > deadline:
                log.info("reached max_wall_time_s; stopping")
                self.stop_reason = f"max_wall_time_s {self.cfg.max_wall_time_s:g} reached"
                break
            for entry in self.stream.read(count=64, block_ms=300):
                self._accept(entry)
            if len(self.buffer) >= self.episodes_needed():
                self.update()
        return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="deepracer trainer", description=__doc__.split("\n\n")[0])
    common_arguments(parser)
    parser.add_argument("--num-episodes-between-training", type=int, dest="num_episodes_between_training")
    parser.add_argument("--k-per-worker", type=int, dest="k_per_worker",
                        help="update every max(K, this x active workers) episodes")
    parser.add_argument("--max-policy-lag", type=int, dest="max_policy_lag")
    parser.add_argument("--max-versions", type=int, dest="max_versions", help="stop after publishing this version")
    parser.add_argument("--training-config", dest="training", help="training config YAML (deepracer train's format)")
    parser.add_argument("--device", dest="trainer_device", help="torch device of the PPO update: cpu, cuda, auto")
    parser.add_argument("--consumer", default="trainer", help="consumer name in the Redis group")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        cfg = config_from_args(args, ("num_episodes_between_training", "k_per_worker", "max_policy_lag", "max_versions", "training",
                                     "trainer_device"))
        return Trainer(cfg, StopFlag(), consumer=args.consumer).run()
    except (ConfigError, ModelStoreError, TransportError, ValueError) as exc:
        print(f"deepracer trainer: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
