"""Per-step simtraces and AWS's metrics JSON: the logs the DeepRacer community's tools read.

THE writer of the community log formats, used by every path that drives cars: the embedded env
(``deepracer train`` / ``deepracer evaluate``, through :class:`~deepracer_agent.batch.DeepRacerBatch`),
the decoupled rollout workers (one simtrace per worker) and the ROS Gym bridge
(:class:`~deepracer_agent.bridge.BridgeEnv`).

**Simtrace** (deepracer-simapp's ``StepMetrics`` columns, in simapp's order)::

    episode,steps,X,Y,yaw,steer,throttle,action,reward,done,all_wheels_on_track,progress,
    closest_waypoint,track_len,tstamp,episode_status,pause_duration,obstacle_crash_counter,wall_clock

- ``X``, ``Y`` (m): the reward's reference point (params ``x``/``y``, 0.14 m ahead of base_link);
  ``yaw`` (deg): heading; ``steer`` (deg) and ``throttle`` (m/s): the commanded action;
  ``action``: the discrete action index (-1 for a continuous space);
- ``progress`` 0-100 (%), ``closest_waypoint``: the nearer of the two ``closest_waypoints``
  (previous / next, on the driven track) as simapp picks it, ``track_len`` (m);
- ``tstamp`` (s): simulated time of the car (continuous across its episodes), ``wall_clock`` (s since
  the epoch); ``pause_duration`` 0 (nothing pauses here), ``obstacle_crash_counter`` 0 (no obstacles);
- ``episode_status``: simapp's step labels ``prepare`` (the start pose, one row per episode with
  ``steps`` 0), ``in_progress``, ``lap_complete``, ``off_track``, ``immobilized``, ``reversed``,
  ``time_up``.

Each episode is kept in memory until it ends, then goes WHOLE into the file of the iteration in which
it ended (an episode that spans a rollout boundary is not split). ``episode`` numbers are 0-based, in
order of completion, unique per worker. Files are written once per iteration, atomically (temp file
+ ``os.replace``): ``<folder>/<iteration>-iteration.csv`` with iterations counted from 0 as DRfC does.

**Metrics JSON** (simapp's ``TrainingMetrics`` / ``EvaluationMetrics`` S3 files)::

    {"metrics": [{"reward_score", "metric_time", "start_time", "elapsed_time_in_milliseconds",
                  "episode", "trial", "phase", "completion_percentage", "episode_status"}, ...],
     "version": 2.0, "best_model_metric": "progress"}

as simapp's ``s3_metrics.py`` writes them: training rows ``reward_score, metric_time, start_time,
elapsed_time_in_milliseconds, episode, trial, phase, completion_percentage, episode_status``;
evaluation rows ``completion_percentage, metric_time, start_time, elapsed_time_in_milliseconds,
episode_status, crash_count, immobilized_count, off_track_count, reversed_count, reset_count,
trial`` in ``{"metrics": [...]}`` without ``version``. Labels are simapp's ("Lap complete", "Off
track", "Time Up", ...); times are integer milliseconds of simulated time.
"""
from __future__ import annotations

import csv
import io
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from collections.abc import Sequence

import numpy as np

from deepracer_common.fileio import atomic_write_text

SIMTRACE_COLUMNS = ("episode", "steps", "X", "Y", "yaw", "steer", "throttle", "action", "reward", "done",
                    "all_wheels_on_track", "progress", "closest_waypoint", "track_len", "tstamp",
                    "episode_status", "pause_duration", "obstacle_crash_counter", "wall_clock")

#: simapp's ``EpisodeStatus`` labels of the metrics JSON, keyed by the simtrace (step) label.
AWS_EPISODE_STATUS = {"in_progress": "In progress", "lap_complete": "Lap complete", "off_track": "Off track",
                      "immobilized": "Immobilized", "reversed": "Reversed", "time_up": "Time Up",
                      "crashed": "Crashed", "prepare": "Prepare", "pause": "Pause", "park": "Park"}

