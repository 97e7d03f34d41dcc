"""``deepracer train``: PPO or SAC (:mod:`deepracer_agent.sac`) on N cars of the embedded simulator, one run folder.

    deepracer train [--config FILE] [--run-dir DIR] [--resume] [key.sub=value ...]

One training iteration = one PPO rollout (``n_envs`` cars x ``n_steps`` steps, see
:mod:`deepracer_agent.config` for how ``num_episodes_between_training`` sets ``n_steps``) + one PPO
update (``num_epochs`` passes, minibatches of ``batch_size``). After every iteration:

- ``checkpoints/iter_NNNNNN.zip`` (:mod:`deepracer_agent.checkpoint` format: JSON + numpy arrays,
  no pickle; written to a temp file then ``os.replace``) and its
  sidecar ``iter_NNNNNN.json`` (iteration, steps, wall time, size and sha256 of the zip), written
  after the zip AND the iteration's metrics row: a checkpoint is COMPLETE when its sidecar exists
  and matches the zip, and then its metrics row exists too;
- one row in ``metrics.csv`` and ``metrics.jsonl``; TensorBoard scalars in ``tensorboard/``;
- ``training_progress.png`` (progress against wall time, the paper's Fig. 5);
- optionally a quick robust evaluation (``evaluation.*`` settings) for ``stop.target_eval_completion``.

Run folder layout::

    run_dir/config.resolved.yaml   the validated config (every default filled in)
    run_dir/model_metadata.json    the action space + network (AWS format), travels with exports
    run_dir/checkpoints/           iter_NNNNNN.zip + iter_NNNNNN.json
    run_dir/metrics.csv, metrics.jsonl, tensorboard/, training_progress.png, status.json
    run_dir/training-simtrace/, model/, ip/, metrics/   the logs deepracer-utils reads (aws_logs)

Resume (``--resume``): the config comes from ``config.resolved.yaml`` (command-line overrides apply
on top), the model from the last VALID checkpoint, iteration numbers, step counts and wall time
continue, and metrics rows after that checkpoint are dropped (with a message). The simulator starts
new episodes (the cars' positions are not saved). The run folder is checked and the checkpoint
loaded before anything is written; invalid checkpoints are moved to ``checkpoints/invalid/``; a
folder with only invalid checkpoints is refused (rules: :mod:`deepracer_agent.resume`). One
training at a time per run folder (``run.lock``, :mod:`deepracer_agent.run_lock`).
"""
from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np


from .callbacks import IterationState, default_callbacks, plain_row, stop_reason as _stop_reason  # noqa: F401
from .config import TrainConfig, check_inputs, save_yaml
from .run_folder import (CHECKPOINT_DIR, CHECKPOINT_RE, METADATA_FILE, METRIC_FIELDS, METRICS_CSV,  # noqa: F401
                         METRICS_JSONL, PROGRESS_PLOT, RESOLVED_CONFIG, STATUS_FILE, TrainError, append_metrics,
                         checkpoint_path, commit_checkpoint, complete_checkpoints, prune_checkpoints, read_metrics,
                         sha256_file, write_json_atomic)
from .reward import RewardFunctionError

# ---------------------------------------------------------------------------------- PPO
def _ppo_class():
    """``DeepRacerPPO``: SB3's PPO with DeepRacer's ``loss_type`` choice for the value loss and,
    when ``invariance`` is enabled, the invariance term in its loss (:func:`deepracer_agent.invariance.ppo_train`).

    SB3 computes the value loss as ``F.mse_loss(returns, values)`` inside ``PPO.train``; for
    ``loss_type: huber`` the subclass swaps that single call for ``F.huber_loss`` (delta 1, the
    smooth-L1 loss) for the duration of ``train()``. Nothing else changes. Checkpoints are
    written and read by :mod:`deepracer_agent.checkpoint` (no pickle).
    """
    import torch.nn.functional as F
    from stable_baselines3 import PPO
    from stable_baselines3.ppo import ppo as ppo_module

    from .invariance import InvarianceOptions, ppo_train

    class _HuberFunctional:
        def __getattr__(self, name: str) -> Any:
            return getattr(F, name)

        @staticmethod
        def mse_loss(input, target, *args, **kwargs):  # noqa: A002 - torch's argument names
            return F.huber_loss(input, target)

    class DeepRacerPPO(PPO):
        loss_type = "mean_squared_error"
        invariance = InvarianceOptions()
        invariance_generator = None

        def train(self) -> None:
            if self.invariance.enabled:
                return ppo_train(self, F.huber_loss if self.loss_type == "huber" else F.mse_loss)
            if self.loss_type != "huber":
                return super().train()
            saved = ppo_module.F
            ppo_module.F = _HuberFunctional()
            try:
                return super().train()
            finally:
                ppo_module.F = saved

    return DeepRacerPPO


