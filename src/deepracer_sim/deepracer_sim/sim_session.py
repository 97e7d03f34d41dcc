"""`SimSession`: one car in a `BatchSim` with laps, off-track events and a sim clock (no ROS).

The core of the sim node (`deepracer_sim.nodes.sim_node`): the node converts messages and calls
this class; everything here is plain Python + numpy and is tested without rclpy.

One `step()` is one camera frame (`dt_s` = 1/15 s of sim time, from the URDF camera rate). Progress
and termination use THE episode rules of the training env (`deepracer_sim.episode.EpisodeRules`,
the AWS simapp rules) measured at the reward reference point (`deepracer_sim.episode.reference_point`,
0.14 m ahead of base_link) on the driven track, exactly as `deepracer_agent.batch.DeepRacerBatch`
does. What the session adds for driving (not training):

- laps: when the rules report `lap_complete`, `lap_count` grows, `last_lap_time_s` is recorded and
  a new lap starts where the car is (same start line), so a car can drive lap after lap;
- off track: counted once per excursion (`off_track_count`); with `reset_on_off_track` the car is put
  back at the episode start before the NEXT frame (the frame that went off is still reported);
- other episode ends (immobilized, reversed, time_up) are reported as events once each, nothing moves;
- stop: a commanded speed below the vehicle's minimum (0.1 m/s, the AWS clip that `BatchSim.step`
  applies) holds the car where it is with zero speed. BatchSim itself has no stopped state (it clips
  every command to [0.1, 4.0] m/s), so a neutral command from the control node's watchdog would
  otherwise keep the car rolling at 0.1 m/s.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from deepracer_description.vehicle import VehicleGeometry, load_vehicle
from deepracer_tracks.track import Track

from .batch_sim import BatchSim
from .config import SimConfig
from deepracer_sim.episode import (EPISODE_STATUS, EpisodeConfig, EpisodeConfigError, EpisodeRules, query_progress,
                                   reference_point, start_episodes)

__all__ = ["SimSession", "FrameStatus", "SessionError"]


class SessionError(ValueError):
    """An invalid session option; the message names it."""


@dataclass
class FrameStatus:
    """What happened in one frame (sim time `stamp_s`, seconds since the session started).

    `event` is None or one of "reset", "lap_complete", "off_track", "immobilized", "reversed",
    "time_up"; `episode_status` is the episode rules' verdict for this frame in AWS's words
    ("in_progress", "lap_complete", "off_track", ...), what a training bridge terminates on.
    """

    frame: int
    stamp_s: float
    episode: int
    progress: float
    steps: int
    lap_time_s: float
    lap_count: int
    last_lap_time_s: float | None
    off_track_count: int
    event: str | None
    episode_status: str
    x: float
    y: float
    yaw: float
    speed_m_s: float
    yaw_rate_rad_s: float
    lateral_speed_m_s: float
    is_reversed: bool
    all_wheels_on_track: bool
    is_offtrack: bool
    stopped: bool
    cmd_speed_m_s: float
    cmd_steering_rad: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the /sim/lap_status payload, plus `stamp_ns` added by the node)."""
        return dict(self.__dict__)


