"""The PPO side of decoupled training: weights <-> arrays, acting in a worker, and one PPO update
from complete episodes (stable-baselines3's ``RolloutBuffer`` + ``PPO.train``).

Weights travel as plain numpy arrays (the model store's ``policy.npz``), never as pickles.
The optimizer state (Adam moments) travels the same way, so a restarted trainer continues exactly
where the last published version left off.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.logger import configure
from stable_baselines3.common.preprocessing import maybe_transpose

from .wire import EpisodeRecord


# -- weights: the checkpoint module's array conversion (one place for weights <-> arrays) -------
from ..checkpoint import arrays_to_optimizer, arrays_to_policy, optimizer_to_arrays, policy_to_arrays  # noqa: E402,F401


# -- acting (worker) ----------------------------------------------------------------------------
class Actor:
    """Runs the policy for a single (non-vectorised) env, as SB3's ``collect_rollouts`` does.

    ``step(obs)`` returns (stored_obs, action_to_store, action_for_env, value, log_prob):
    ``stored_obs`` is the observation in the policy's layout (channel-first for images, the layout
    the trainer's rollout buffer holds); Box actions are clipped for the env but stored unclipped.
    """

    def __init__(self, policy: Any, deterministic: bool = False):
        self.policy, self.deterministic = policy, deterministic
        self.policy.set_training_mode(False)

    def step(self, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray, Any, float, float]:
        obs_p = maybe_transpose(np.asarray(obs), self.policy.observation_space)
        with th.no_grad():
            t = th.as_tensor(obs_p[None], device=self.policy.device)
            actions, values, log_probs = self.policy(t, deterministic=self.deterministic)
        action = actions.cpu().numpy()[0]
        env_action: Any = action
        space = self.policy.action_space
        if isinstance(space, spaces.Box):
            env_action = (self.policy.unscale_action(action) if self.policy.squash_output
                          else np.clip(action, space.low, space.high))
        elif isinstance(space, spaces.Discrete):
            env_action = int(action)
        return obs_p, action, env_action, float(values.item()), float(log_probs.item())

    def value(self, obs: np.ndarray) -> float:
        obs_p = maybe_transpose(np.asarray(obs), self.policy.observation_space)
        with th.no_grad():
            return float(self.policy.predict_values(th.as_tensor(obs_p[None], device=self.policy.device)).item())


# -- learning (trainer) --------------------------------------------------------------------------
def build_rollout_buffer(model: Any, episodes: list[EpisodeRecord]) -> RolloutBuffer:
    """Concatenate complete episodes into a filled ``RolloutBuffer`` with returns and advantages.

    Each episode starts with ``episode_start = 1``, so GAE never bootstraps across episodes. A
    truncated episode (step limit) bootstraps as SB3 does: its last reward gets
    ``gamma * last_value`` (the behaviour policy's value of the final observation)."""
    total = sum(e.steps for e in episodes)
    buf = RolloutBuffer(total, model.observation_space, model.action_space, device=model.device,
                        gae_lambda=model.gae_lambda, gamma=model.gamma, n_envs=1)
    obs_shape = buf.obs_shape
    pos = 0
    for ep in episodes:
        n = ep.steps
        obs = ep.arrays["obs"]
        if tuple(obs.shape[1:]) != tuple(obs_shape):
            raise ValueError(f"episode {ep.episode_id}: observations {obs.shape[1:]} do not match the "
                             f"policy's {obs_shape}")
        rewards = ep.arrays["rewards"].astype(np.float32).copy()
        if not ep.terminated:
            rewards[-1] += model.gamma * ep.last_value
        buf.observations[pos:pos + n, 0] = obs
        buf.actions[pos:pos + n, 0] = ep.arrays["actions"].reshape(n, buf.action_dim)
        buf.rewards[pos:pos + n, 0] = rewards
        buf.episode_starts[pos:pos + n, 0] = 0.0
        buf.episode_starts[pos, 0] = 1.0
        buf.values[pos:pos + n, 0] = ep.arrays["values"]
        buf.log_probs[pos:pos + n, 0] = ep.arrays["log_probs"]
        pos += n
    buf.pos, buf.full = total, True
    # the buffer ends with a complete episode: nothing to bootstrap from
    buf.compute_returns_and_advantage(last_values=th.zeros(1), dones=np.ones(1, dtype=np.float32))
    return buf


def ppo_update(model: Any, episodes: list[EpisodeRecord]) -> dict[str, float]:
    """One PPO update (``model.n_epochs`` passes, minibatches of ``model.batch_size``) on
    ``episodes``; returns SB3's training statistics (losses, entropy, KL, clip fraction)."""
    if getattr(model, "_logger", None) is None:
        model.set_logger(configure(folder=None, format_strings=[]))
    model.rollout_buffer = build_rollout_buffer(model, episodes)
    model.num_timesteps += model.rollout_buffer.buffer_size
    model.train()
    values = dict(model.logger.name_to_value)
    model.logger.dump(step=model.num_timesteps)  # clears the values
    return {k: float(v) for k, v in values.items() if isinstance(v, (int, float, np.floating))}