def rollout_n_steps(cfg: TrainConfig, mean_episode_steps: float | None) -> int:
    """Steps per car for the next rollout (``ppo.n_steps``, or ``auto``: see :mod:`~deepracer_agent.config`)."""
    p = cfg.ppo
    if p.n_steps != "auto":
        return int(p.n_steps)
    length = p.first_episode_steps if not mean_episode_steps or not math.isfinite(mean_episode_steps) \
        else mean_episode_steps
    n = math.ceil(cfg.hyperparameters.num_episodes_between_training * length / cfg.n_envs)
    # Round up so the rollout (n_envs * n_steps) splits into whole minibatches of batch_size.
    unit = cfg.hyperparameters.batch_size // math.gcd(cfg.hyperparameters.batch_size, cfg.n_envs)
    n = math.ceil(n / unit) * unit
    return int(min(max(n, p.min_n_steps), p.max_n_steps))


def _set_rollout_length(model: Any, n_steps: int) -> None:
    """Give ``model`` a rollout buffer of ``n_steps`` per car (SB3 allocates it once at setup).
    SAC (an off-policy replay buffer): nothing to do, the iteration is ``n_steps`` env steps per car."""
    if not hasattr(model, "rollout_buffer"):
        return
    if model.n_steps == n_steps and model.rollout_buffer.buffer_size == n_steps:
        return
    model.n_steps = n_steps
    model.rollout_buffer = model.rollout_buffer_class(
        n_steps, model.observation_space, model.action_space, device=model.device, gamma=model.gamma,
        gae_lambda=model.gae_lambda, n_envs=model.n_envs, **model.rollout_buffer_kwargs)


def _episode_stats_callback():
    from stable_baselines3.common.callbacks import BaseCallback

    class EpisodeStats(BaseCallback):
        """Per-iteration episode statistics (reward sum, final progress, lap completion, length)
        and rollout timing, read from the VecEnv's ``infos`` (no Monitor wrapper needed)."""

        def __init__(self) -> None:
            super().__init__()
            self.reward_sums: np.ndarray | None = None
            self.episodes: list[dict[str, Any]] = []
            self.rollout_time_s = 0.0
            self.rollout_steps = 0
            self._t0 = 0.0
            self.tick: Callable[[], None] | None = None

        def start_iteration(self) -> None:
            self.episodes = []
            self.rollout_time_s = 0.0
            self.rollout_steps = 0

        def _on_rollout_start(self) -> None:
            self._t0 = time.perf_counter()

        def _on_rollout_end(self) -> None:
            self.rollout_time_s += time.perf_counter() - self._t0

        def _on_step(self) -> bool:
            rewards = np.asarray(self.locals["rewards"], dtype=np.float64)
            dones = np.asarray(self.locals["dones"], dtype=bool)
            if self.reward_sums is None:
                self.reward_sums = np.zeros(len(rewards))
            self.reward_sums += rewards
            self.rollout_steps += len(rewards)
            for i in np.flatnonzero(dones):
                info = self.locals["infos"][i]
                self.episodes.append({"reward": float(self.reward_sums[i]), "progress": float(info["progress"]),
                                      "lap": info.get("episode_status") == "lap_complete",
                                      "steps": int(info["steps"])})
                self.reward_sums[i] = 0.0
            if self.tick is not None:
                self.tick()
            return True

    return EpisodeStats()


def save_checkpoint(model: Any, run_dir: Path, info: dict[str, Any], config: Any, commit: bool = True) -> Path:
    """Save ``model`` (trained with ``config``) as ``checkpoints/iter_NNNNNN.zip`` atomically in the
    :mod:`deepracer_agent.checkpoint` format (no pickle), then (``commit``) its sidecar JSON."""
    from . import checkpoint

    path = checkpoint_path(run_dir, int(info["iteration"]))
    checkpoint.save(model, path, config, training=info)
    if commit:
        commit_checkpoint(path, info)
    return path