METRICS_VERSION = 2.0
BEST_MODEL_METRIC = "progress"
SIMTRACE_SUFFIX = "-iteration.csv"




def simtrace_path(folder: str | Path, iteration: int) -> Path:
    """``<folder>/<iteration>-iteration.csv`` (iterations from 0)."""
    return Path(folder) / f"{int(iteration)}{SIMTRACE_SUFFIX}"


@dataclass
class EpisodeSummary:
    """One finished episode, as the metrics JSON and the run summaries need it."""

    episode: int                 # 0-based, per worker, in completion order
    steps: int
    reward: float                # sum of the step rewards
    progress: float              # final progress (%)
    status: str                  # step label of the last row (lap_complete, off_track, ...)
    elapsed_s: float             # simulated seconds
    start_wall: float            # wall clock at the start (s since the epoch)
    end_wall: float
    start_tstamp: float = 0.0    # simulated time (s) at the start and at the end (the tstamp column)
    end_tstamp: float = 0.0


# Columns of the per-step buffers (one float64 row per step and car); see SimtraceLog.rows for the CSV order.
_C_STEPS, _C_X, _C_Y, _C_YAW, _C_STEER, _C_SPEED, _C_ACTION, _C_REWARD, _C_DONE, _C_ON, _C_PROGRESS, \
    _C_WP, _C_T, _C_WALL, _C_WP_NEXT, _C_REV = range(16)
_N_COLS = 16


