"""GPU training: the torch simulator + a compact PPO (CleanRL style) with everything on one device.

    python -m deepracer_agent.torch_train RUN_DIR [--config FILE] [--device cuda|cpu] [--iterations K]
        [--set key=value ...] [--no-bf16] [--compile]

The CPU path (``deepracer train``: numba BatchSim + SB3 PPO) is unchanged and stays the default;
nothing on it imports this module. Here rollouts (`deepracer_sim.torch_sim.TorchBatchSim`: physics
and camera frames as tensors), the reward, the episode rules, GAE and the PPO updates all run on
``--device``: no frame ever leaves the GPU. The policy is the SAME SB3 ``ActorCriticCnnPolicy`` with
the DeepRacer networks (`networks.policy_kwargs_for`) that `checkpoint.make_policy` rebuilds, so the
run folder it writes (`run_folder`: ``config.resolved.yaml``, ``model_metadata.json``, ``checkpoints/iter_NNNNNN.zip``
+ sidecar, ``metrics.csv`` / ``metrics.jsonl`` rows with `train.METRIC_FIELDS`, ``status.json``)
works with ``deepracer evaluate`` and ``export``.

Differences from the CPU trainer (deliberate, for throughput):

* reward: ``reward_file: centerline`` runs built in, vectorised on the device (AWS's
  follow-the-centre-line example: 1.0 / 0.5 / 0.1 within 10 / 25 / 50 % of the track width, else
  1e-3); any other reward file (a user's ``reward_function(params)``) runs per car on the CPU,
  exactly as ``deepracer train`` runs it (the same params builder, one instance per car, the same
  timeout): each step pulls the cars' state (a few numbers per car) to the host. That costs tens
  of microseconds per car and step, so it is accepted up to `PY_REWARD_MAX_CARS` cars;
* episode rules: `deepracer_sim.episode`'s (progress at the reference point, episode.direction,
  lap_complete / off_track / immobilized / reversed / step_limit) on tensors, but starts are
  uniformly random along the lap and truncation is treated as termination (no bootstrap);
* checkpoints and metrics rows are written on a background thread (at most one checkpoint in
  flight, ``checkpoints.every_s`` apart); the renderer is compiled from `COMPILE_MIN_CARS` cars on;
* discrete action spaces only; minibatch = max(hyperparameters.batch_size, samples / 8);
* bf16 autocast (CUDA only) for the network forward passes, in rollouts and updates alike (the
  same numeric path, so the PPO ratio starts at ~1); logits, values and losses in float32.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .config import ConfigError, TrainConfig, check_inputs, load_config, parse_override, save_yaml

__all__ = ["TorchTrainError", "train", "main"]


class TorchTrainError(RuntimeError):
    """The GPU trainer cannot run this config; the message names the key."""


def _centerline_reward(dist: torch.Tensor, width: torch.Tensor) -> torch.Tensor:
    return torch.where(dist <= 0.1 * width, 1.0, torch.where(dist <= 0.25 * width, 0.5,
                       torch.where(dist <= 0.5 * width, 0.1, 1e-3)))


#: most cars a Python reward file (run per car on the CPU each step) is accepted for
PY_REWARD_MAX_CARS = 1024


class _Rollout:
    """N cars on the torch simulator with frame stacking, reward and episode rules, all tensors.

    The episode rules are `deepracer_sim.episode`'s, vectorised: progress at the reward reference
    point (0.14 m ahead of base_link) from each episode's start along its driven direction,
    unwrapped across the start line; the direction per episode from ``episode.direction``
    (forward / reversed / alternate / random); termination lap_complete, off_track (either
    ``off_track_rule``), immobilized, reversed, step_limit, first that applies. Starts are uniformly
    random along the lap (``episode.start`` is not used: thousands of cars cover the lap anyway).
    """

    def __init__(self, cfg: TrainConfig, device: torch.device, compile_render: bool, reward_fn: Any = None,
                 track: Any = None):
        from deepracer_sim.episode import REFERENCE_POINT_OFFSET_M
        from deepracer_sim.torch_sim import TorchBatchSim, TorchTrack
        from deepracer_tracks.library import load_track

        self.track = track if track is not None else load_track(cfg.track)
        self.n = cfg.n_envs
        self.dev = device
        self.sim = TorchBatchSim(self.track, self.n, cfg.sim_config(), seed=cfg.seed, device=device,
                                 compile=compile_render)
        if (self.sim.height, self.sim.width, self.sim.channels) != (120, 160, 1):
            raise TorchTrainError("sim: the GPU trainer needs the default 160x120 gray camera output")
        meta = cfg.metadata()
        if not meta.is_discrete:
            raise TorchTrainError("model_metadata.action_space: the GPU trainer supports discrete action spaces only")
        table = torch.as_tensor(meta.action_table(), dtype=torch.float64, device=device)  # (A, 2): deg, m/s
        self.steer = torch.deg2rad(table[:, 0])
        self.speed = table[:, 1].contiguous()
        self.table_np = table.cpu().numpy()
        self.reward_fns: list[Any] = []
        if reward_fn is not None:              # a Python reward: one instance per car, params on the CPU
            from .batch import reward_instances
            from .reward import ParamsBuilder

            self.reward_fns = reward_instances(reward_fn, self.n)
            self.params_builder = ParamsBuilder(self.track, self.track.reversed())
        self.ep = cfg.episode_config()
        self.max_steps = int(self.ep.max_steps)
        self.ref_offset = REFERENCE_POINT_OFFSET_M
        self.tracks = (self.sim.track, TorchTrack(self.track.reversed(), device))   # forward, reversed
        self.cpu_tracks = (self.track, self.track.reversed())
        self.stack = cfg.hyperparameters.stack_size
        self.rng = np.random.default_rng(cfg.seed + 17)
        self.episodes_started = 0
        self.obs = torch.zeros((self.n, self.stack, 120, 160), dtype=torch.uint8, device=device)
        z = lambda dtype=torch.float64: torch.zeros(self.n, dtype=dtype, device=device)  # noqa: E731
        self.steps, self.backwards, self.immobile = z(torch.int64), z(torch.int64), z(torch.int64)
        self.progress, self.start_s, self.ep_return = z(), z(), z()
        self.is_rev = z(torch.bool)
        self.is_rev_host = np.zeros(self.n, dtype=bool)     # the same, on the host: no sync to test it
        self.last_xy = torch.zeros((self.n, 2), dtype=torch.float64, device=device)
        self._reset(np.arange(self.n))
        frame = self.sim.render()
        self.obs[:] = frame[:, None]

    # -- geometry of the driven direction ----------------------------------------------------
    def _ref_xy(self) -> torch.Tensor:
        s = self.sim
        return torch.stack([s.x + self.ref_offset * torch.cos(s.yaw), s.y + self.ref_offset * torch.sin(s.yaw)], -1)

    def _query(self, xy: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(raw progress % from each car's start along its driven track, distance from centre m,
        half width m) at points xy (N, 2): `Track.progress_pct` of the forward or reversed track."""
        qf = self.tracks[0].query(xy)
        s_m = qf["s_m"]
        if self.is_rev_host.any():
            qr = self.tracks[1].query(xy)
            s_m = torch.where(self.is_rev, qr["s_m"], s_m)
        length = self.track.length_m
        if self.track.closed:
            raw = 100.0 * torch.remainder(s_m - self.start_s, length) / length
            raw = torch.where(raw >= 100.0, 0.0, raw)
        else:
            raw = (100.0 * (s_m - self.start_s) / (length - self.start_s).clamp(min=1e-12)).clamp(0.0, 100.0)
        return raw, qf["distance_from_center_m"], qf["half_width_m"]

    @staticmethod
    def _unwrap(cur: torch.Tensor, prev: torch.Tensor) -> torch.Tensor:
        """`deepracer_sim.episode.unwrap_progress` on tensors."""
        cur = torch.where(prev > cur + 50.0, cur + 100.0, cur)
        cur = torch.where(cur > prev + 50.0, cur - 100.0, cur)
        return torch.where(cur >= 100.0 - 1e-9, 100.0, cur)

    def _directions(self, count: int) -> np.ndarray:
        d = self.ep.direction
        k = self.episodes_started + np.arange(count)
        self.episodes_started += count
        if d == "forward":
            return np.zeros(count, dtype=bool)
        if d == "reversed":
            return np.ones(count, dtype=bool)
        if d == "alternate":
            return (k % 2) == 1
        return self.rng.random(count) < 0.5

    def _reset(self, ids: np.ndarray) -> None:
        rev = self._directions(len(ids))
        start = self.rng.uniform(0.0, self.track.length_m, len(ids))
        xy, heading = np.zeros((len(ids), 2)), np.zeros(len(ids))
        for direction in (False, True):
            sel = rev == direction
            if sel.any():
                xy[sel], heading[sel] = self.cpu_tracks[int(direction)].pose_at(start[sel])
        self.sim.reset(ids, xy[:, 0], xy[:, 1], heading)
        t = torch.as_tensor(ids, device=self.dev)
        self.is_rev[t] = torch.as_tensor(rev, device=self.dev)
        self.is_rev_host[ids] = rev
        self.start_s[t] = torch.as_tensor(start, dtype=torch.float64, device=self.dev)
        raw, _, _ = self._query(self._ref_xy())
        self.progress[t] = self._unwrap(raw[t], torch.zeros_like(raw[t]))
        self.steps[t] = 0
        self.backwards[t] = 0
        self.immobile[t] = 0
        self.last_xy[t] = torch.stack([self.sim.x[t], self.sim.y[t]], -1)
        self.ep_return[t] = 0.0

    def _python_reward(self, action: torch.Tensor, progress: torch.Tensor, wheels: torch.Tensor,
                       off_now: torch.Tensor) -> torch.Tensor:
        """The reward file per car on the CPU, with ``deepracer train``'s params (`batch.DeepRacerBatch.step`)."""
        from deepracer_sim.episode import query_progress

        from .reward import CarState

        ref = self._ref_xy().cpu().numpy()
        is_rev, start = self.is_rev.cpu().numpy(), self.start_s.cpu().numpy()
        query, _raw = query_progress(self.cpu_tracks, ref, is_rev, start)
        act = self.table_np[action.cpu().numpy()]
        steps = self.steps.cpu().numpy()
        car = CarState(xy=ref, yaw_rad=self.sim.yaw.cpu().numpy(), steering_deg=act[:, 0], speed_m_s=act[:, 1],
                       progress_pct=progress.cpu().numpy(), steps=steps,
                       all_wheels_on_track=wheels.all(1).cpu().numpy(), is_offtrack=off_now.cpu().numpy(),
                       is_reversed=is_rev, sim_time_s=steps * self.sim.dt_s)
        params = self.params_builder.build(car, query)
        values = [fn(p) for fn, p in zip(self.reward_fns, params)]
        return torch.as_tensor(values, dtype=torch.float64, device=self.dev)

    def step(self, action: torch.Tensor):
        """-> reward (N,) float32, done (N,) bool, finished-episode stats (dict of tensors)."""
        self.sim.step(self.steer[action], self.speed[action])
        self.steps += 1
        raw, dist, half = self._query(self._ref_xy())
        progress = self._unwrap(raw, self.progress)
        base = torch.stack([self.sim.x, self.sim.y], -1)
        moved = torch.linalg.vector_norm(base - self.last_xy, dim=-1)
        self.immobile = torch.where(moved <= self.ep.immobilized_distance_m, self.immobile + 1, 0)
        self.backwards = torch.where(progress < self.progress, self.backwards + 1, 0)
        self.last_xy = base
        self.progress = progress
        lap = progress >= 100.0
        wheels = self.sim.wheels_on_track()
        if self.ep.off_track_rule == "deepracer":
            off_now = ~wheels.any(1)
        else:
            off_now = dist > half
        off = off_now & ~lap
        if self.reward_fns:
            reward = self._python_reward(action, progress, wheels, off_now)
        else:
            reward = torch.where(off, 1e-3, _centerline_reward(dist, 2.0 * half))
        done = (lap | off | (self.immobile >= self.ep.immobilized_steps) | (self.backwards >= self.ep.reversed_steps)
                | (self.steps >= self.max_steps))
        self.ep_return += reward
        t = torch.nonzero(done)[:, 0]           # gathers by index: the one device -> host sync is `ids`
        stats = {"return": self.ep_return[t], "progress": self.progress[t].clamp(min=0.0, max=100.0),
                 "lap": lap[t], "steps": self.steps[t]}
        ids = t.cpu().numpy()
        if len(ids):
            self._reset(ids)
        frame = self.sim.render()
        if self.stack > 1:
            self.obs = torch.cat([self.obs[:, 1:], frame[:, None]], 1)
        else:
            self.obs = frame[:, None].contiguous()
        if len(ids):
            self.obs[t] = frame[t][:, None].expand(-1, self.stack, -1, -1)
        return reward.to(torch.float32), done, stats