# ---------------------------------------------------------------------------------- training
@dataclass
class TrainResult:
    run_dir: Path
    iterations: int
    steps: int
    wall_time_s: float
    stop_reason: str
    last_checkpoint: Path | None
    eval_completion_rate: float | None = None
    metrics: list[dict[str, Any]] = field(default_factory=list)


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def _progress_bar(cfg: TrainConfig, model: Any, stats: Any) -> Any:
    """A tqdm bar over environment steps, advanced by the episode-statistics callback."""
    from tqdm import tqdm

    bar = tqdm(total=cfg.stop.max_steps, initial=model.num_timesteps, unit="step", dynamic_ncols=True,
               desc="training", file=sys.stderr, mininterval=0.5)
    last = [model.num_timesteps]

    def tick() -> None:
        bar.update(model.num_timesteps - last[0])
        last[0] = model.num_timesteps
    stats.tick = tick
    return bar


def _switch_track(model: Any, envs: list[Any], stats: Any, saved: dict[int, tuple], iteration: int,
                  n_envs: int) -> None:
    """Several tracks: the next one every iteration. Each track's cars keep their episodes across
    the switch (SB3's last observation / episode starts / reward sums are kept per track), so
    episodes longer than one rollout still run to their end."""
    old_k, new_k = (iteration - 1) % len(envs), iteration % len(envs)
    saved[old_k] = (model._last_obs, model._last_episode_starts, stats.reward_sums)
    model.set_env(envs[new_k], force_reset=False)
    model._last_obs, model._last_episode_starts, stats.reward_sums = saved.get(new_k, (None, None, None))
    if model._last_obs is None:
        model._last_episode_starts = np.ones((n_envs,), dtype=bool)


def _record_tensorboard(model: Any, row: dict[str, Any]) -> None:
    """The row's values as TensorBoard scalars ``deepracer/<key>`` at the current step."""
    for key, value in row.items():
        if value is not None and key not in ("iteration",):
            model.logger.record(f"deepracer/{key}", value)
    model.logger.dump(step=model.num_timesteps)


def _metrics_row(model: Any, stats: Any, iteration: int, n_steps: int, episodes_total: int, wall_s: float,
                 update_time_s: float, track_name: str) -> dict[str, Any]:
    """The iteration's row of metrics.csv / metrics.jsonl (run_folder.METRIC_FIELDS) from the model's
    SB3 logger values and the episode statistics of the rollout."""
    eps = stats.episodes
    logged = dict(model.logger.name_to_value)
    return {
        "iteration": iteration, "steps": int(model.num_timesteps), "wall_time_s": round(wall_s, 3),
        "n_steps": n_steps, "episodes": len(eps), "episodes_total": episodes_total,
        "mean_reward": _mean([e["reward"] for e in eps]),
        "mean_progress": _mean([e["progress"] for e in eps]),
        "lap_completion_rate": _mean([float(e["lap"]) for e in eps]),
        "mean_episode_steps": _mean([e["steps"] for e in eps]),
        "entropy": -logged["train/entropy_loss"] if "train/entropy_loss" in logged else None,
        "policy_loss": logged.get("train/policy_gradient_loss", logged.get("train/actor_loss")),
        "value_loss": logged.get("train/value_loss", logged.get("train/critic_loss")),  # SAC: critics
        "approx_kl": logged.get("train/approx_kl"),
        "clip_fraction": logged.get("train/clip_fraction"),
        "explained_variance": logged.get("train/explained_variance"),
        "env_steps_per_s": round(stats.rollout_steps / stats.rollout_time_s, 1) if stats.rollout_time_s else None,
        "rollout_time_s": round(stats.rollout_time_s, 3), "update_time_s": round(update_time_s, 3),
        "eval_completion_rate": None, "eval_mean_progress": None,
        "track": track_name,
    }


