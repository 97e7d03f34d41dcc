"""The SAC side of decoupled training: workers' complete episodes feed the trainer's replay buffer.

The architecture is the PPO one (:mod:`.trainer`, :mod:`.worker`): workers drive the latest published
policy and push whole episodes over Redis (:mod:`.wire` records); the trainer turns them into
transitions of its SB3 :class:`~stable_baselines3.common.buffers.ReplayBuffer` and runs SAC gradient
steps, then publishes the next version. What differs from PPO:

- a worker samples SAC's squashed Gaussian (:class:`SACActor`); the record's ``actions`` are the
  [-1, 1] actions the env received; ``values`` / ``log_probs`` (PPO's) are zeros;
- an episode of T steps gives T transitions ``(obs[t], action[t], reward[t], obs[t+1])``; the last
  one of a TERMINATED episode is terminal (its next observation is irrelevant: ``obs[-1]``); a
  TRUNCATED episode's last transition is dropped (the record has no final observation to bootstrap
  from), so the buffer never holds a false terminal;
- an update = ``sac.gradient_steps`` gradient steps per ``sac.train_freq`` new transitions, once the
  buffer holds ``sac.learning_starts`` (and at least one minibatch); off-policy, so episodes of any
  policy version may be used (the trainer's lag rule still applies);
- the buffer lives in the trainer's memory only: a restarted trainer starts with an empty buffer
  (weights and both Adam states come back from the newest version).
"""
from __future__ import annotations

import json
from typing import Any

import numpy as np
import torch as th
from stable_baselines3.common.logger import configure
from stable_baselines3.common.preprocessing import maybe_transpose

from ..checkpoint import arrays_to_optimizer, optimizer_to_arrays
from ..sac import is_sac_policy, optimizers
from .wire import EpisodeRecord


class SACActor:
    """The worker's actor for a SAC policy, with :class:`.ppo.Actor`'s interface (for
    :func:`.worker.run_episode`): ``step(obs)`` -> (stored_obs, action, env_action, 0.0, 0.0)."""

    def __init__(self, policy: Any, deterministic: bool = False):
        self.policy, self.deterministic = policy, deterministic
        self.policy.set_training_mode(False)

    def step(self, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
        obs_p = maybe_transpose(np.asarray(obs), self.policy.observation_space)
        with th.no_grad():
            scaled = self.policy._predict(th.as_tensor(obs_p[None], device=self.policy.device),
                                          deterministic=self.deterministic).cpu().numpy()[0]
        env_action = self.policy.unscale_action(scaled).astype(np.float32)   # [-1, 1] -> the env's Box
        return obs_p, scaled.astype(np.float32), env_action, 0.0, 0.0

    def value(self, obs: np.ndarray) -> float:   # SAC has no state value; nothing bootstraps from it
        return 0.0


def actor_for(policy: Any) -> Any:
    """The worker's actor for ``policy`` (SAC or PPO)."""
    from . import ppo

    return SACActor(policy) if is_sac_policy(policy) else ppo.Actor(policy)


def add_episode(model: Any, episode: EpisodeRecord) -> int:
    """Add an episode's transitions to ``model.replay_buffer``; returns how many were added."""
    buf = model.replay_buffer
    obs = episode.arrays["obs"]
    if tuple(obs.shape[1:]) != tuple(buf.obs_shape):
        raise ValueError(f"episode {episode.episode_id}: observations {obs.shape[1:]} do not match the "
                         f"policy's {buf.obs_shape}")
    actions = episode.arrays["actions"].reshape(episode.steps, -1).astype(np.float32)
    rewards = episode.arrays["rewards"].astype(np.float32)
    n = episode.steps if episode.terminated else episode.steps - 1
    for t in range(n):
        last = t == episode.steps - 1
        buf.add(obs[t][None], obs[t if last else t + 1][None], actions[t][None], rewards[t:t + 1],
                np.array([last and episode.terminated]), [{}])
    return n


def sac_update(model: Any, episodes: list[EpisodeRecord]) -> dict[str, float]:
    """Feed ``episodes`` into the replay buffer and run SAC's gradient steps (see the module
    docstring); returns SB3's statistics (``train/actor_loss``, ``train/critic_loss``, ...) and
    ``replay/size``, ``replay/added``, ``train/gradient_steps``."""
    if getattr(model, "_logger", None) is None:
        model.set_logger(configure(folder=None, format_strings=[]))
    added = sum(add_episode(model, ep) for ep in episodes)
    model.num_timesteps += sum(ep.steps for ep in episodes)
    size = model.replay_buffer.size()
    train_freq = int(getattr(model.train_freq, "frequency", model.train_freq) or 1)
    steps = int(model.gradient_steps) * max(1, added // train_freq) if added else 0
    ready = size >= max(int(model.learning_starts), int(model.batch_size))
    if ready and steps > 0:
        model.train(gradient_steps=steps, batch_size=model.batch_size)
    values = dict(model.logger.name_to_value)
    model.logger.dump(step=model.num_timesteps)
    out = {k: float(v) for k, v in values.items() if isinstance(v, (int, float, np.floating))}
    out.update({"replay/size": float(size), "replay/added": float(added),
                "train/gradient_steps": float(steps if ready else 0)})
    return out


def optimizer_objects(model: Any) -> tuple[dict[str, np.ndarray], bytes]:
    """Both SAC optimizers as (``actor:`` / ``critic:`` prefixed arrays, JSON of their param_groups)."""
    arrays: dict[str, np.ndarray] = {}
    groups: dict[str, Any] = {}
    for prefix, optim in optimizers(model.policy).items():
        a, g = optimizer_to_arrays(optim)
        arrays.update({f"{prefix}:{k}": v for k, v in a.items()})
        groups[prefix] = json.loads(g)
    return arrays, json.dumps(groups).encode()


def restore_optimizers(model: Any, arrays: dict[str, np.ndarray], groups_json: bytes | None) -> None:
    """Inverse of :func:`optimizer_objects`."""
    groups = json.loads(groups_json) if groups_json else {}
    for prefix, optim in optimizers(model.policy).items():
        head = f"{prefix}:"
        g = groups.get(prefix)
        arrays_to_optimizer(optim, {k[len(head):]: v for k, v in arrays.items() if k.startswith(head)},
                            json.dumps(g).encode() if g is not None else None)


__all__ = ["SACActor", "actor_for", "add_episode", "optimizer_objects", "restore_optimizers", "sac_update"]
