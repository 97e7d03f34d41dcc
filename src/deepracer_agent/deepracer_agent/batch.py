"""N DeepRacer cars in one :class:`deepracer_sim.batch_sim.BatchSim`: actions in; frames, rewards,
episode ends out. The shared core of :class:`~deepracer_agent.env.DeepRacerEnv` (N = 1) and
:class:`~deepracer_agent.vec_env.DeepRacerVecEnv` (N cars, SB3's VecEnv).

One :meth:`DeepRacerBatch.step` is one camera frame (``BatchSim.dt_s``, 1/15 s):

1. actions -> ``(steering_deg, speed_m_s)`` through the model metadata (THE action mapping,
   :mod:`deepracer_inference.metadata`), then ``BatchSim.step`` (radians, m/s);
2. the reward reference point (0.14 m ahead of base_link) is projected on each car's DRIVEN track
   (``track`` or ``track.reversed()``) with ``Track.query``; progress from ``Track.progress_pct``;
   wheels on track from ``BatchSim.wheels_on_track()``;
3. the episode rules (:mod:`deepracer_sim.episode`) decide termination;
4. params are built (:class:`~deepracer_agent.reward.ParamsBuilder`, new dicts and lists per car and
   step) and each car's OWN instance of the user reward (``reward_fns[i]``, the file executed once
   per car, as AWS runs one process per car) is called, the terminating step included (as AWS does);
5. ``BatchSim.render`` gives the next frame, pushed onto the per-car frame stack.

Finished cars are NOT reset here: the gym env leaves that to ``reset()``, the VecEnv calls
:meth:`reset_cars` (auto-reset).
"""
from __future__ import annotations

import collections
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from deepracer_inference.metadata import DriveLimits, ModelMetadata

from deepracer_sim.episode import EPISODE_STATUS, EpisodeConfig, EpisodeRules, query_progress, start_episodes
from .reward import (DEFAULT_TIMEOUT_S, CarState, ParamsBuilder, RewardFunction, load_reward_function, reference_point,
                     resolve_reward)

OBS_HEIGHT_PX = 120
OBS_WIDTH_PX = 160


def load_track_arg(track: Any) -> Any:
    """A ``Track`` as given, or one loaded by ``deepracer_tracks.library.load_track`` from a name/path
    (None: the library's ``DEFAULT_TRACK``)."""
    if hasattr(track, "query") and hasattr(track, "centre"):
        return track
    from deepracer_tracks.library import DEFAULT_TRACK, load_track

    return load_track(DEFAULT_TRACK if track is None else track)


def metadata_arg(metadata: ModelMetadata | str | Path | Mapping | None, vehicle: Any) -> ModelMetadata:
    """ModelMetadata as given, loaded from a model_metadata.json path, parsed from a dict, or the default."""
    limits = DriveLimits.from_vehicle(vehicle)
    if metadata is None:
        return ModelMetadata.default(limits=limits)
    if isinstance(metadata, ModelMetadata):
        metadata.validate(limits)
        return metadata
    if isinstance(metadata, Mapping):
        return ModelMetadata.from_dict(metadata, limits=limits)
    return ModelMetadata.load(metadata, limits=limits)


def reward_arg(reward: RewardFunction | Callable | str | Path | None,
               timeout_s: float | None = DEFAULT_TIMEOUT_S) -> RewardFunction:
    """A loaded reward: a :class:`RewardFunction`, a plain callable, a file path, an example name or None.

    Callers that drive cars call :func:`reward_instances` on the result (one instance per car)."""
    if isinstance(reward, RewardFunction):
        return reward
    if callable(reward):
        name = getattr(reward, "__code__", None)
        return RewardFunction(reward, name.co_filename if name else "<callable>", timeout_s=timeout_s)
    return load_reward_function(resolve_reward(reward), timeout_s=timeout_s)