def build_model(cfg: TrainConfig, env: Any, tensorboard_dir: Path | None, load_from: Any = None) -> Any:
    """The PPO model for ``cfg`` over ``env``: new, then (``load_from``: a checkpoint path or a
    :class:`~deepracer_agent.checkpoint.Checkpoint`) loaded with its weights, optimizer state and
    step counters. Nothing is unpickled; a checkpoint that does not fit ``cfg`` raises TrainError."""
    from .networks import policy_kwargs_for, ppo_policy_class
    from .sac import build_sac, is_sac

    cls = _ppo_class()
    hp, p = cfg.hyperparameters, cfg.ppo
    invariance = cfg.invariance_options()
    if invariance.enabled and is_sac(cfg):
        raise TrainError("regularisation.invariance: PPO only (SAC's image augmentation is sac.image_shift_px)")
    n_steps = rollout_n_steps(cfg, None)
    model = build_sac(cfg, env) if is_sac(cfg) else cls(
        ppo_policy_class(cfg.metadata(), p.continuous_policy), env, learning_rate=hp.lr, n_steps=n_steps,
        batch_size=hp.batch_size,
        n_epochs=hp.num_epochs, gamma=hp.discount_factor, gae_lambda=p.gae_lambda,
        clip_range=p.clip_range, normalize_advantage=p.normalize_advantage, ent_coef=hp.beta_entropy,
        vf_coef=p.vf_coef, max_grad_norm=p.max_grad_norm,
        policy_kwargs=policy_kwargs_for(cfg.metadata(), cfg.network_options()),
        seed=cfg.seed, device="cuda" if cfg.device == "cuda-sb3" else cfg.device, verbose=0)
    model.loss_type = hp.loss_type   # PPO's value loss (SAC: unused)
    if invariance.enabled:
        import torch

        model.invariance = invariance
        model.invariance_generator = torch.Generator(device=model.device).manual_seed(cfg.seed)
    if load_from is not None:
        from . import checkpoint

        try:
            checkpoint.restore(model, load_from)
        except checkpoint.CheckpointError as exc:
            raise TrainError(f"cannot resume: {exc}") from None
    from stable_baselines3.common.logger import Logger, configure

    # without a logger of our own, every learn() call makes an empty /tmp/SB3-<date> folder
    model.set_logger(configure(str(tensorboard_dir), ["tensorboard"]) if tensorboard_dir is not None
                     else Logger(folder=None, output_formats=[]))
    return model


def make_env(cfg: TrainConfig, track: Any, reward: Any, seed: int | None = None) -> Any:
    """``DeepRacerVecEnv`` with ``cfg.n_envs`` cars of one BatchSim."""
    from .vec_env import DeepRacerVecEnv

    env = DeepRacerVecEnv(track, n_envs=cfg.n_envs, metadata=cfg.metadata(), reward=reward,
                          episode=cfg.episode_config(), sim_config=cfg.sim_config(),
                          frame_stack=cfg.hyperparameters.stack_size, seed=cfg.seed if seed is None else seed)
    return env


def _curriculum_start(cfg: TrainConfig, run_dir: Path, resume: bool, start_iteration: int) -> TrainConfig | None:
    """``curriculum.randomize_after_eval``: the config the first phase trains with (no
    ``sim.randomization``), or None (randomization from the start, or a resumed run whose metrics up
    to its checkpoint already have a ``randomized`` row)."""
    if not cfg.holds_back_randomization:
        return None
    done = [r for r in read_metrics(run_dir) if int(r.get("iteration") or 0) <= start_iteration] if resume else []
    return None if any(r.get("randomized") for r in done) else cfg.without_randomization()


def _randomized_envs(cfg: TrainConfig, envs: list[Any], train_tracks: list[Any], reward: Any, iteration: int,
                     model: Any, stats: Any, logs: Any) -> list[Any]:
    """The curriculum's switch: close the nominal simulators, give the model new ones with the full
    ``sim`` config (fresh episodes), and record their cars in the simtrace logs."""
    for e in envs:
        e.close()
    envs = [make_env(cfg, t, reward, seed=cfg.seed + iteration + 1000 * k) for k, t in enumerate(train_tracks)]
    logs.recorders.clear()
    logs.attach(envs)
    model.set_env(envs[iteration % len(envs)], force_reset=True)
    stats.reward_sums = None
    return envs


def train(cfg: TrainConfig, run_dir: str | Path, resume: bool = False, progress_bar: bool = True,
          log: Callable[[str], None] | None = print) -> TrainResult:
    """Train until a stop condition holds; see the module docstring for the run folder. The run
    folder is locked for the whole run (:mod:`deepracer_agent.run_lock`): a second training on it
    raises TrainError naming the holder."""
    from .run_lock import RunLock, RunLockedError

    run_dir = Path(run_dir).expanduser()
    track, reward = check_inputs(cfg)                     # fail fast: track and reward before any model
    try:
        lock = RunLock(run_dir, command="deepracer train").acquire()
    except RunLockedError as exc:
        raise TrainError(str(exc)) from None
    try:
        if cfg.device in ("cuda", "cpu-torch"):
            return _train_torch(cfg, run_dir, resume, log, track, reward)
        return _train(cfg, run_dir, resume, progress_bar, log, track, reward)
    finally:
        lock.release()


