"""``DeepRacerEnv``: one DeepRacer car as a Gymnasium environment.

Observation: ``Box(0, 255, (120, 160, k), uint8)``, the grayscale camera frame the network sees
(k = ``frame_stack``, oldest frame first). Action: ``Discrete(A)`` for a discrete
``model_metadata.json`` (index into its action list) or ``Box(-1, 1, (2,), float32)`` for a
continuous one (normalised ``[steering, speed]``, mapped onto the declared ranges by
:meth:`ModelMetadata.action_to_drive`). One ``step`` is one camera frame (1/15 s of sim time).

Reward: the user's AWS-style ``reward_function(params)`` (see :mod:`deepracer_agent.reward`).
Episode rules: :mod:`deepracer_sim.episode`; ``terminated`` for lap complete / off track /
immobilized / reversed, ``truncated`` for the step limit. ``info`` carries ``progress`` (0-100),
``lap_time_s``, ``steps``, ``episode_status`` (AWS's words), ``termination_reason`` (None while
running), ``is_reversed`` and the commanded ``steering_angle_deg`` / ``speed_m_s``.

``reset(seed=s)`` restarts every random stream (simulator randomization, start point and direction
draws, the round-robin counter): the same seed and actions give the same episode.
"""
from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from .batch import OBS_HEIGHT_PX, OBS_WIDTH_PX, DeepRacerBatch


def make_spaces(batch: DeepRacerBatch) -> tuple[spaces.Box, spaces.Space]:
    """Observation and action spaces of one car of ``batch``."""
    obs = spaces.Box(0, 255, (OBS_HEIGHT_PX, OBS_WIDTH_PX, batch.frame_stack), dtype=np.uint8)
    if batch.metadata.is_discrete:
        act: spaces.Space = spaces.Discrete(batch.metadata.n_actions)
    else:
        act = spaces.Box(-1.0, 1.0, (2,), dtype=np.float32)
    return obs, act


class DeepRacerEnv(gym.Env):
    """One car on one track. Arguments are those of :class:`~deepracer_agent.batch.DeepRacerBatch`
    (``track`` is a ``Track``, a built-in name or a ``.npy`` path); ``render_mode="rgb_array"``
    makes :meth:`render` return the current camera frame as (120, 160, 3) uint8."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 15}

    def __init__(self, track: Any = None, metadata: Any = None, reward: Any = None, episode: Any = None,
                 sim_config: Any = None, vehicle: Any = None, frame_stack: int = 1,
                 render_mode: str | None = None, seed: int | None = None) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode: expected None or one of {self.metadata['render_modes']}, "
                             f"got {render_mode!r}")
        self.render_mode = render_mode
        self.batch = DeepRacerBatch(track, n_cars=1, metadata=metadata, reward=reward, episode=episode,
                                    sim_config=sim_config, vehicle=vehicle, frame_stack=frame_stack, seed=seed)
        self.observation_space, self.action_space = make_spaces(self.batch)
        self.model_metadata = self.batch.metadata
        self._needs_reset = True

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        if seed is not None:
            self.batch.seed(seed)
        obs = self.batch.reset_all()
        self._needs_reset = False
        info = self.batch.start_info(0)
        return obs[0].copy(), info

    def step(self, action):
        if self._needs_reset:
            raise RuntimeError("DeepRacerEnv.step() called before reset() or after the episode ended")
        if self.batch.metadata.is_discrete:
            actions = np.asarray(action).reshape(1)
        else:
            actions = np.asarray(action, dtype=np.float64).reshape(1, 2)
        obs, rewards, terminated, truncated, infos = self.batch.step(actions)
        self._needs_reset = bool(terminated[0] or truncated[0])
        return obs[0].copy(), float(rewards[0]), bool(terminated[0]), bool(truncated[0]), infos[0]

    def render(self):
        if self.render_mode != "rgb_array":
            return None
        return np.repeat(self.batch.obs[0, :, :, -1:], 3, axis=-1)

    def close(self) -> None:
        close = getattr(self.batch.sim, "close", None)
        if callable(close):
            close()