class SimSession:
    """One car on `track`, driven by the latest command, with lap bookkeeping.

    Args:
        track: the track (forward direction as in its file).
        config: simulator options (`SimConfig`), default: the AWS contract (160x120 gray, no randomization).
        seed: simulator seed (randomization draws).
        start_waypoint: waypoint index of the start line, in the DRIVEN direction's numbering.
        reverse: drive `track.reversed()`.
        start_advance_fraction: each reset starts this fraction of the lap further on (0 = always
            the same start; 0.05 = AWS's training round robin).
        reset_on_off_track: put the car back at the start after it leaves the track.
        max_steps: frames per lap before the rules report "time_up" (once); None = the env's (10,000).
        vehicle: `VehicleGeometry` (default: the URDF's).
        car: the car to run the rules on: default a one-car `BatchSim` (the embedded simulator);
            an `ExternalCar` (deepracer_sim.gz_referee) takes its pose from another simulator (Gazebo).
    """

    def __init__(self, track: Track, config: SimConfig | None = None, seed: int = 0, start_waypoint: int = 0,
                 reverse: bool = False, start_advance_fraction: float = 0.0, reset_on_off_track: bool = True,
                 max_steps: int | None = None, vehicle: VehicleGeometry | None = None, car: Any = None) -> None:
        self.vehicle = vehicle if vehicle is not None else load_vehicle()
        self.track = track
        self.tracks = (track, track.reversed())
        n_wp = len(track.centre)
        if not 0 <= int(start_waypoint) < n_wp:
            raise SessionError(f"start_waypoint: must be in [0, {n_wp - 1}] for track {track.name!r}, "
                               f"got {start_waypoint}")
        driven = self.tracks[int(bool(reverse))]
        offset = float(driven.waypoint_s_m[int(start_waypoint)]) / float(driven.length_m)
        try:
            episode = EpisodeConfig(start="round_robin", start_offset_fraction=offset % 1.0,
                                    start_advance_fraction=float(start_advance_fraction),
                                    direction="reversed" if reverse else "forward",
                                    **({} if max_steps is None else {"max_steps": int(max_steps)}))
        except EpisodeConfigError as exc:
            raise SessionError(str(exc)) from None
        self.sim = car if car is not None else BatchSim(track, n_cars=1, config=config, vehicle=self.vehicle, seed=seed)
        self.rules = EpisodeRules(episode, 1, track.length_m, track.waypoint_s_m, np.random.default_rng(seed))
        self.dt_s = float(self.sim.dt_s)
        self.reset_on_off_track = bool(reset_on_off_track)
        self.frame = 0
        self.episode = 0
        self.lap_count = 0
        self.last_lap_time_s: float | None = None
        self.off_track_count = 0
        self._cmd_speed = 0.0
        self._cmd_steer = 0.0
        self._last_reason: str | None = None
        self._pending_reset = False
        self._event: str | None = None
        self._status: FrameStatus | None = None
        self.reset()

    # --------------------------------------------------------------------------- commands
    def set_command(self, speed_m_s: float, steering_rad: float) -> None:
        """Hold this drive command (m/s, rad) for the next frames. Non-finite values raise ValueError."""
        if not (math.isfinite(speed_m_s) and math.isfinite(steering_rad)):
            raise ValueError(f"drive command must be finite, got speed={speed_m_s}, steering={steering_rad}")
        self._cmd_speed, self._cmd_steer = float(speed_m_s), float(steering_rad)

    @property
    def command(self) -> tuple[float, float]:
        """The held command: (speed m/s, steering rad)."""
        return self._cmd_speed, self._cmd_steer

    @property
    def stopped(self) -> bool:
        """True when the held command is a stop (speed below the vehicle's minimum, or reverse)."""
        return self._cmd_speed < self.vehicle.min_speed_m_s

    # --------------------------------------------------------------------------- episodes
    def reset(self) -> FrameStatus:
        """New episode at the start line (the next round-robin start), zero command and speed.

        Advances the clock by one frame: the returned status is the frame that shows the start pose.
        """
        start_episodes(self.sim, self.tracks, self.rules, np.array([0]))
        self._cmd_speed = self._cmd_steer = 0.0
        self._last_reason = None
        self._pending_reset = False
        self.episode += 1
        return self._finish_frame(event="reset", reason=None, progress=float(self.rules.progress_pct[0]),
                                  steps=0, wheels_on=self.sim.wheels_on_track()[0], moved=False)

    def step(self) -> FrameStatus:
        """Advance one frame with the held command; apply the episode rules; return the frame's status."""
        if self._pending_reset:
            return self.reset()
        stopped = self.stopped
        if not stopped:
            self.sim.step(np.array([self._cmd_steer]), np.array([self._cmd_speed]))
        sim, rules = self.sim, self.rules
        x, y, yaw = np.array(sim.x), np.array(sim.y), np.array(sim.yaw)
        base_xy = np.stack([x, y], axis=-1)
        track = self.tracks[int(rules.is_reversed[0])]
        query, raw = query_progress(self.tracks, reference_point(x, y, yaw), rules.is_reversed, rules.start_s_m)
        wheels_on = sim.wheels_on_track()
        outcome = rules.update(base_xy, raw, wheels_on.any(axis=1), query.distance_from_center_m,
                               query.half_width_m)
        reason = outcome.reasons[0]
        progress, steps = float(outcome.progress_pct[0]), int(outcome.steps[0])
        event = None
        if reason == "lap_complete":
            self.lap_count += 1
            self.last_lap_time_s = steps * self.dt_s
            event = reason
            # Next lap from here: same start line, same direction; the progress restarts near 0.
            rules.begin(np.array([0]), rules.is_reversed.copy(), rules.start_s_m.copy(), base_xy,
                        track.progress_pct(query.s_m, rules.start_s_m))
        elif reason is not None and reason != self._last_reason:
            event = "time_up" if reason == "step_limit" else reason
            if reason == "off_track":
                self.off_track_count += 1
                self._pending_reset = self.reset_on_off_track
        self._last_reason = reason if reason != "lap_complete" else None
        return self._finish_frame(event=event, reason=reason, progress=progress, steps=steps,
                                  wheels_on=wheels_on[0], moved=not stopped)

    def _finish_frame(self, event: str | None, reason: str | None, progress: float, steps: int,
                      wheels_on: np.ndarray, moved: bool) -> FrameStatus:
        self.frame += 1
        sim = self.sim
        self._status = FrameStatus(
            frame=self.frame, stamp_s=self.frame * self.dt_s, episode=self.episode, progress=progress,
            steps=steps, lap_time_s=steps * self.dt_s, lap_count=self.lap_count,
            last_lap_time_s=self.last_lap_time_s, off_track_count=self.off_track_count, event=event,
            episode_status=EPISODE_STATUS[reason], x=float(sim.x[0]), y=float(sim.y[0]), yaw=float(sim.yaw[0]),
            speed_m_s=float(sim.speed[0]) if moved else 0.0,
            yaw_rate_rad_s=float(sim.yaw_rate[0]) if moved else 0.0,
            lateral_speed_m_s=float(sim.lateral_speed[0]) if moved else 0.0,
            is_reversed=bool(self.rules.is_reversed[0]), all_wheels_on_track=bool(np.all(wheels_on)),
            is_offtrack=not bool(np.any(wheels_on)), stopped=self.stopped, cmd_speed_m_s=self._cmd_speed,
            cmd_steering_rad=self._cmd_steer)
        return self._status

    @property
    def status(self) -> FrameStatus:
        """The status of the latest frame."""
        assert self._status is not None
        return self._status

    def render(self) -> np.ndarray:
        """The camera image of the latest frame: (H, W) uint8 gray or (H, W, 3) RGB (`config.color`)."""
        return self.sim.render()[0]