def _train_torch(cfg: TrainConfig, run_dir: Path, resume: bool, log: Callable[[str], None] | None,
                 track: Any, reward: Any) -> TrainResult:
    """device=cuda / cpu-torch: the GPU trainer (deepracer_agent.torch_train), imported only here."""
    from .torch_train import TorchTrainError, train as torch_train

    if resume:
        raise TrainError("--resume: the GPU trainer (device=cuda / cpu-torch) does not resume yet")
    t0 = time.perf_counter()
    try:
        rows, reason = torch_train(cfg, run_dir, device="cuda" if cfg.device == "cuda" else "cpu", log=log,
                                   inputs=(track, reward))
    except (TorchTrainError, RewardFunctionError) as exc:   # a user's reward failing mid-rollout: one line
        raise TrainError(str(exc)) from None
    last = checkpoint_path(run_dir, len(rows)) if rows else None
    rates = [r["eval_completion_rate"] for r in rows if r.get("eval_completion_rate") is not None]
    return TrainResult(run_dir=run_dir, iterations=len(rows), steps=int(rows[-1]["steps"]) if rows else 0,
                       wall_time_s=time.perf_counter() - t0, stop_reason=reason, last_checkpoint=last,
                       eval_completion_rate=rates[-1] if rates else None, metrics=rows)