def _policy(cfg: TrainConfig, device: torch.device):
    from stable_baselines3.common.policies import ActorCriticCnnPolicy

    from .checkpoint import expected_spaces
    from .networks import policy_kwargs_for

    obs, act = expected_spaces(cfg)
    lr = float(cfg.hyperparameters.lr)
    return ActorCriticCnnPolicy(obs, act, lambda _p: lr, **policy_kwargs_for(cfg.metadata(), cfg.network_options())
                                ).to(device), obs, act


def _forward(policy, obs: torch.Tensor, bf16: bool):
    """(logits float32 (B, A), values float32 (B,)) for uint8 observations."""
    with torch.autocast(device_type=obs.device.type, dtype=torch.bfloat16, enabled=bf16):
        x = obs.float()
        pi_f, vf_f = policy.extract_features(x)
        latent_pi = policy.mlp_extractor.forward_actor(pi_f)
        latent_vf = policy.mlp_extractor.forward_critic(vf_f)
        logits = policy.action_net(latent_pi)
        values = policy.value_net(latent_vf)
    return logits.float(), values.float()[:, 0]


#: the renderer is compiled (torch.compile, ~8 s once) from this many cars on; fewer cars render
#: eagerly (launch-bound there, and the compile would eat a short training run).
COMPILE_MIN_CARS = 1024


