"""``DeepRacerVecEnv``: N DeepRacer cars stepped together in one ``BatchSim``, as an SB3 ``VecEnv``.

No subprocesses: the N "environments" are the N cars of one batched simulator, so one ``step``
advances all of them with one vectorised physics and render call. Spaces, rewards, info and rules
are those of :class:`~deepracer_agent.env.DeepRacerEnv`.

SB3 contract: a car whose episode ends is reset at once (auto-reset); its ``info`` then carries
``terminal_observation`` (the last frame of the finished episode) and ``TimeLimit.truncated``
(True when the step limit, not a rule, ended it), and the returned observation is the first one of
its new episode. ``seed(s)`` followed by ``reset()`` restarts all random streams: the same seed and
actions give the same rollouts. ``get_attr``/``set_attr``/``env_method`` act on this object (all
cars share it); ``env_is_wrapped`` is False for every car.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices, VecEnvStepReturn

from .batch import DeepRacerBatch
from .env import make_spaces


class DeepRacerVecEnv(VecEnv):
    """``n_envs`` cars on one track; other arguments as for :class:`~deepracer_agent.batch.DeepRacerBatch`."""

    def __init__(self, track: Any = None, n_envs: int = 1, metadata: Any = None, reward: Any = None,
                 episode: Any = None, sim_config: Any = None, vehicle: Any = None, frame_stack: int = 1,
                 seed: int | None = None) -> None:
        self.render_mode = None
        self.batch = DeepRacerBatch(track, n_cars=n_envs, metadata=metadata, reward=reward, episode=episode,
                                    sim_config=sim_config, vehicle=vehicle, frame_stack=frame_stack, seed=seed)
        self.model_metadata = self.batch.metadata
        obs_space, act_space = make_spaces(self.batch)
        super().__init__(n_envs, obs_space, act_space)
        self._actions: np.ndarray | None = None

    # ------------------------------------------------------------------ VecEnv core
    def reset(self) -> np.ndarray:
        if self._seeds[0] is not None:
            self.batch.seed(self._seeds[0])
        self._reset_seeds()
        self._reset_options()
        obs = self.batch.reset_all()
        self.reset_infos = [self.batch.start_info(i) for i in range(self.num_envs)]
        return obs.copy()

    def step_async(self, actions: np.ndarray) -> None:
        actions = np.asarray(actions)
        if self.batch.metadata.is_discrete:
            actions = actions.reshape(self.num_envs)
        else:
            actions = actions.reshape(self.num_envs, 2)
        self._actions = actions

    def step_wait(self) -> VecEnvStepReturn:
        if self._actions is None:
            raise RuntimeError("DeepRacerVecEnv.step_wait() without step_async()")
        obs, rewards, terminated, truncated, infos = self.batch.step(self._actions)
        self._actions = None
        dones = terminated | truncated
        done_ids = np.flatnonzero(dones)
        for i in done_ids:
            infos[i]["terminal_observation"] = obs[i].copy()
            infos[i]["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
        if len(done_ids):
            obs = self.batch.reset_cars(done_ids)
            for i in done_ids:
                self.reset_infos[i] = self.batch.start_info(i)
        return obs.copy(), rewards.copy(), dones.copy(), infos

    def close(self) -> None:
        close = getattr(self.batch.sim, "close", None)
        if callable(close):
            close()

    def seed(self, seed: int | None = None) -> Sequence[int | None]:
        """Seed for the next ``reset()`` (SB3 semantics). One batch = one random stream, so car i
        reports ``seed + i`` but the whole batch is seeded from ``seed``."""
        return super().seed(seed)

    # ------------------------------------------------------------------ attribute plumbing
    def _indices(self, indices: VecEnvIndices) -> list[int]:
        if indices is None:
            return list(range(self.num_envs))
        if isinstance(indices, (int, np.integer)):
            return [int(indices)]
        return [int(i) for i in indices]

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        target = self if hasattr(self, attr_name) else self.batch
        value = getattr(target, attr_name)
        return [value for _ in self._indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        target = self.batch if hasattr(self.batch, attr_name) else self
        setattr(target, attr_name, value)

    def env_method(self, method_name: str, *method_args, indices: VecEnvIndices = None, **method_kwargs) -> list[Any]:
        target = self if hasattr(self, method_name) else self.batch
        method = getattr(target, method_name)
        return [method(*method_args, **method_kwargs) for _ in self._indices(indices)]

    def env_is_wrapped(self, wrapper_class: type, indices: VecEnvIndices = None) -> list[bool]:
        return [False for _ in self._indices(indices)]

    def get_images(self) -> Sequence[np.ndarray | None]:
        return [np.repeat(self.batch.obs[i, :, :, -1:], 3, axis=-1) for i in range(self.num_envs)]