class SimtraceLog:
    """The simtrace of ONE worker: finished episodes buffered (as arrays), one CSV per iteration.

    :param folder: where ``<iteration>-iteration.csv`` files go (None: keep rows in memory only).
    :param first_episode: episode number of the next finished episode (resume).
    :param track_len_m: the ``track_len`` column (m); a recorder sets it.
    """

    def __init__(self, folder: str | Path | None, first_episode: int = 0, track_len_m: float = 0.0) -> None:
        self.folder = Path(folder) if folder is not None else None
        self.next_episode = int(first_episode)
        self.track_len_m = float(track_len_m)
        self._episodes: list[tuple[int, np.ndarray, str]] = []     # (number, (L, 14) array, final status)
        self.episodes: list[EpisodeSummary] = []

    def add_episode(self, cols: np.ndarray, status: str, number: int | None = None) -> EpisodeSummary:
        """A finished episode: ``cols`` (L, 14) float64, row 0 its ``prepare`` row, the last row its
        end with step label ``status``; ``number`` None: the next number in completion order."""
        if number is None:
            n = self.next_episode
            self.next_episode += 1
        else:
            n = int(number)
        self._episodes.append((n, cols, status))
        summary = EpisodeSummary(n, int(cols[-1, _C_STEPS]), float(cols[1:, _C_REWARD].sum()),
                                 float(cols[-1, _C_PROGRESS]), status,
                                 float(cols[-1, _C_T] - cols[0, _C_T]), float(cols[0, _C_WALL]),
                                 float(cols[-1, _C_WALL]), float(cols[0, _C_T]), float(cols[-1, _C_T]))
        self.episodes.append(summary)
        return summary

    @property
    def rows(self) -> list[list[Any]]:
        """The buffered rows in simtrace column order (:data:`SIMTRACE_COLUMNS`), episodes in the
        order they were added."""
        out: list[list[Any]] = []
        track_len = round(self.track_len_m, 4)
        for n, cols, status in self._episodes:
            f4 = np.round(cols, 4).tolist()
            rew = np.round(cols[:, _C_REWARD], 6).tolist()
            ints = cols[:, [_C_STEPS, _C_ACTION, _C_WP]].astype(np.int64).tolist()
            flags = cols[:, [_C_DONE, _C_ON]].astype(bool).tolist()
            wall = np.round(cols[:, _C_WALL], 3).tolist()
            last = len(f4) - 1
            for k, r in enumerate(f4):
                (s, a, wp), (d, on) = ints[k], flags[k]
                label = "prepare" if k == 0 else (status if k == last else "in_progress")
                out.append([n, s, r[_C_X], r[_C_Y], r[_C_YAW], r[_C_STEER], r[_C_SPEED], a, rew[k], d, on,
                            r[_C_PROGRESS], wp, track_len, r[_C_T], label, 0.0, 0, wall[k]])
        return out

    def sort_episodes(self) -> None:
        """Order the buffered episodes by number (evaluation: trial order)."""
        self._episodes.sort(key=lambda e: e[0])

    def csv_text(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(SIMTRACE_COLUMNS)
        w.writerows(self.rows)
        return buf.getvalue()

    def write_iteration(self, iteration: int) -> tuple[Path | None, list[EpisodeSummary]]:
        """Write the buffered episodes as ``<iteration>-iteration.csv`` (atomic) and start a new
        buffer; returns the path (None when nothing was buffered or no folder) and the episodes."""
        episodes, path = self.episodes, None
        if self.folder is not None and self._episodes:
            path = simtrace_path(self.folder, iteration)
            atomic_write_text(path, self.csv_text())
        self._episodes, self.episodes = [], []
        return path, episodes


class CarRecorder:
    """Per-car episode buffers for N cars stepping together; finished episodes go to a :class:`SimtraceLog`.

    A step costs one row write into a preallocated (steps, 14, N) float64 buffer; the rows of an
    episode are copied out once, when it ends, and formatted as CSV once per iteration.

    :param log: the worker's simtrace.
    :param n_cars: cars stepped together.
    :param track_len_m: track length (m), the ``track_len`` column.
    :param dt_s: simulated seconds per step.
    """

    def __init__(self, log: SimtraceLog, n_cars: int, track_len_m: float, dt_s: float) -> None:
        self.log = log
        log.track_len_m = float(track_len_m)
        self.n_cars = int(n_cars)
        self.dt_s = float(dt_s)
        self.clock_s = np.zeros(self.n_cars)          # per-car simulated time, continuous across episodes
        self._buf = np.zeros((256, _N_COLS, self.n_cars))
        self._len = 0                                  # rows used in _buf
        self._base = 0                                 # global step index of _buf[0]
        self._start = np.zeros(self.n_cars, dtype=np.int64)      # global step index of each car's first step
        self._prepare = np.zeros((self.n_cars, _N_COLS))         # each car's prepare row
        self.active = np.zeros(self.n_cars, dtype=bool)          # cars inside an episode (rows are recorded)
        self._no_action = np.full(self.n_cars, -1.0)
        #: the driven tracks' centre lines (forward, reversed): with them, :meth:`step` may be given
        #: [previous, next] waypoint pairs, resolved to the nearer one once per episode
        self.centres: tuple[np.ndarray, np.ndarray] | None = None
        #: optional fixed episode number per car (evaluation: the trial index); None: completion order
        self.episode_of_car: Sequence[int] | None = None
        #: summaries of episodes finished since the last :meth:`take_finished`
        self.finished: list[EpisodeSummary] = []

    def start(self, car_ids: Sequence[int], x: np.ndarray, y: np.ndarray, yaw_rad: np.ndarray,
              progress: np.ndarray, closest_waypoint: np.ndarray, tstamp_s: np.ndarray | None = None) -> None:
        """New episodes for ``car_ids`` (arrays indexed like ``car_ids``): a ``prepare`` row each.
        An unfinished episode of such a car is dropped (it never ended). ``tstamp_s``: the cars'
        simulated time now (default: the recorder's own clock, ``dt_s`` per step)."""
        ids = np.asarray(car_ids, dtype=np.int64).reshape(-1)
        if tstamp_s is not None:
            self.clock_s[ids] = tstamp_s
        row = self._prepare[ids]
        row[:] = 0.0
        row[:, _C_X], row[:, _C_Y], row[:, _C_YAW] = x, y, np.degrees(yaw_rad)
        row[:, _C_ACTION], row[:, _C_ON] = -1.0, 1.0
        row[:, _C_PROGRESS], row[:, _C_WP] = progress, closest_waypoint
        row[:, _C_T], row[:, _C_WALL] = self.clock_s[ids], time.time()
        self._prepare[ids] = row
        self._start[ids] = self._base + self._len
        self.active[ids] = True

    def _room(self) -> None:
        """Make room for one more step row: drop rows no unfinished episode needs, grow if needed."""
        keep_from = int(self._start[self.active].min()) if self.active.any() else self._base + self._len
        drop = keep_from - self._base
        if drop > 0:
            self._buf[: self._len - drop] = self._buf[drop: self._len]
            self._len -= drop
            self._base = keep_from
        if self._len >= len(self._buf):
            grown = np.zeros((2 * len(self._buf), _N_COLS, self.n_cars))
            grown[: self._len] = self._buf[: self._len]
            self._buf = grown

    def step(self, x: np.ndarray, y: np.ndarray, yaw_rad: np.ndarray, steer_deg: np.ndarray,
             speed_m_s: np.ndarray, actions: np.ndarray | None, rewards: np.ndarray, done: np.ndarray,
             all_wheels_on_track: np.ndarray, progress: np.ndarray, steps: np.ndarray,
             closest_waypoint: np.ndarray, statuses: Sequence[str], tstamp_s: np.ndarray | None = None,
             is_reversed: np.ndarray | None = None) -> None:
        """One row per car inside an episode (arrays (N,)); a car whose ``done`` is set closes its
        episode and records nothing more until :meth:`start`. ``closest_waypoint``: (N,) indices, or
        (N, 2) [previous, next] pairs with ``is_reversed`` and :attr:`centres` set (the nearer one is
        chosen when the episode ends, vectorised, as simapp's simtrace does)."""
        if tstamp_s is None:
            self.clock_s += self.dt_s
        else:
            self.clock_s[:] = tstamp_s
        if self._len >= len(self._buf):
            self._room()
        r = self._buf[self._len]
        r[_C_STEPS], r[_C_X], r[_C_Y], r[_C_YAW] = steps, x, y, yaw_rad
        r[_C_STEER], r[_C_SPEED], r[_C_REWARD], r[_C_DONE] = steer_deg, speed_m_s, rewards, done
        r[_C_ACTION] = actions if actions is not None and np.ndim(actions) == 1 else self._no_action
        if np.ndim(closest_waypoint) == 2:
            r[_C_WP], r[_C_WP_NEXT], r[_C_REV] = closest_waypoint[:, 0], closest_waypoint[:, 1], is_reversed
        else:
            r[_C_WP], r[_C_WP_NEXT] = closest_waypoint, -1.0
        r[_C_ON], r[_C_PROGRESS], r[_C_T] = all_wheels_on_track, progress, self.clock_s
        r[_C_WALL] = time.time()
        np.degrees(r[_C_YAW], out=r[_C_YAW])
        self._len += 1
        ended = np.flatnonzero(np.asarray(done, dtype=bool) & self.active)
        for i in ended.tolist():
            s = int(self._start[i]) - self._base
            cols = np.empty((self._len - s + 1, _N_COLS))
            cols[0] = self._prepare[i]
            cols[1:] = self._buf[s: self._len, :, i]
            if self.centres is not None and cols[-1, _C_WP_NEXT] >= 0:
                pairs = cols[1:, [_C_WP, _C_WP_NEXT]].astype(np.int64)
                cols[1:, _C_WP] = nearest_waypoint(cols[1:, [_C_X, _C_Y]], pairs, self.centres,
                                                   cols[1:, _C_REV].astype(bool))
            number = None if self.episode_of_car is None else self.episode_of_car[i]
            self.finished.append(self.log.add_episode(cols, str(statuses[i]), number))
            self.active[i] = False

    def take_finished(self) -> list[EpisodeSummary]:
        out, self.finished = self.finished, []
        return out


# ---------------------------------------------------------------------------------- metrics JSON
def _status_counts(status: str) -> dict[str, int]:
    return {"crash_count": int(status == "crashed"), "immobilized_count": int(status == "immobilized"),
            "off_track_count": int(status == "off_track"), "reversed_count": int(status == "reversed"),
            "reset_count": 0}


def training_metric_row(ep: EpisodeSummary, trial: int, phase: str = "training") -> dict[str, Any]:
    """simapp's ``TrainingMetrics`` row for one episode (``episode`` 1-based, ``trial`` 1-based
    within its iteration; times in milliseconds of simulated time, as simapp's sim clock)."""
    return {"reward_score": int(round(ep.reward)), "metric_time": int(round(ep.end_tstamp * 1000)),
            "start_time": int(round(ep.start_tstamp * 1000)),
            "elapsed_time_in_milliseconds": int(round(ep.elapsed_s * 1000)), "episode": ep.episode + 1,
            "trial": int(trial), "phase": phase, "completion_percentage": int(min(max(ep.progress, 0.0), 100.0)),
            "episode_status": AWS_EPISODE_STATUS.get(ep.status, ep.status)}


def evaluation_metric_row(trial: int, completion_pct: float, elapsed_ms: int, status: str,
                          start_s: float, end_s: float) -> dict[str, Any]:
    """simapp's ``EvalMetrics`` row for one trial (``trial`` 1-based; ``start_s``/``end_s``:
    simulated time in seconds). One trial per episode here, so ``reset_count`` is the sum of the
    0/1 counts of the status that ended it."""
    counts = _status_counts(status)
    counts["reset_count"] = sum(v for k, v in counts.items() if k != "reset_count")
    return {"completion_percentage": int(min(max(completion_pct, 0.0), 100.0)),
            "metric_time": int(round(end_s * 1000)), "start_time": int(round(start_s * 1000)),
            "elapsed_time_in_milliseconds": int(elapsed_ms),
            "episode_status": AWS_EPISODE_STATUS.get(status, status), **counts, "trial": int(trial)}


def write_metrics_json(path: str | Path, rows: list[dict[str, Any]], training: bool = True) -> None:
    """Training: ``{"metrics": rows, "version": 2.0, "best_model_metric": "progress"}``;
    evaluation: ``{"metrics": rows}`` (simapp leaves the version out there); atomically."""
    data: dict[str, Any] = {"metrics": rows}
    if training:
        data.update(version=METRICS_VERSION, best_model_metric=BEST_MODEL_METRIC)
    atomic_write_text(Path(path), json.dumps(data) + "\n")


def read_metrics_json(path: str | Path) -> list[dict[str, Any]]:
    """The ``metrics`` rows of a metrics JSON ([] when missing or unreadable)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    rows = data.get("metrics") if isinstance(data, dict) else None
    return rows if isinstance(rows, list) else []


def nearest_waypoint(ref_xy: np.ndarray, prev_next: np.ndarray, centres: Sequence[np.ndarray],
                     is_reversed: np.ndarray) -> np.ndarray:
    """simapp's simtrace ``closest_waypoint``: of each car's [previous, next] waypoint indices (on
    its driven track; ``centres[int(reversed)]`` holds that track's centre line), the nearer one."""
    prev_next = np.asarray(prev_next, dtype=np.int64)
    rev = np.asarray(is_reversed, dtype=bool)
    pts = np.where(rev[:, None, None], centres[1][prev_next], centres[0][prev_next])    # (N, 2, 2)
    d = np.hypot(pts[..., 0] - ref_xy[:, None, 0], pts[..., 1] - ref_xy[:, None, 1])
    return np.where(d[:, 1] < d[:, 0], prev_next[:, 1], prev_next[:, 0])


def attach(env: Any, log: SimtraceLog) -> CarRecorder:
    """A :class:`CarRecorder` on ``env``'s batch (a DeepRacerVecEnv, DeepRacerEnv or DeepRacerBatch),
    feeding ``log``; the cars' next resets start their episodes."""
    batch = getattr(env, "batch", env)
    rec = CarRecorder(log, batch.n_cars, batch.track.length_m, batch.dt_s)
    rec.centres = getattr(batch, "_centres", None)
    batch.recorder = rec
    return rec