class _CheckpointWriter:
    """Writes metrics rows and checkpoints on one background thread, in iteration order, while the
    GPU trains on. A checkpoint (~140 MB with the SHALLOW network: npz, zip, fsync, sha256) takes
    longer than a short iteration, so at most one is in flight: an iteration that finds one still
    being written records its row only (its checkpoint is skipped). ``every_s``: at most one
    checkpoint per this many seconds of training wall time. Row, then sidecar: a complete
    checkpoint always has its row (as ``deepracer train``)."""

    def __init__(self, run_dir: Path, cfg: TrainConfig, obs_space, act_space, every_s: float | None, dev):
        from concurrent.futures import ThreadPoolExecutor

        self.run_dir, self.cfg_dict, self.every_s = run_dir, cfg.to_dict(), every_s
        self.obs_space, self.act_space, self.copy = obs_space, act_space, dev.type == "cpu"
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="checkpoints")
        self.jobs: list[Any] = []
        self.pending = None
        self.last_wall: float | None = None
        self.last_iteration = 0

    def wants(self, wall_s: float) -> bool:
        busy = self.pending is not None and not self.pending.done()
        due = self.every_s is None or self.last_wall is None or wall_s - self.last_wall >= self.every_s
        return due and not busy

    def submit(self, row: dict[str, Any], policy, opt, epochs: int, with_checkpoint: bool) -> None:
        from . import checkpoint

        arrays = None
        if with_checkpoint:          # snapshot now (GPU -> host copies): training goes on meanwhile
            t0 = time.perf_counter()
            pol = checkpoint.policy_to_arrays(policy)
            opt_arrays, _groups = checkpoint.optimizer_to_arrays(opt)
            if self.copy:            # CPU tensors share memory with the live weights
                opt_arrays = {k: np.array(v, copy=True) for k, v in opt_arrays.items()}
            arrays = (pol, opt_arrays)
            row["save_time_s"] = round(time.perf_counter() - t0, 3)
            self.last_wall, self.last_iteration = row["wall_time_s"], row["iteration"]
        fut = self.pool.submit(self._write, dict(row), arrays, epochs)
        self.jobs.append(fut)
        if with_checkpoint:
            self.pending = fut
        for f in [f for f in self.jobs if f.done()]:
            f.result()               # a failed write stops training with its error
            self.jobs.remove(f)

    def _write(self, row: dict[str, Any], arrays, epochs: int) -> None:
        from . import checkpoint
        from .run_folder import STATUS_FILE, append_metrics, checkpoint_path, commit_checkpoint, write_json_atomic

        it, steps = row["iteration"], row["steps"]
        path = checkpoint_path(self.run_dir, it)
        info = {"iteration": it, "steps": steps, "trainer": "torch", "device": row.get("device"),
                "wall_time_s": row["wall_time_s"]}
        if arrays is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            checkpoint.write(path, self.cfg_dict, arrays[0], arrays[1], self.obs_space, self.act_space,
                             num_timesteps=steps, n_updates=it * epochs, training=info)
        append_metrics(self.run_dir, row)
        if arrays is not None:
            commit_checkpoint(path, info)
            write_json_atomic({"state": "running", "pid": os.getpid(), "iteration": it, "steps": steps,
                               "trainer": "torch", "last_checkpoint": str(path)}, self.run_dir / STATUS_FILE)

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        for f in self.jobs:
            f.result()


