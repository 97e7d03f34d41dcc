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

* reward: built-in, vectorised; only ``reward_file: centerline`` (AWS's follow-the-centre-line
  example: 1.0 / 0.5 / 0.1 within 10 / 25 / 50 % of the track width, else 1e-3) is accepted, other
  reward files are refused with a one-line error (a Python reward per car per step would put the
  CPU back in the loop);
* episode rules: lap_complete (progress >= 100), off_track (no wheel on the road, AWS's rule),
  step_limit (episode.max_steps); starts uniformly random along the lap, forward direction;
  immobilized / reversed are not checked; truncation is treated as termination (no bootstrap);
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

from .config import ConfigError, TrainConfig, load_config, parse_override, save_yaml

__all__ = ["TorchTrainError", "train", "main"]


class TorchTrainError(RuntimeError):
    """The GPU trainer cannot run this config; the message names the key."""


def _centerline_reward(dist: torch.Tensor, width: torch.Tensor) -> torch.Tensor:
    return torch.where(dist <= 0.1 * width, 1.0, torch.where(dist <= 0.25 * width, 0.5,
                       torch.where(dist <= 0.5 * width, 0.1, 1e-3)))


class _Rollout:
    """N cars on the torch simulator with frame stacking, reward and episode rules, all tensors."""

    def __init__(self, cfg: TrainConfig, device: torch.device, compile_render: bool):
        from deepracer_sim.torch_sim import TorchBatchSim
        from deepracer_tracks.library import load_track

        self.track = load_track(cfg.track)
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
        self.max_steps = int(cfg.episode_config().max_steps)
        self.stack = cfg.hyperparameters.stack_size
        self.rng = np.random.default_rng(cfg.seed + 17)
        self.obs = torch.zeros((self.n, self.stack, 120, 160), dtype=torch.uint8, device=device)
        self.steps = torch.zeros(self.n, dtype=torch.int64, device=device)
        self.progress = torch.zeros(self.n, dtype=torch.float64, device=device)
        self.last_pct = torch.zeros(self.n, dtype=torch.float64, device=device)
        self.ep_return = torch.zeros(self.n, dtype=torch.float64, device=device)
        self._reset(np.arange(self.n))
        frame = self.sim.render()
        self.obs[:] = frame[:, None]

    def _reset(self, ids: np.ndarray) -> None:
        xy, heading = self.track.pose_at(self.rng.uniform(0.0, self.track.length_m, len(ids)))
        self.sim.reset(ids, xy[:, 0], xy[:, 1], heading)
        t = torch.as_tensor(ids, device=self.dev)
        q = self.sim.query()
        self.last_pct[t] = q["progress_pct"][t]
        self.progress[t] = 0.0
        self.steps[t] = 0
        self.ep_return[t] = 0.0

    def step(self, action: torch.Tensor):
        """-> reward (N,) float32, done (N,) bool, finished-episode stats (dict of tensors)."""
        self.sim.step(self.steer[action], self.speed[action])
        self.steps += 1
        q = self.sim.query()
        dp = q["progress_pct"] - self.last_pct
        dp = torch.where(dp < -50.0, dp + 100.0, torch.where(dp > 50.0, dp - 100.0, dp))
        self.progress += dp
        self.last_pct = q["progress_pct"]
        reward = _centerline_reward(q["distance_from_center_m"], 2.0 * q["half_width_m"])
        lap = self.progress >= 100.0
        off = ~self.sim.wheels_on_track().any(1)
        reward = torch.where(off, 1e-3, reward)
        done = lap | off | (self.steps >= self.max_steps)
        self.ep_return += reward
        stats = {"return": self.ep_return[done], "progress": self.progress[done].clamp(max=100.0),
                 "lap": lap[done], "steps": self.steps[done]}
        ids = torch.nonzero(done)[:, 0].cpu().numpy()
        if len(ids):
            self._reset(ids)
        frame = self.sim.render()
        if self.stack > 1:
            self.obs = torch.cat([self.obs[:, 1:], frame[:, None]], 1)
        else:
            self.obs = frame[:, None].contiguous()
        if len(ids):
            t = torch.as_tensor(ids, device=self.dev)
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


def train(cfg: TrainConfig, run_dir: str | Path, device: str = "cuda", iterations: int | None = None,
          bf16: bool = True, compile_render: bool = False, log=print) -> list[dict[str, Any]]:
    """PPO iterations of ppo.n_steps (default 128) steps x n_envs cars until `iterations` or, if None, the
    config's stop.max_iterations / max_steps / max_wall_time_s (one of them is required); returns the rows."""
    from . import checkpoint
    from .run_folder import (METADATA_FILE, RESOLVED_CONFIG, STATUS_FILE, append_metrics, checkpoint_path,
                             commit_checkpoint, write_json_atomic)

    if cfg.reward_file != "centerline":
        raise TorchTrainError(f"reward_file: the GPU trainer has built-in vectorised rewards only ('centerline'), "
                              f"got {cfg.reward_file!r}")
    if cfg.metadata().training_algorithm != "clipped_ppo":
        raise TorchTrainError("model_metadata.training_algorithm: the GPU trainer runs clipped_ppo only")
    stop = cfg.stop
    if iterations is None and stop.max_iterations is None and stop.max_steps is None and stop.max_wall_time_s is None:
        raise TorchTrainError("stop: the GPU trainer needs stop.max_iterations, stop.max_steps or stop.max_wall_time_s")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise TorchTrainError("device: cuda requested but torch sees no GPU")
    bf16 = bool(bf16 and dev.type == "cuda")
    torch.manual_seed(cfg.seed)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    env = _Rollout(cfg, dev, compile_render)
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
    rows, steps, episodes_total, t_start = [], 0, 0, time.perf_counter()
    it = 0
    while True:
        it += 1
        if iterations is not None and it > iterations:
            break
        if iterations is None and ((stop.max_iterations is not None and it > stop.max_iterations)
                                   or (stop.max_steps is not None and steps >= stop.max_steps)
                                   or (stop.max_wall_time_s is not None
                                       and time.perf_counter() - t_start >= stop.max_wall_time_s)):
            break
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
        steps += total
        cat = {k: torch.cat(v) if v else torch.zeros(0, device=dev) for k, v in ep.items()}
        n_ep = int(cat["return"].numel())
        episodes_total += n_ep
        var_y = float(b_ret.var())
        row = {"iteration": it, "steps": steps, "wall_time_s": round(time.perf_counter() - t_start, 3), "n_steps": T,
               "episodes": n_ep, "episodes_total": episodes_total,
               "mean_reward": float(cat["return"].mean()) if n_ep else None,
               "mean_progress": float(cat["progress"].mean()) if n_ep else None,
               "lap_completion_rate": float(cat["lap"].float().mean()) if n_ep else None,
               "mean_episode_steps": float(cat["steps"].float().mean()) if n_ep else None,
               "entropy": float(entropy.detach()), "policy_loss": float(pg.detach()),
               "value_loss": float(vloss.detach()),
               "approx_kl": float(torch.stack(kls).mean()), "clip_fraction": float(torch.stack(clipfracs).mean()),
               "explained_variance": (1.0 - float((b_ret - b_val).var()) / var_y) if var_y > 0 else None,
               "env_steps_per_s": round(total / t_roll, 1), "rollout_time_s": round(t_roll, 3),
               "update_time_s": round(t_upd, 3), "track": cfg.track}
        t2 = time.perf_counter()
        path = checkpoint_path(run_dir, it)
        path.parent.mkdir(parents=True, exist_ok=True)
        opt_arrays, _groups = checkpoint.optimizer_to_arrays(opt)
        info = {"iteration": it, "steps": steps, "trainer": "torch", "device": str(dev)}
        checkpoint.write(path, cfg.to_dict(), checkpoint.policy_to_arrays(policy), opt_arrays, obs_space, act_space,
                         num_timesteps=steps, n_updates=it * int(hp.num_epochs), training=info)
        row["save_time_s"] = round(time.perf_counter() - t2, 3)
        append_metrics(run_dir, row)
        commit_checkpoint(path, info)
        rows.append(row)
        write_json_atomic({"state": "running", "pid": os.getpid(), "iteration": it, "steps": steps,
                           "trainer": "torch", "last_checkpoint": str(path)}, run_dir / STATUS_FILE)
        if log:
            log(f"iter {it}: steps {steps}, {row['env_steps_per_s']:,.0f} env steps/s, rollout {t_roll:.2f}s, "
                f"update {t_upd:.2f}s, episodes {n_ep}, progress {row['mean_progress']}, "
                f"laps {row['lap_completion_rate']}")
    write_json_atomic({"state": "finished", "iteration": it - 1, "steps": steps, "trainer": "torch",
                       "wall_time_s": round(time.perf_counter() - t_start, 3)}, run_dir / STATUS_FILE)
    return rows


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