def reward_instances(reward: RewardFunction, n: int) -> list[RewardFunction]:
    """``n`` independent instances of a loaded reward, one per car (:meth:`RewardFunction.spawn`:
    the file executed again in a fresh module each time; the instance given, which may have been
    test-called already, is not among them). A plain callable is shared (it cannot be copied)."""
    return [reward.spawn() for _ in range(n)]


class DeepRacerBatch:
    """The simulation, episode rules and reward contract for ``n_cars`` cars.

    Args:
        track: a ``deepracer_tracks.track.Track``, a built-in track name, a ``.npy`` path, or None
            for the library's default track.
        n_cars: cars simulated together (they do not see or touch each other).
        metadata: action space (``ModelMetadata``, a ``model_metadata.json`` path or dict; default:
            the paper's 10 discrete actions).
        reward: reward file path, example name (``deepracer_agent.reward.EXAMPLE_REWARDS``), a loaded
            :class:`RewardFunction`, a callable ``reward_function(params)`` (shared by all cars), or
            None for the AWS centre-line default. A file gets one independent instance per car.
        episode: :class:`EpisodeConfig` or a dict of its fields.
        sim_config: ``deepracer_sim.config.SimConfig`` or a dict for ``SimConfig.from_dict``.
        vehicle: ``VehicleGeometry`` (default: ``load_vehicle()``).
        frame_stack: k frames per observation (oldest first in the last axis).
        seed: seeds the simulator and the start/direction draws.
        compute_reward: False skips params and reward (reward 0) - for benchmarks only.
        reward_timeout_s: limit (s) of one reward call when ``reward`` is loaded here (None: none).
    """

    def __init__(self, track: Any = None, n_cars: int = 1, metadata: Any = None, reward: Any = None,
                 episode: EpisodeConfig | Mapping | None = None, sim_config: Any = None,
                 vehicle: Any = None, frame_stack: int = 1, seed: int | None = None,
                 compute_reward: bool = True, reward_timeout_s: float | None = DEFAULT_TIMEOUT_S) -> None:
        from deepracer_description.vehicle import load_vehicle
        from deepracer_sim.batch_sim import BatchSim
        from deepracer_sim.config import SimConfig

        if isinstance(n_cars, bool) or not isinstance(n_cars, (int, np.integer)) or n_cars < 1:
            raise ValueError(f"n_cars: expected an integer >= 1, got {n_cars!r}")
        if isinstance(frame_stack, bool) or not isinstance(frame_stack, (int, np.integer)) or frame_stack < 1:
            raise ValueError(f"frame_stack: expected an integer >= 1, got {frame_stack!r}")
        self.n_cars = int(n_cars)
        self.frame_stack = int(frame_stack)
        self.vehicle = vehicle if vehicle is not None else load_vehicle()
        self.track = load_track_arg(track)
        self.tracks = (self.track, self.track.reversed())          # index 0: forward, 1: reversed
        self.metadata = metadata_arg(metadata, self.vehicle)
        self.reward_fn = reward_arg(reward, reward_timeout_s) if compute_reward else None
        #: One independent reward instance per car (see :func:`reward_instances`).
        self.reward_fns = reward_instances(self.reward_fn, self.n_cars) if self.reward_fn is not None else []
        if episode is None or isinstance(episode, Mapping):
            episode = EpisodeConfig.from_dict(episode)
        self.episode_config = episode
        if sim_config is None or isinstance(sim_config, Mapping):
            sim_config = SimConfig.from_dict(dict(sim_config or {}))
        self.sim_config = sim_config
        self._sim_cls = BatchSim
        self._seed = seed
        self.sim = BatchSim(self.track, n_cars=self.n_cars, config=sim_config, vehicle=self.vehicle, seed=seed)
        self.dt_s = float(self.sim.dt_s)
        self.rules = EpisodeRules(episode, self.n_cars, self.track.length_m, self.track.waypoint_s_m,
                                  np.random.default_rng(seed))
        self.params_builder = ParamsBuilder(self.tracks[0], self.tracks[1])
        self.obs = np.zeros((self.n_cars, OBS_HEIGHT_PX, OBS_WIDTH_PX, self.frame_stack), dtype=np.uint8)
        self.last_params: list[dict[str, Any]] = []
        self._frame_buf: np.ndarray | None = None
        #: Accumulated seconds per phase of :meth:`step` (sim_step, track_and_rules, params, reward,
        #: render) and of :meth:`reset_cars` (reset), plus the number of steps; for profiling.
        self.timing: dict[str, float] = collections.defaultdict(float)
        self._steer_deg = np.zeros(self.n_cars)
        self._speed = np.zeros(self.n_cars)
        #: optional :class:`~deepracer_agent.simtrace.CarRecorder`: per-step simtrace rows
        self.recorder: Any = None
        self._centres = (np.asarray(self.tracks[0].centre), np.asarray(self.tracks[1].centre))

    # ------------------------------------------------------------------ seeding and resets
    def seed(self, seed: int | None) -> None:
        """Restart every random stream from ``seed``: the same seed gives the same episodes.

        The episode counter (round robin, alternating direction) restarts at 0 too.
        """
        self._seed = seed
        self.rules.rng = np.random.default_rng(seed)
        self.rules.episodes_started = 0
        # A fresh simulator restarts its randomization stream (draws depend on seed, car, episode
        # count); building one costs milliseconds (the track texture is cached by deepracer_sim).
        self.sim = self._sim_cls(self.track, n_cars=self.n_cars, config=self.sim_config,
                                 vehicle=self.vehicle, seed=seed)

    def reset_all(self) -> np.ndarray:
        """New episodes for every car; returns the observations (N, 120, 160, k)."""
        return self.reset_cars(np.arange(self.n_cars))

    def reset_cars(self, car_ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """New episodes for ``car_ids`` (start point and direction from the episode rules).

        Renders once and returns the observations of ALL cars (the others' are unchanged).
        """
        ids = np.asarray(car_ids, dtype=np.int64).reshape(-1)
        if len(ids) == 0:
            return self.obs
        start = time.perf_counter()
        start_episodes(self.sim, self.tracks, self.rules, ids)
        self._steer_deg[ids] = 0.0
        self._speed[ids] = 0.0
        self.obs[ids] = self._frames(ids)[..., None]       # renders only the cars just reset
        if self.recorder is not None:
            x, y, yaw = (np.array(self.sim.x)[ids], np.array(self.sim.y)[ids], np.array(self.sim.yaw)[ids])
            ref = reference_point(x, y, yaw)
            from .simtrace import nearest_waypoint

            rev = self.rules.is_reversed[ids]
            query, _ = query_progress(self.tracks, ref, rev, self.rules.start_s_m[ids])
            self.recorder.start(ids, ref[:, 0], ref[:, 1], yaw, self.rules.progress_pct[ids],
                                nearest_waypoint(ref, query.closest_waypoints, self._centres, rev))
        self.timing["reset"] += time.perf_counter() - start
        return self.obs

    # ------------------------------------------------------------------ stepping
    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[dict]]:
        """Advance every car by one camera frame.

        Returns ``(obs (N,120,160,k) uint8, rewards (N,) float32, terminated (N,), truncated (N,),
        infos)``; ``obs`` is the batch's own buffer (copy it if you keep it).
        """
        clock = time.perf_counter
        t0 = clock()
        steer_deg, speed = self.metadata.actions_to_drive(np.asarray(actions))
        self._steer_deg[:], self._speed[:] = steer_deg, speed
        self.sim.step(np.radians(steer_deg), speed)
        t1 = clock()

        x, y, yaw = np.array(self.sim.x), np.array(self.sim.y), np.array(self.sim.yaw)
        base_xy = np.stack([x, y], axis=-1)
        ref = reference_point(x, y, yaw)
        rules = self.rules
        query, raw = query_progress(self.tracks, ref, rules.is_reversed, rules.start_s_m)
        wheels_on = self.sim.wheels_on_track()                             # (N, 4) bool
        any_on = wheels_on.any(axis=1)
        outcome = rules.update(base_xy, raw, any_on, query.distance_from_center_m, query.half_width_m)
        t2 = t3 = clock()

        rewards = np.zeros(self.n_cars, dtype=np.float32)
        if self.reward_fn is not None:
            car = CarState(xy=ref, yaw_rad=yaw, steering_deg=steer_deg, speed_m_s=speed,
                           progress_pct=outcome.progress_pct, steps=outcome.steps,
                           all_wheels_on_track=wheels_on.all(axis=1),
                           is_offtrack=rules.off_track_now(any_on, query.distance_from_center_m,
                                                           query.half_width_m),
                           is_reversed=rules.is_reversed, sim_time_s=outcome.steps * self.dt_s)
            self.last_params = self.params_builder.build(car, query)
            t3 = clock()
            rewards[:] = [fn(p) for fn, p in zip(self.reward_fns, self.last_params)]
        t4 = clock()

        frames = self._frames()
        if self.frame_stack > 1:
            self.obs[..., :-1] = self.obs[..., 1:]
        self.obs[..., -1] = frames
        t5 = clock()
        if self.recorder is not None:
            self.recorder.step(ref[:, 0], ref[:, 1], yaw, steer_deg, speed,
                               actions if self.metadata.is_discrete else None, rewards,
                               outcome.terminated | outcome.truncated, wheels_on.all(axis=1), outcome.progress_pct,
                               outcome.steps, query.closest_waypoints, [EPISODE_STATUS[r] for r in outcome.reasons],
                               is_reversed=rules.is_reversed)
            self.timing["simtrace"] += clock() - t5
        timing = self.timing
        timing["sim_step"] += t1 - t0
        timing["track_and_rules"] += t2 - t1
        timing["params"] += t3 - t2
        timing["reward"] += t4 - t3
        timing["render"] += t5 - t4
        timing["steps"] += 1

        infos = []
        for i in range(self.n_cars):
            reason = outcome.reasons[i]
            infos.append({
                "progress": float(outcome.progress_pct[i]),
                "lap_time_s": float(outcome.steps[i]) * self.dt_s,
                "steps": int(outcome.steps[i]),
                "episode_status": EPISODE_STATUS[reason],
                "termination_reason": reason,
                "is_reversed": bool(rules.is_reversed[i]),
                "steering_angle_deg": float(steer_deg[i]),
                "speed_m_s": float(speed[i]),
            })
        return self.obs, rewards, outcome.terminated, outcome.truncated, infos

    def start_info(self, i: int) -> dict[str, Any]:
        """The ``info`` of car ``i`` right after its reset."""
        rules = self.rules
        return {"progress": float(rules.progress_pct[i]), "lap_time_s": 0.0, "steps": 0,
                "episode_status": "in_progress", "termination_reason": None,
                "is_reversed": bool(rules.is_reversed[i])}

    # ------------------------------------------------------------------ helpers
    def _frames(self, car_ids: np.ndarray | None = None) -> np.ndarray:
        """(N, 120, 160) uint8 gray frames, or only ``car_ids``' rows (in that order) when given;
        other sizes/colour go through THE preprocessing."""
        if car_ids is not None:
            frames = self.sim.render(car_ids=car_ids)
        elif self._frame_buf is not None:
            frames = self.sim.render(self._frame_buf)
        else:
            frames = self.sim.render()
        if frames.shape[1:] == (OBS_HEIGHT_PX, OBS_WIDTH_PX):
            if car_ids is None:
                self._frame_buf = frames
            return frames
        from deepracer_inference.preprocess import to_network_input

        encoding = "rgb8" if frames.ndim == 4 else "mono8"
        return np.stack([to_network_input(f, encoding) for f in frames])

    @property
    def drive(self) -> tuple[np.ndarray, np.ndarray]:
        """Last commanded ``(steering_deg, speed_m_s)`` per car."""
        return self._steer_deg.copy(), self._speed.copy()