def _final_checkpoint(run_dir: Path, cfg: TrainConfig, last: dict[str, Any], policy, opt, obs_space, act_space,
                      dev: torch.device) -> None:
    """The checkpoint of the run's last iteration (its metrics row is on disk already)."""
    from . import checkpoint
    from .run_folder import checkpoint_path, commit_checkpoint

    path = checkpoint_path(run_dir, last["iteration"])
    info = {"iteration": last["iteration"], "steps": last["steps"], "trainer": "torch", "device": str(dev),
            "wall_time_s": last["wall_time_s"]}
    path.parent.mkdir(parents=True, exist_ok=True)
    opt_arrays, _groups = checkpoint.optimizer_to_arrays(opt)
    checkpoint.write(path, cfg.to_dict(), checkpoint.policy_to_arrays(policy), opt_arrays, obs_space, act_space,
                     num_timesteps=last["steps"], n_updates=last["iteration"] * int(cfg.hyperparameters.num_epochs),
                     training=info)
    commit_checkpoint(path, info)


def _check(cfg: TrainConfig, iterations: int | None, device: str) -> torch.device:
    """What the GPU trainer refuses, in one line each (before any model is built); the torch device."""
    if cfg.reward_file != "centerline" and cfg.n_envs > PY_REWARD_MAX_CARS:
        raise TorchTrainError(f"reward_file: {cfg.reward_file!r} runs per car on the CPU in the GPU trainer, "
                              f"for at most {PY_REWARD_MAX_CARS} cars (n_envs is {cfg.n_envs}); lower n_envs "
                              f"or use the built-in vectorised 'centerline'")
    if cfg.metadata().training_algorithm != "clipped_ppo":
        raise TorchTrainError("model_metadata.training_algorithm: the GPU trainer runs clipped_ppo only")
    if cfg.invariance_options().enabled:
        raise TorchTrainError("regularisation.invariance: the GPU trainer does not run it yet; use device=cuda-sb3 "
                              "(SB3 PPO, its update on the GPU)")
    if iterations is None and cfg.stop.max_iterations is None and cfg.stop.max_steps is None \
            and cfg.stop.max_wall_time_s is None and cfg.stop.target_eval_completion is None:
        raise TorchTrainError("stop: the GPU trainer needs stop.max_iterations, stop.max_steps, stop.max_wall_time_s "
                              "or stop.target_eval_completion")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise TorchTrainError("device: cuda requested but torch sees no GPU")
    return dev


