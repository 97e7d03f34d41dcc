"""Episode rules of the DeepRacer simulator: start positions, direction, progress, termination.

They live in the simulator package because they are the simulator's rules (in AWS the simapp ends
episodes): the training env (``deepracer_agent.batch.DeepRacerBatch``), the ROS sim node and evaluation
all use this one module.

Everything here is vectorised over N cars and pure numpy: the caller
supplies the geometry (from ``deepracer_tracks``' ``Track.query`` / ``Track.progress_pct``) and
this module decides what it means for the episode.

Rules, as in AWS's deepracer-simapp (each one configurable in :class:`EpisodeConfig`):

- start: round robin, each new episode starts 5% of the lap further on (``start="round_robin"``),
  or at a uniformly random waypoint (``start="random"``); the car is placed on the centre line
  facing along it.
- direction: ``"forward"`` (the track's own direction), ``"reversed"`` (drive ``Track.reversed()``),
  ``"alternate"`` (switch every episode, AWS's ``alternate_driving_direction``) or ``"random"``.
- progress: 0..100 from the episode start, measured at the reward reference point, unwrapped across
  the start line (AWS's ``compute_current_prog``): it reaches 100 at lap completion and may go
  slightly negative when the car backs over its start point.
- termination, checked in this order, the first that applies is the reason:
  ``lap_complete`` (progress >= 100), ``off_track`` (rule ``"deepracer"``: no wheel contact point on
  the road, AWS's rule; rule ``"paper"``: the reference point more than half the local track width
  from the centre line), ``immobilized`` (``immobilized_steps`` consecutive steps each moving
  <= ``immobilized_distance_m``), ``reversed`` (``reversed_steps`` consecutive steps of decreasing
  progress), and ``step_limit`` (``max_steps``; reported as gymnasium *truncation*, the others
  as *termination*).
- ``episode_status`` uses AWS's words: ``"in_progress"``, ``"lap_complete"``, ``"off_track"``,
  ``"immobilized"``, ``"reversed"``, and ``"time_up"`` for the step limit.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from deepracer_common.options import Options, OptionsError, option

#: AWS's simulator reports x, y (and measures progress and the "paper" off-track rule) at a point
#: this far ahead of the car origin (base_link), in metres.
REFERENCE_POINT_OFFSET_M = 0.14


def reference_point(x: np.ndarray, y: np.ndarray, yaw: np.ndarray,
                    offset_m: float = REFERENCE_POINT_OFFSET_M) -> np.ndarray:
    """(N, 2) world xy of the reward reference point, ``offset_m`` ahead of base_link (m, rad)."""
    return np.stack([x + offset_m * np.cos(yaw), y + offset_m * np.sin(yaw)], axis=-1)

START_MODES = ("round_robin", "random")
DIRECTIONS = ("forward", "reversed", "alternate", "random")
OFF_TRACK_RULES = ("deepracer", "paper")

REASONS = ("lap_complete", "off_track", "immobilized", "reversed", "step_limit")
EPISODE_STATUS = {None: "in_progress", "lap_complete": "lap_complete", "off_track": "off_track",
                  "immobilized": "immobilized", "reversed": "reversed", "step_limit": "time_up"}


_FINISH_EPS_PCT = 1e-9


class EpisodeConfigError(OptionsError):
    """An episode option is unknown or out of range; the message names the option."""


@dataclass
class EpisodeConfig(Options):
    """Episode rules; every field has the DeepRacer simulator's default.

    Distances in metres, fractions of the lap in [0, 1).
    """

    error = EpisodeConfigError

    start: str = option("round_robin", kind=str, choices=START_MODES,
                        doc="round_robin (AWS: 5% of the lap further each episode) or random")
    start_advance_fraction: float = option(0.05, lo=0.0, hi=1.0, hi_open=True,
                                           doc="round robin: how far each episode's start moves on (lap fraction)")
    start_offset_fraction: float = option(0.0, lo=0.0, hi=1.0, hi_open=True,
                                          doc="round robin: where episode 0 starts (lap fraction)")
    direction: str = option("forward", kind=str, choices=DIRECTIONS, doc="driving direction per episode")
    off_track_rule: str = option("deepracer", kind=str, choices=OFF_TRACK_RULES,
                                 doc="deepracer: no wheel on the road; paper: reference point beyond half width")
    immobilized_steps: int = option(15, kind=int, lo=1, doc="steps barely moving before immobilized")
    immobilized_distance_m: float = option(0.0003, lo=0.0, unit="m", doc="at most this far per step counts as not moving")
    reversed_steps: int = option(15, kind=int, lo=1, doc="steps of decreasing progress before reversed")
    max_steps: int = option(10_000, kind=int, lo=1, doc="step limit (time_up, a truncation)")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, prefix: str = "episode", *,
                  error: type[OptionsError] | None = None) -> "EpisodeConfig":
        """Build from a dict (e.g. the ``episode`` YAML section); errors name ``prefix.key``."""
        return super().from_dict(data, prefix, error=error)


def unwrap_progress(raw_pct: np.ndarray, prev_pct: np.ndarray) -> np.ndarray:
    """Episode progress from the wrapped 0..100 value, given last step's (AWS ``compute_current_prog``).

    Crossing the episode's start line forwards adds 100 (capped at 100: lap complete); crossing it
    backwards subtracts 100 (progress goes negative).
    """
    cur = np.asarray(raw_pct, dtype=np.float64).copy()
    prev = np.asarray(prev_pct, dtype=np.float64)
    cur = np.where(prev > cur + 50.0, cur + 100.0, cur)
    cur = np.where(cur > prev + 50.0, cur - 100.0, cur)
    # Snap float noise at the finish (an open track's end gives 99.99999999999999) to a full lap.
    return np.where(cur >= 100.0 - _FINISH_EPS_PCT, 100.0, cur)


@dataclass
class StepOutcome:
    """What :meth:`EpisodeRules.update` decided for each car (arrays of length N)."""

    progress_pct: np.ndarray
    steps: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    reasons: list[str | None]


class EpisodeRules:
    """Per-car episode state and the rules of :class:`EpisodeConfig` for N cars.

    ``waypoint_s_m`` are the arc lengths of the track's waypoints (for ``start="random"``) and
    ``length_m`` the lap length; both directions share them (a reversed track has the same length).
    """

    def __init__(self, config: EpisodeConfig, n_cars: int, length_m: float, waypoint_s_m: np.ndarray,
                 rng: np.random.Generator) -> None:
        self.config = config
        self.n_cars = n_cars
        self.length_m = float(length_m)
        self.waypoint_s_m = np.asarray(waypoint_s_m, dtype=np.float64)
        self.rng = rng
        self.episodes_started = 0                          # across all cars: drives round robin/alternate
        self.start_s_m = np.zeros(n_cars)
        self.is_reversed = np.zeros(n_cars, dtype=bool)
        self.steps = np.zeros(n_cars, dtype=np.int64)
        self.progress_pct = np.zeros(n_cars)
        self._immobile = np.zeros(n_cars, dtype=np.int64)
        self._backwards = np.zeros(n_cars, dtype=np.int64)
        self._last_xy = np.zeros((n_cars, 2))

    def choose_starts(self, count: int) -> tuple[np.ndarray, np.ndarray]:
        """Directions (bool, True = reversed) and start arc lengths (m, along the driven direction)
        for the next ``count`` episodes, in the order they start."""
        cfg = self.config
        k = self.episodes_started + np.arange(count)
        if cfg.direction == "forward":
            rev = np.zeros(count, dtype=bool)
        elif cfg.direction == "reversed":
            rev = np.ones(count, dtype=bool)
        elif cfg.direction == "alternate":
            rev = (k % 2) == 1
        else:
            rev = self.rng.random(count) < 0.5
        if cfg.start == "round_robin":
            frac = (cfg.start_offset_fraction + k * cfg.start_advance_fraction) % 1.0
            start = frac * self.length_m
        else:
            start = self.waypoint_s_m[self.rng.integers(0, len(self.waypoint_s_m), size=count)]
        self.episodes_started += count
        return rev, start

    def begin(self, car_ids: np.ndarray, is_reversed: np.ndarray, start_s_m: np.ndarray,
              base_xy: np.ndarray, progress_pct: np.ndarray) -> None:
        """Start new episodes for ``car_ids`` (car placed at ``base_xy``, progress as measured there)."""
        self.is_reversed[car_ids] = is_reversed
        self.start_s_m[car_ids] = start_s_m
        self.steps[car_ids] = 0
        self.progress_pct[car_ids] = unwrap_progress(progress_pct, np.zeros(len(car_ids)))
        self._immobile[car_ids] = 0
        self._backwards[car_ids] = 0
        self._last_xy[car_ids] = base_xy

    def update(self, base_xy: np.ndarray, raw_progress_pct: np.ndarray, any_wheel_on_track: np.ndarray,
               distance_from_center_m: np.ndarray, half_width_m: np.ndarray) -> StepOutcome:
        """Advance every car by one step and decide termination.

        ``base_xy`` (N, 2) base_link positions (for the immobilized rule), ``raw_progress_pct`` the
        wrapped progress of the reference point from :meth:`Track.progress_pct`, and the off-track
        inputs of both rules.
        """
        cfg = self.config
        self.steps += 1
        progress = unwrap_progress(raw_progress_pct, self.progress_pct)
        moved = np.hypot(*(base_xy - self._last_xy).T)
        self._immobile = np.where(moved <= cfg.immobilized_distance_m, self._immobile + 1, 0)
        self._backwards = np.where(progress < self.progress_pct, self._backwards + 1, 0)
        self._last_xy = np.array(base_xy, dtype=np.float64)
        self.progress_pct = progress

        off_track = self.off_track_now(any_wheel_on_track, distance_from_center_m, half_width_m)
        checks = (
            ("lap_complete", progress >= 100.0),
            ("off_track", off_track),
            ("immobilized", self._immobile >= cfg.immobilized_steps),
            ("reversed", self._backwards >= cfg.reversed_steps),
            ("step_limit", self.steps >= cfg.max_steps),
        )
        reasons: list[str | None] = [None] * self.n_cars
        for name, mask in checks:
            for i in np.flatnonzero(mask):
                if reasons[i] is None:
                    reasons[i] = name
        truncated = np.array([r == "step_limit" for r in reasons], dtype=bool)
        terminated = np.array([r is not None and r != "step_limit" for r in reasons], dtype=bool)
        return StepOutcome(progress.copy(), self.steps.copy(), terminated, truncated, reasons)

    def off_track_now(self, any_wheel_on_track: np.ndarray, distance_from_center_m: np.ndarray,
                      half_width_m: np.ndarray) -> np.ndarray:
        """The off-track test of the configured rule, without advancing anything (for params)."""
        if self.config.off_track_rule == "deepracer":
            return ~np.asarray(any_wheel_on_track, dtype=bool)
        return np.asarray(distance_from_center_m) > np.asarray(half_width_m)


# ------------------------------------------------------------------ driving the rules with a BatchSim
# The env (deepracer_agent.batch.DeepRacerBatch) and the ROS sim node (sim_session.SimSession) both
# drive the rules with these two functions. ``tracks`` is ``(track, track.reversed())``.
def query_progress(tracks: tuple, ref_xy: np.ndarray, is_reversed: np.ndarray,
                   start_s_m: np.ndarray) -> tuple[Any, np.ndarray]:
    """TrackQuery of each reference point (N, 2) on its car's driven track (forward or reversed),
    and the wrapped progress (N,) in percent from each car's start point."""
    is_rev = np.asarray(is_reversed, dtype=bool)
    if not is_rev.any() or is_rev.all():
        track = tracks[int(is_rev.any())]
        query = track.query(ref_xy)
        return query, track.progress_pct(query.s_m, start_s_m)
    parts = {}
    raw = np.zeros(len(ref_xy))
    for direction in (False, True):
        sel = is_rev == direction
        track = tracks[int(direction)]
        parts[direction] = (sel, track.query(ref_xy[sel]))
        raw[sel] = track.progress_pct(parts[direction][1].s_m, start_s_m[sel])
    merged = {}
    for field in dataclasses.fields(parts[False][1]):
        sample = np.asarray(getattr(parts[False][1], field.name))
        out = np.zeros((len(ref_xy),) + sample.shape[1:], dtype=sample.dtype)
        for sel, q in parts.values():
            out[sel] = getattr(q, field.name)
        merged[field.name] = out
    return type(parts[False][1])(**merged), raw


def start_episodes(sim: Any, tracks: tuple, rules: "EpisodeRules", car_ids: np.ndarray) -> None:
    """New episodes for ``car_ids``: start point and direction from ``rules``, each car placed on the
    centre line facing along its driven track (``sim.reset``), and the rules begun there."""
    ids = np.asarray(car_ids, dtype=np.int64).reshape(-1)
    is_rev, start_s = rules.choose_starts(len(ids))
    xy = np.zeros((len(ids), 2))
    yaw = np.zeros(len(ids))
    for direction in (False, True):
        sel = is_rev == direction
        if sel.any():
            xy[sel], yaw[sel] = tracks[int(direction)].pose_at(start_s[sel])
    sim.reset(ids, xy[:, 0], xy[:, 1], yaw)
    _, raw = query_progress(tracks, reference_point(xy[:, 0], xy[:, 1], yaw), is_rev, start_s)
    rules.begin(ids, is_rev, start_s, xy, raw)