def _train(cfg: TrainConfig, run_dir: Path, resume: bool, progress_bar: bool, log: Callable[[str], None] | None,
           track: Any, reward: Any) -> TrainResult:
    import torch

    from . import checkpoint
    from . import resume as resume_plan

    metadata = cfg.metadata()
    if cfg.torch_threads:
        torch.set_num_threads(cfg.torch_threads)
    stale = resume_plan.clean_stale_temp(run_dir)
    plan = resume_plan.plan(run_dir, resume)              # validate first: reads only
    start_iteration, wall_offset, load_from = plan.start_iteration, plan.wall_offset_s, plan.load_from
    try:
        ckpt = checkpoint.read(load_from) if load_from is not None else None
    except checkpoint.CheckpointError as exc:
        raise TrainError(f"cannot resume: {exc}") from None

    from deepracer_tracks.library import load_track

    train_tracks = [load_track(t) for t in cfg.train_tracks] if cfg.train_tracks else [track]
    nominal_cfg = _curriculum_start(cfg, run_dir, resume, start_iteration)
    envs = [make_env(nominal_cfg or cfg, t, reward, seed=cfg.seed + start_iteration + 1000 * k)
            for k, t in enumerate(train_tracks)]
    env = envs[start_iteration % len(envs)]
    try:
        model = build_model(cfg, env, run_dir / "tensorboard", ckpt)
    except BaseException:
        for e in envs:
            e.close()
        raise
    # write last: only now that the checkpoint is loaded does the run folder change
    resume_plan.apply(run_dir, plan)
    for msg in ([f"removed {len(stale)} stale temp file(s) of an interrupted run"] if stale else []) + plan.messages:
        if log:
            log(msg)
    save_yaml(cfg.to_dict(), run_dir / RESOLVED_CONFIG)
    metadata.save(run_dir / METADATA_FILE)      # atomic
    from .aws_logs import TrainingLogs, write_model_files

    from .drfc import hyperparameters_json

    write_model_files(run_dir, metadata.to_dict(), hyperparameters_json(cfg))
    write_json_atomic({"state": "running", "pid": os.getpid(), "iteration": start_iteration}, run_dir / STATUS_FILE)
    if load_from is not None and log:
        log(f"resuming from {load_from.name} (iteration {start_iteration}, {model.num_timesteps} steps)")
    stats = _episode_stats_callback()

    bar = _progress_bar(cfg, model, stats) if progress_bar else None

    rows = read_metrics(run_dir)
    episodes_total = int(rows[-1]["episodes_total"]) if rows else 0
    logs = TrainingLogs(run_dir, done_iterations=start_iteration, done_episodes=episodes_total)  # simtraces
    logs.attach(envs)
    mean_len: float | None = None
    recent_len = [r["mean_episode_steps"] for r in rows if r.get("mean_episode_steps")]
    if recent_len:
        mean_len = float(recent_len[-1])
    iteration = start_iteration
    state = IterationState(cfg, run_dir, model, track, iteration, rows=rows, episodes_total=episodes_total,
                           last_checkpoint=load_from, log=log, save_checkpoint=save_checkpoint,
                           nominal_cfg=nominal_cfg)
    callbacks = default_callbacks(bar)
    saved: dict[int, tuple] = {}          # train_tracks: per-track SB3 rollout state
    t_start = time.perf_counter()
    stop_reason = ""
    failure: str | None = None
    try:
        while True:
            if len(envs) > 1 and iteration > start_iteration:
                _switch_track(model, envs, stats, saved, iteration, cfg.n_envs)
            n_steps = rollout_n_steps(cfg, mean_len)
            _set_rollout_length(model, n_steps)
            stats.start_iteration()
            t_iter = time.perf_counter()
            model.learn(total_timesteps=n_steps * cfg.n_envs, reset_num_timesteps=False, callback=stats,
                        log_interval=None, progress_bar=False)
            iteration += 1
            update_time = time.perf_counter() - t_iter - stats.rollout_time_s
            eps = stats.episodes
            episodes_total += len(eps)
            mean_len = _mean([e["steps"] for e in eps]) or mean_len
            wall = wall_offset + time.perf_counter() - t_start
            row = _metrics_row(model, stats, iteration, n_steps, episodes_total, wall, update_time,
                               train_tracks[(iteration - 1) % len(train_tracks)].name)
            _record_tensorboard(model, row)
            logs.end_iteration(iteration)
            if cfg.curriculum.randomize_after_eval is not None:
                row["randomized"] = state.nominal_cfg is None
            state.iteration, state.row, state.episodes_total = iteration, row, episodes_total
            for callback in callbacks:                 # checkpoint zip, robust evaluation: add to the row
                callback.on_iteration_end(state)
            state.row = row = plain_row(state.row)
            append_metrics(run_dir, row)               # the iteration's record
            rows.append(row)
            keep_going = True
            for callback in callbacks:                 # checkpoint commit, progress, stop
                keep_going = callback.on_row_written(state) and keep_going
            if not keep_going:
                stop_reason = state.stop_reason
                break
            if nominal_cfg is not None and state.nominal_cfg is None:     # the curriculum: randomization on
                nominal_cfg = None
                envs = _randomized_envs(cfg, envs, train_tracks, reward, iteration, model, stats, logs)
                saved.clear()
    except KeyboardInterrupt:
        stop_reason = "interrupted"
    except RewardFunctionError as exc:       # the user's reward failed mid-rollout: one clear line
        failure = str(exc)
    except OSError as exc:                   # disk full, quota, run folder removed: one clear line
        failure = f"cannot write in {run_dir} ({exc.strerror or exc}); free space, then --resume"
    finally:
        last_ckpt, eval_rate = state.last_checkpoint, state.eval_rate
        if bar is not None:
            bar.close()
        for e in envs:
            e.close()
    wall = wall_offset + time.perf_counter() - t_start
    if failure is not None:
        # the iteration in progress is lost; the checkpoints already written are complete and stay
        try:
            write_json_atomic({"state": "failed", "reason": failure, "iteration": iteration,
                               "steps": int(model.num_timesteps), "wall_time_s": round(wall, 3),
                               "last_checkpoint": str(last_ckpt) if last_ckpt else None}, run_dir / STATUS_FILE)
        except OSError:
            pass                             # the disk is still full: the message below says it all
        raise TrainError(f"{failure}; training stopped after {iteration} iterations"
                         + (f", last checkpoint {last_ckpt}" if last_ckpt else ", no checkpoint yet")) from None
    write_json_atomic({"state": "finished", "stop_reason": stop_reason, "iteration": iteration,
                       "steps": int(model.num_timesteps), "wall_time_s": round(wall, 3)}, run_dir / STATUS_FILE)
    if log:
        log(f"stopped: {stop_reason} after {iteration} iterations, {model.num_timesteps} steps, {wall:.1f}s; "
            f"last checkpoint {last_ckpt}")
    return TrainResult(run_dir, iteration, int(model.num_timesteps), wall, stop_reason, last_ckpt, eval_rate, rows)