def train(cfg: TrainConfig, run_dir: str | Path, device: str = "cuda", iterations: int | None = None,
          bf16: bool = True, compile_render: bool | None = None, log=print,
          inputs: tuple[Any, Any] | None = None) -> tuple[list[dict[str, Any]], str]:
    """PPO iterations of ppo.n_steps (default 128) steps x n_envs cars until `iterations` or, if None, the
    first of the config's stop conditions (`callbacks.stop_reason`: the same as ``deepracer train``'s,
    ``stop.target_eval_completion`` included; a bound or the target is required); returns (rows, stop
    reason). ``compile_render`` None: compile on CUDA from `COMPILE_MIN_CARS` cars on. The last
    iteration always has a checkpoint (written before this returns); Ctrl-C / SIGTERM (as
    ``KeyboardInterrupt``) ends the iteration in progress and stops with reason "interrupted".

    In-training evaluation and the curriculum follow ``deepracer train``'s rules, from the same
    functions (`callbacks.evaluation_due`, `robust_eval_fields`, `curriculum_passed`,
    `counted_for_stop`): with ``stop.target_eval_completion`` or ``curriculum.randomize_after_eval`` set,
    every ``evaluation.every_iterations``
    (from ``evaluation.start_after_steps``) the policy runs ``evaluation.trials`` robust trials on the
    CPU simulator (rows get eval_* fields; its time is in ``eval_time_s`` and in ``wall_time_s``).
    With the curriculum, training starts without ``sim.randomization`` and switches to new
    simulators with it once the nominal evaluation reaches ``randomize_after_eval``; only
    evaluations under the randomization count for the target.
    """
    from types import SimpleNamespace

    from .callbacks import counted_for_stop, curriculum_message, curriculum_passed, evaluation_due, \
        robust_eval_fields, stop_reason
    from .run_folder import METADATA_FILE, RESOLVED_CONFIG, STATUS_FILE, write_json_atomic

    dev = _check(cfg, iterations, device)
    track, reward = inputs if inputs is not None else check_inputs(cfg)       # ConfigError: one line
    reward_fn = None if cfg.reward_file == "centerline" else reward          # centerline: vectorised, built in
    bf16 = bool(bf16 and dev.type == "cuda")
    torch.manual_seed(cfg.seed)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if compile_render is None:
        compile_render = dev.type == "cuda" and cfg.n_envs >= COMPILE_MIN_CARS
    nominal = cfg.without_randomization() if cfg.holds_back_randomization else None   # the curriculum's phase 1
    env = _Rollout(nominal or cfg, dev, compile_render, reward_fn, track)
    policy, obs_space, act_space = _policy(cfg, dev)
    opt = policy.optimizer
    save_yaml(cfg.to_dict(), run_dir / RESOLVED_CONFIG)
    cfg.metadata().save(run_dir / METADATA_FILE)
    write_json_atomic({"state": "running", "pid": os.getpid(), "iteration": 0, "trainer": "torch"},
                      run_dir / STATUS_FILE)
    hp, ppo = cfg.hyperparameters, cfg.ppo
    T, N = int(ppo.n_steps or 128), env.n
    gamma, lam, clip = float(hp.discount_factor), float(ppo.gae_lambda), float(ppo.clip_range)
    ent_coef, vf_coef, max_norm = float(hp.beta_entropy), float(ppo.vf_coef), float(ppo.max_grad_norm)
    total = T * N
    mb = max(int(hp.batch_size), total // 8)
    obs_buf = torch.zeros((T, N) + tuple(obs_space.shape), dtype=torch.uint8, device=dev)
    act_buf = torch.zeros((T, N), dtype=torch.int64, device=dev)
    logp_buf, val_buf, rew_buf, done_buf = (torch.zeros((T, N), device=dev) for _ in range(4))
    writer = _CheckpointWriter(run_dir, cfg, obs_space, act_space, cfg.checkpoints.every_s, dev)

    def run_iteration(env: _Rollout) -> dict[str, Any]:
        """One rollout of T steps x N cars, GAE and the PPO epochs; the row's training fields."""
        t0 = time.perf_counter()
        ep = {"return": [], "progress": [], "lap": [], "steps": []}
        policy.set_training_mode(False)
        with torch.no_grad():
            for t in range(T):
                obs_buf[t] = env.obs
                logits, values = _forward(policy, env.obs, bf16)
                dist = torch.distributions.Categorical(logits=logits)
                a = dist.sample()
                act_buf[t], logp_buf[t], val_buf[t] = a, dist.log_prob(a), values
                r, d, st = env.step(a)
                rew_buf[t], done_buf[t] = r, d.float()
                for k in ep:
                    ep[k].append(st[k])
            _, next_v = _forward(policy, env.obs, bf16)
            adv = torch.zeros_like(rew_buf)
            last = torch.zeros(N, device=dev)
            for t in reversed(range(T)):
                nv = next_v if t == T - 1 else val_buf[t + 1]
                nonterm = 1.0 - done_buf[t]
                delta = rew_buf[t] + gamma * nv * nonterm - val_buf[t]
                last = delta + gamma * lam * nonterm * last
                adv[t] = last
            ret = adv + val_buf
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        t_roll = time.perf_counter() - t0
        t1 = time.perf_counter()
        policy.set_training_mode(True)
        b_obs, b_act = obs_buf.reshape((total,) + tuple(obs_space.shape)), act_buf.reshape(-1)
        b_logp, b_adv, b_ret, b_val = logp_buf.reshape(-1), adv.reshape(-1), ret.reshape(-1), val_buf.reshape(-1)
        clipfracs, kls = [], []
        for _epoch in range(int(hp.num_epochs)):
            perm = torch.randperm(total, device=dev)
            for s in range(0, total, mb):
                idx = perm[s:s + mb]
                logits, v = _forward(policy, b_obs[idx], bf16)
                dist = torch.distributions.Categorical(logits=logits)
                newlogp = dist.log_prob(b_act[idx])
                ratio = torch.exp(newlogp - b_logp[idx])
                a_mb = b_adv[idx]
                if ppo.normalize_advantage:
                    a_mb = (a_mb - a_mb.mean()) / (a_mb.std() + 1e-8)
                pg = torch.max(-a_mb * ratio, -a_mb * ratio.clamp(1 - clip, 1 + clip)).mean()
                vloss = 0.5 * ((v - b_ret[idx]) ** 2).mean()
                entropy = dist.entropy().mean()
                loss = pg + vf_coef * vloss - ent_coef * entropy
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(policy.parameters(), max_norm)
                opt.step()
                with torch.no_grad():
                    kls.append(((ratio - 1) - torch.log(ratio)).mean())
                    clipfracs.append(((ratio - 1).abs() > clip).float().mean())
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        t_upd = time.perf_counter() - t1
        cat = {k: torch.cat(v) if v else torch.zeros(0, device=dev) for k, v in ep.items()}
        n_ep = int(cat["return"].numel())
        var_y = float(b_ret.var())
        return {"n_steps": T, "episodes": n_ep,
                "mean_reward": float(cat["return"].mean()) if n_ep else None,
                "mean_progress": float(cat["progress"].mean()) if n_ep else None,
                "lap_completion_rate": float(cat["lap"].float().mean()) if n_ep else None,
                "mean_episode_steps": float(cat["steps"].float().mean()) if n_ep else None,
                "entropy": float(entropy.detach()), "policy_loss": float(pg.detach()),
                "value_loss": float(vloss.detach()),
                "approx_kl": float(torch.stack(kls).mean()), "clip_fraction": float(torch.stack(clipfracs).mean()),
                "explained_variance": (1.0 - float((b_ret - b_val).var()) / var_y) if var_y > 0 else None,
                "env_steps_per_s": round(total / t_roll, 1), "rollout_time_s": round(t_roll, 3),
                "update_time_s": round(t_upd, 3)}

    rows, steps, episodes_total, t_start = [], 0, 0, time.perf_counter()
    it, reason = 0, ""
    try:
        while not reason:
            it += 1
            if iterations is not None and it > iterations:
                reason = f"{iterations} iterations done"
                break
            row = run_iteration(env)
            steps += total
            episodes_total += row["episodes"]
            row.update(iteration=it, steps=steps, episodes_total=episodes_total, track=cfg.track, device=str(dev),
                       eval_completion_rate=None, eval_mean_progress=None, eval_mean_lap_time_s=None, eval_time_s=None)
            if evaluation_due(cfg, it, steps):     # deepracer train's rules and evaluation (callbacks.py)
                row.update(robust_eval_fields(SimpleNamespace(policy=policy), nominal or cfg, env.track, cfg.seed))
            if cfg.curriculum.randomize_after_eval is not None:
                row["randomized"] = nominal is None
            row["wall_time_s"] = round(time.perf_counter() - t_start, 3)
            writer.submit(row, policy, opt, int(hp.num_epochs), writer.wants(row["wall_time_s"]))
            rows.append(row)
            if log:
                log(f"iter {it}: steps {steps}, {row['env_steps_per_s']:,.0f} env steps/s, rollout "
                    f"{row['rollout_time_s']:.2f}s, update {row['update_time_s']:.2f}s, episodes {row['episodes']}, "
                    f"progress {row['mean_progress']}, laps {row['lap_completion_rate']}"
                    + (f", robust eval {row['eval_completion_rate']:.0%}" if row["eval_time_s"] is not None else ""))
            if iterations is None:
                reason = stop_reason(cfg, counted_for_stop(row), episodes_total, it)
            if not reason and nominal is not None and curriculum_passed(cfg, row):
                nominal = None
                env = _Rollout(cfg, dev, compile_render, reward_fn, track)   # new simulators, the same policy
                if log:
                    log(curriculum_message(cfg, row, it))
    except KeyboardInterrupt:
        reason = "interrupted"
    if log and reason:
        log(f"stopped: {reason} after {len(rows)} iterations, {steps} steps")
    train_wall = time.perf_counter() - t_start
    if rows and writer.last_iteration != rows[-1]["iteration"]:   # the last iteration: always a checkpoint
        writer.close()                     # its row is on disk once the queue is drained
        _final_checkpoint(run_dir, cfg, rows[-1], policy, opt, obs_space, act_space, dev)
    writer.close()
    write_json_atomic({"state": "finished", "stop_reason": reason, "iteration": len(rows), "steps": steps,
                       "trainer": "torch", "wall_time_s": round(train_wall, 3)}, run_dir / STATUS_FILE)
    return rows, reason


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="deepracer_agent.torch_train", description=__doc__.splitlines()[0])
    ap.add_argument("run_dir")
    ap.add_argument("--config", default=None, help="training config YAML (default: built-in defaults)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override")
    ap.add_argument("--device", default="cuda", help="torch device: cuda (default) or cpu")
    ap.add_argument("--iterations", type=int, default=None, help="default: the config's stop conditions")
    ap.add_argument("--no-bf16", action="store_true", help="float32 forward passes")
    ap.add_argument("--compile", action="store_true", help="torch.compile the renderer")
    a = ap.parse_args(argv)
    try:
        if a.config:
            cfg = load_config(a.config, a.set)
        else:
            data: dict[str, Any] = {}
            for text in a.set:
                keys, value = parse_override(text)
                d = data
                for k in keys[:-1]:
                    d = d.setdefault(k, {})
                d[keys[-1]] = value
            cfg = TrainConfig.from_dict(data)
        train(cfg, a.run_dir, a.device, a.iterations, bf16=not a.no_bf16, compile_render=a.compile)
    except (ConfigError, TorchTrainError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
