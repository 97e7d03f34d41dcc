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
- ``progress`` 0-100 (%), ``closest_waypoint``: the waypoint the car's centre-line segment starts at
  (``closest_waypoints[0]``, on the driven track), ``track_len`` (m);
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

    {"metrics": [{"episode", "trial", "phase", "reward_score", "completion_percentage", "metric_time",
                  "start_time", "elapsed_time_in_milliseconds", "episode_status", "crash_count",
                  "immobilized_count", "off_track_count", "reversed_count", "reset_count"}, ...],
     "version": "2", "best_model_metric": "progress"}

with AWS's episode labels ("Lap complete", "Off track", ...); evaluation rows carry no
``episode``/``phase``/``reward_score``. Times are integer milliseconds.
"""
from __future__ import annotations

import csv
import io
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from deepracer_common.fileio import atomic_write_text

SIMTRACE_COLUMNS = ("episode", "steps", "X", "Y", "yaw", "steer", "throttle", "action", "reward", "done",
                    "all_wheels_on_track", "progress", "closest_waypoint", "track_len", "tstamp",
                    "episode_status", "pause_duration", "obstacle_crash_counter", "wall_clock")

#: simapp's ``EpisodeStatus`` labels of the metrics JSON, keyed by the simtrace (step) label.
AWS_EPISODE_STATUS = {"in_progress": "In progress", "lap_complete": "Lap complete", "off_track": "Off track",
                      "immobilized": "Immobilized", "reversed": "Reversed", "time_up": "Time up",
                      "crashed": "Crashed", "prepare": "Prepare", "pause": "Pause"}

METRICS_VERSION = "2"
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


class SimtraceLog:
    """The simtrace of ONE worker: finished episodes buffered, one CSV per iteration.

    :param folder: where ``<iteration>-iteration.csv`` files go (None: keep rows in memory only).
    :param first_episode: episode number of the next finished episode (resume).
    """

    def __init__(self, folder: str | Path | None, first_episode: int = 0) -> None:
        self.folder = Path(folder) if folder is not None else None
        self.next_episode = int(first_episode)
        self.rows: list[tuple] = []
        self.episodes: list[EpisodeSummary] = []

    def add_episode(self, rows: list[list[Any]], wall_start: float, number: int | None = None) -> EpisodeSummary:
        """Number a finished episode's rows (``rows[k][0]`` is set; ``number`` None: the next
        number in completion order) and buffer them."""
        if number is None:
            n = self.next_episode
            self.next_episode += 1
        else:
            n = int(number)
        for r in rows:
            r[0] = n
        self.rows.extend(rows)
        last, first = rows[-1], rows[0]
        summary = EpisodeSummary(n, int(last[1]), float(sum(r[8] for r in rows)), float(last[11]),
                                 str(last[15]), float(last[14]) - float(first[14]), wall_start, float(last[18]))
        self.episodes.append(summary)
        return summary

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
        if self.folder is not None and self.rows:
            path = simtrace_path(self.folder, iteration)
            atomic_write_text(path, self.csv_text())
        self.rows, self.episodes = [], []
        return path, episodes


class CarRecorder:
    """Per-car episode buffers for N cars stepping together; finished episodes go to a :class:`SimtraceLog`.

    :param log: the worker's simtrace.
    :param n_cars: cars stepped together.
    :param track_len_m: track length (m), the ``track_len`` column.
    :param dt_s: simulated seconds per step.
    """

    def __init__(self, log: SimtraceLog, n_cars: int, track_len_m: float, dt_s: float) -> None:
        self.log = log
        self.n_cars = int(n_cars)
        self.track_len_m = round(float(track_len_m), 4)
        self.dt_s = float(dt_s)
        self.clock_s = np.zeros(self.n_cars)          # per-car simulated time, continuous across episodes
        self._rows: list[list[list[Any]]] = [[] for _ in range(self.n_cars)]
        self._wall_start = [0.0] * self.n_cars
        self.active = np.zeros(self.n_cars, dtype=bool)   # cars inside an episode (rows are recorded)
        #: optional fixed episode number per car (evaluation: the trial index); None: completion order
        self.episode_of_car: Sequence[int] | None = None
        #: summaries of episodes finished since the last :meth:`take_finished`
        self.finished: list[EpisodeSummary] = []

    def start(self, car_ids: Sequence[int], x: np.ndarray, y: np.ndarray, yaw_rad: np.ndarray,
              progress: np.ndarray, closest_waypoint: np.ndarray, tstamp_s: np.ndarray | None = None) -> None:
        """New episodes for ``car_ids`` (arrays indexed like ``car_ids``): a ``prepare`` row each.
        An unfinished episode of such a car is dropped (it never ended). ``tstamp_s``: the cars'
        simulated time now (default: the recorder's own clock, ``dt_s`` per step)."""
        wall = time.time()
        if tstamp_s is not None:
            self.clock_s[np.asarray(car_ids, dtype=np.int64)] = tstamp_s
        for k, i in enumerate(car_ids):
            i = int(i)
            self._wall_start[i] = wall
            self.active[i] = True
            self._rows[i] = [[-1, 0, round(float(x[k]), 4), round(float(y[k]), 4),
                              round(float(np.degrees(yaw_rad[k])), 4), 0.0, 0.0, -1, 0.0, False, True,
                              round(float(progress[k]), 4), int(closest_waypoint[k]), self.track_len_m,
                              round(float(self.clock_s[i]), 4), "prepare", 0.0, 0, round(wall, 3)]]

    def step(self, x: np.ndarray, y: np.ndarray, yaw_rad: np.ndarray, steer_deg: np.ndarray,
             speed_m_s: np.ndarray, actions: np.ndarray | None, rewards: np.ndarray, done: np.ndarray,
             all_wheels_on_track: np.ndarray, progress: np.ndarray, steps: np.ndarray,
             closest_waypoint: np.ndarray, statuses: Sequence[str], tstamp_s: np.ndarray | None = None) -> None:
        """One row per car inside an episode (all arrays (N,)); a car whose ``done`` is set closes its
        episode and records nothing more until :meth:`start`."""
        wall = round(time.time(), 3)
        if tstamp_s is None:
            self.clock_s += self.dt_s
        else:
            self.clock_s[:] = tstamp_s
        discrete = actions is not None and np.ndim(actions) == 1
        n = self.n_cars
        act = np.asarray(actions).astype(np.int64).tolist() if discrete else [-1] * n
        floats = np.column_stack([x, y, np.degrees(yaw_rad), steer_deg, speed_m_s, progress, self.clock_s]
                                 ).round(4).tolist()
        rew = np.round(np.asarray(rewards, dtype=np.float64), 6).tolist()
        ints = np.column_stack([steps, closest_waypoint]).astype(np.int64).tolist()
        flags = np.column_stack([done, all_wheels_on_track]).astype(bool).tolist()
        active, track_len = self.active, self.track_len_m
        for i in np.flatnonzero(active).tolist():   # finished and not restarted cars record nothing
            xi, yi, yawi, st, sp, pr, t = floats[i]
            s, wp = ints[i]
            d, on = flags[i]
            buf = self._rows[i]
            buf.append([-1, s, xi, yi, yawi, st, sp, act[i], rew[i], d, on, pr, wp, track_len, t,
                        statuses[i], 0.0, 0, wall])
            if d:
                number = None if self.episode_of_car is None else self.episode_of_car[i]
                self.finished.append(self.log.add_episode(buf, self._wall_start[i], number))
                self._rows[i] = []
                active[i] = False

    def take_finished(self) -> list[EpisodeSummary]:
        out, self.finished = self.finished, []
        return out


# ---------------------------------------------------------------------------------- metrics JSON
def _status_counts(status: str) -> dict[str, int]:
    return {"crash_count": int(status == "crashed"), "immobilized_count": int(status == "immobilized"),
            "off_track_count": int(status == "off_track"), "reversed_count": int(status == "reversed"),
            "reset_count": 0}


def training_metric_row(ep: EpisodeSummary, trial: int, phase: str = "training") -> dict[str, Any]:
    """simapp's training metrics row for one episode (``episode`` 1-based, ``trial`` 1-based within
    its iteration)."""
    return {"reward_score": int(round(ep.reward)), "metric_time": int(round(ep.end_wall * 1000)),
            "start_time": int(round(ep.start_wall * 1000)),
            "elapsed_time_in_milliseconds": int(round(ep.elapsed_s * 1000)), "episode": ep.episode + 1,
            "trial": int(trial), "phase": phase, "completion_percentage": int(min(max(ep.progress, 0.0), 100.0)),
            "episode_status": AWS_EPISODE_STATUS.get(ep.status, ep.status), **_status_counts(ep.status)}


def evaluation_metric_row(trial: int, completion_pct: float, elapsed_ms: int, status: str,
                          start_wall: float, end_wall: float) -> dict[str, Any]:
    """simapp's evaluation metrics row for one trial (``trial`` 1-based)."""
    return {"completion_percentage": int(min(max(completion_pct, 0.0), 100.0)),
            "metric_time": int(round(end_wall * 1000)), "start_time": int(round(start_wall * 1000)),
            "elapsed_time_in_milliseconds": int(elapsed_ms), "trial": int(trial),
            "episode_status": AWS_EPISODE_STATUS.get(status, status), **_status_counts(status)}


def write_metrics_json(path: str | Path, rows: list[dict[str, Any]]) -> None:
    """``{"metrics": rows, "version", "best_model_metric"}`` to ``path``, atomically."""
    data = {"metrics": rows, "version": METRICS_VERSION, "best_model_metric": BEST_MODEL_METRIC}
    atomic_write_text(Path(path), json.dumps(data) + "\n")


def read_metrics_json(path: str | Path) -> list[dict[str, Any]]:
    """The ``metrics`` rows of a metrics JSON ([] when missing or unreadable)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    rows = data.get("metrics") if isinstance(data, dict) else None
    return rows if isinstance(rows, list) else []


def attach(env: Any, log: SimtraceLog) -> CarRecorder:
    """A :class:`CarRecorder` on ``env``'s batch (a DeepRacerVecEnv, DeepRacerEnv or DeepRacerBatch),
    feeding ``log``; the cars' next resets start their episodes."""
    batch = getattr(env, "batch", env)
    rec = CarRecorder(log, batch.n_cars, batch.track.length_m, batch.dt_s)
    batch.recorder = rec
    return rec
