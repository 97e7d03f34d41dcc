"""The AWS DeepRacer reward contract: loading user reward files, building ``params``, checking results.

A reward file is plain Python that defines ``reward_function(params) -> float``, exactly as on the
AWS DeepRacer console; files written for AWS run here unchanged. :func:`load_reward_function`
loads one, :class:`ParamsBuilder` builds the ``params`` dict for each car from the simulator state
and a :class:`deepracer_tracks.track.TrackQuery`, and :meth:`RewardFunction.__call__` calls the
function and checks what it returns.

Where AWS's documentation and its simulator (deepracer-simapp) differ, this module follows the
simulator, because that is what trained the models people have:

- ``x``, ``y`` are a point 0.14 m AHEAD of the car origin (base_link) along its heading
  (``RELATIVE_POSITION_OF_FRONT_OF_CAR``), not the origin. ``distance_from_center``,
  ``is_left_of_center``, ``progress``, ``closest_waypoints`` and ``projection_distance`` are all
  measured at that point.
- ``speed`` and ``steering_angle`` are the COMMANDED action (m/s, degrees, left positive), not the
  measured state.
- ``track_width`` is the local width at the projection of the reference point, not one global value.
- ``projection_distance`` is the arc length (m) of the projection from the track's own start line
  (waypoint 0 of the driven direction); ``progress`` (0..100) is measured from the EPISODE's start
  point and reaches 100 at lap completion.
- ``steps`` counts steps including the current one: the first reward of an episode sees ``steps == 1``.
- ``is_offtrack`` is true when no wheel is on the track (the episode then ends); ``all_wheels_on_track``
  is true when all four wheel contact points are on the road.
- The reward function is also called on the terminating step (with ``is_offtrack`` set), as AWS does.
- The ``objects_*`` keys, ``closest_objects``, ``object_in_camera`` and ``is_crashed`` carry AWS's
  defaults (empty lists, ``[0, 0]``, ``False``): there are no obstacles or bot cars yet.

Performance: the ``waypoints`` list is built once per track and the SAME list object is handed to
every call (AWS deep-copies it each step; we do not, to keep params cheap). A reward function must
not modify it; :meth:`RewardFunction.__call__` checks its length afterwards and raises if it changed.
"""
from __future__ import annotations

import importlib.resources
import linecache
import logging
import math
import numbers
import time
import types
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from deepracer_sim.episode import REFERENCE_POINT_OFFSET_M, reference_point  # noqa: F401 (re-exported)

LOG = logging.getLogger(__name__)

#: A reward outside +-REWARD_LIMIT is an error (AWS rejects such values too).
REWARD_LIMIT = 1e5
#: A reward call slower than this (seconds) triggers one warning per reward function.
SLOW_CALL_S = 0.005

#: Keys of every params dict, in AWS's order (deepracer-simapp ``RewardParam``).
PARAM_KEYS = (
    "all_wheels_on_track", "x", "y", "heading", "distance_from_center", "projection_distance",
    "progress", "steps", "speed", "steering_angle", "track_width", "track_length", "waypoints",
    "closest_waypoints", "is_left_of_center", "is_reversed", "closest_objects", "objects_location",
    "objects_left_of_center", "object_in_camera", "objects_speed", "objects_heading",
    "objects_distance_from_center", "objects_distance", "is_crashed", "is_offtrack",
)

#: Names of the example reward files shipped in ``deepracer_agent/rewards/``.
EXAMPLE_REWARDS = ("centerline", "centerline_speed", "all_wheels_speed", "waypoint_heading", "progress_per_step")
DEFAULT_REWARD = "centerline"


class RewardFunctionError(RuntimeError):
    """A reward file could not be loaded, or its function raised / returned a bad value.

    The message names the file, the line (for exceptions) and a summary of the params involved.
    """


def example_reward_path(name: str = DEFAULT_REWARD) -> Path:
    """Path of a shipped example reward (``EXAMPLE_REWARDS``); the default is the AWS centre-line one."""
    if name not in EXAMPLE_REWARDS:
        raise RewardFunctionError(f"unknown example reward {name!r}; choose one of {list(EXAMPLE_REWARDS)}")
    return Path(str(importlib.resources.files("deepracer_agent") / "rewards" / f"{name}.py"))


def resolve_reward(spec: str | Path | None) -> Path:
    """A reward file path, or the name of a shipped example (``None`` -> the default)."""
    if spec is None:
        return example_reward_path()
    if isinstance(spec, str) and spec in EXAMPLE_REWARDS:
        return example_reward_path(spec)
    return Path(spec)


# ---------------------------------------------------------------------------------- loading
def load_reward_function(path: str | Path) -> "RewardFunction":
    """Load ``reward_function`` from a Python file, the way the AWS console runs it.

    Raises :class:`RewardFunctionError` naming the file when it is missing, has a syntax error
    (with its line), fails while being executed (with the line), lacks ``reward_function`` or the
    name is not callable.
    """
    path = Path(path)
    try:
        source = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RewardFunctionError(f"reward file {path}: not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RewardFunctionError(f"reward file {path}: cannot read: {exc}") from None
    filename = str(path.resolve())
    try:
        code = compile(source, filename, "exec")
    except SyntaxError as exc:
        text = (exc.text or "").strip()
        raise RewardFunctionError(f"reward file {path}: syntax error at line {exc.lineno}: {exc.msg}"
                                  + (f": {text}" if text else "")) from None
    module = types.ModuleType(f"deepracer_user_reward_{path.stem}")
    module.__file__ = filename
    linecache.checkcache(filename)
    try:
        exec(code, module.__dict__)  # noqa: S102 - running the user's reward file is the point
    except Exception as exc:  # noqa: BLE001 - any failure of user code becomes a clear error
        line, text = _user_frame(exc, filename)
        raise RewardFunctionError(f"reward file {path}: error while loading at line {line}: "
                                  f"{type(exc).__name__}: {exc}" + (f" ({text})" if text else "")) from None
    fn = module.__dict__.get("reward_function")
    if fn is None:
        raise RewardFunctionError(f"reward file {path}: defines no 'reward_function'; "
                                  "it must define def reward_function(params): ... return float(reward)")
    if not callable(fn):
        raise RewardFunctionError(f"reward file {path}: 'reward_function' is a "
                                  f"{type(fn).__name__}, not a function")
    return RewardFunction(fn, path, filename)


def _user_frame(exc: BaseException, filename: str) -> tuple[int | None, str]:
    """Line number and source text of the deepest traceback frame inside the user's file."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    if line is None and isinstance(exc, SyntaxError) and exc.filename == filename:
        line = exc.lineno
    text = linecache.getline(filename, line).strip() if line else ""
    return line, text


def summarize_params(params: Mapping[str, Any]) -> str:
    """A one-line, readable summary of a params dict (long lists shortened) for error messages."""
    parts = []
    for key, value in params.items():
        if isinstance(value, (list, tuple)) and len(value) > 4:
            value = f"<{len(value)} items>"
        elif isinstance(value, float):
            value = f"{value:.4g}"
        parts.append(f"{key}={value}")
    return "{" + ", ".join(parts) + "}"


class RewardFunction:
    """A loaded user reward function; call it with a params dict, get a checked float.

    ``__call__`` raises :class:`RewardFunctionError` when the function raises (message: file,
    line, exception, params), returns a non-number (``bool`` counts as not a number), NaN/inf or a
    value beyond +-``REWARD_LIMIT``. Nothing is clamped. The first call slower than
    ``SLOW_CALL_S`` AFTER the first (warm-up) call gets one warning with the measured time.
    """

    def __init__(self, fn: Callable[[dict], Any], path: str | Path, filename: str | None = None) -> None:
        self.fn = fn
        self.path = Path(path)
        self._filename = filename or str(self.path.resolve())
        self._calls = 0
        self._warned_slow = False
        self.slowest_call_s = 0.0

    def __repr__(self) -> str:
        return f"RewardFunction({str(self.path)!r})"

    def __call__(self, params: dict) -> float:
        waypoints = params.get("waypoints")
        n_waypoints = len(waypoints) if isinstance(waypoints, list) else -1
        start = time.perf_counter()
        try:
            value = self.fn(params)
        except Exception as exc:  # noqa: BLE001 - user code: turn it into a clear error
            line, text = _user_frame(exc, self._filename)
            where = f"line {line}" + (f" ({text})" if text else "") if line else "an unknown line"
            raise RewardFunctionError(
                f"reward file {self.path}: reward_function raised {type(exc).__name__}: {exc} at {where}; "
                f"params: {summarize_params(params)}") from exc
        elapsed = time.perf_counter() - start
        self._calls += 1
        if self._calls > 1 and elapsed > self.slowest_call_s:
            self.slowest_call_s = elapsed
            if elapsed > SLOW_CALL_S and not self._warned_slow:
                self._warned_slow = True
                msg = (f"reward file {self.path}: reward_function took {elapsed * 1e3:.1f} ms "
                       f"(> {SLOW_CALL_S * 1e3:.0f} ms per call); it will slow training down")
                LOG.warning(msg)
                warnings.warn(msg, RuntimeWarning, stacklevel=2)
        if n_waypoints >= 0 and len(waypoints) != n_waypoints:
            raise RewardFunctionError(f"reward file {self.path}: reward_function modified params['waypoints'] "
                                      "(the list is shared between calls; copy it before changing it)")
        return self._check(value, params)

    def _check(self, value: Any, params: Mapping[str, Any]) -> float:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            problem = f"returned {type(value).__name__} {value!r}, not a number"
        elif not math.isfinite(value):
            problem = f"returned {value}"
        elif abs(value) > REWARD_LIMIT:
            problem = f"returned {value}, outside +-{REWARD_LIMIT:g}"
        else:
            return float(value)
        raise RewardFunctionError(f"reward file {self.path}: reward_function {problem}; "
                                  f"params: {summarize_params(params)}")


# ---------------------------------------------------------------------------------- params
def heading_deg(yaw_rad: np.ndarray) -> np.ndarray:
    """Yaw (rad) -> AWS ``heading`` in degrees, wrapped to [-180, 180)."""
    return (np.degrees(yaw_rad) + 180.0) % 360.0 - 180.0


@dataclass
class CarState:
    """Per-car arrays (leading dimension N) that, with a TrackQuery, make the params dicts.

    ``xy`` is the reference point (see :func:`reference_point`), ``yaw_rad`` the car heading,
    ``steering_deg``/``speed_m_s`` the commanded action, ``progress_pct`` the episode progress,
    ``steps`` the steps taken including this one.
    """

    xy: np.ndarray
    yaw_rad: np.ndarray
    steering_deg: np.ndarray
    speed_m_s: np.ndarray
    progress_pct: np.ndarray
    steps: np.ndarray
    all_wheels_on_track: np.ndarray
    is_offtrack: np.ndarray
    is_reversed: np.ndarray


class ParamsBuilder:
    """Builds AWS params dicts for N cars on one track (driven either way).

    ``tracks`` maps ``is_reversed`` (False/True) to the :class:`Track` driven in that direction
    (``track`` and ``track.reversed()``): waypoints, closest_waypoints and projection_distance refer
    to the driven direction, as AWS's simulator does once it reverses the track.
    """

    def __init__(self, track: Any, reversed_track: Any | None = None) -> None:
        self._waypoints = {False: [tuple(p) for p in np.asarray(track.centre, dtype=float).tolist()]}
        if reversed_track is not None:
            self._waypoints[True] = [tuple(p) for p in np.asarray(reversed_track.centre, dtype=float).tolist()]
        self.track_length = float(track.length_m)

    def waypoints(self, is_reversed: bool = False) -> list[tuple[float, float]]:
        """The shared waypoint list for a direction (do not modify)."""
        return self._waypoints[bool(is_reversed)]

    def build(self, car: CarState, query: Any) -> list[dict[str, Any]]:
        """One params dict per car. ``query`` is the TrackQuery of ``car.xy`` on each car's driven track."""
        n = len(car.xy)
        x, y = car.xy[:, 0].tolist(), car.xy[:, 1].tolist()
        heading = heading_deg(np.asarray(car.yaw_rad)).tolist()
        dist = np.asarray(query.distance_from_center_m, dtype=float).tolist()
        proj = np.asarray(query.s_m, dtype=float).tolist()
        width = (2.0 * np.asarray(query.half_width_m, dtype=float)).tolist()
        left = np.asarray(query.is_left_of_center, dtype=bool).tolist()
        closest = np.asarray(query.closest_waypoints, dtype=np.int64).tolist()
        progress = np.asarray(car.progress_pct, dtype=float).tolist()
        steps = np.asarray(car.steps, dtype=np.int64).tolist()
        speed = np.asarray(car.speed_m_s, dtype=float).tolist()
        steer = np.asarray(car.steering_deg, dtype=float).tolist()
        all_on = np.asarray(car.all_wheels_on_track, dtype=bool).tolist()
        off = np.asarray(car.is_offtrack, dtype=bool).tolist()
        rev = np.asarray(car.is_reversed, dtype=bool).tolist()
        length = self.track_length
        out = []
        for i in range(n):
            out.append({
                "all_wheels_on_track": all_on[i],
                "x": x[i],
                "y": y[i],
                "heading": heading[i],
                "distance_from_center": dist[i],
                "projection_distance": proj[i],
                "progress": progress[i],
                "steps": steps[i],
                "speed": speed[i],
                "steering_angle": steer[i],
                "track_width": width[i],
                "track_length": length,
                "waypoints": self._waypoints[rev[i]],
                "closest_waypoints": closest[i],
                "is_left_of_center": left[i],
                "is_reversed": rev[i],
                "closest_objects": [0, 0],
                "objects_location": [],
                "objects_left_of_center": [],
                "object_in_camera": False,
                "objects_speed": [],
                "objects_heading": [],
                "objects_distance_from_center": [],
                "objects_distance": [],
                "is_crashed": False,
                "is_offtrack": off[i],
            })
        return out


def build_params(track: Any, x_m: float, y_m: float, yaw_rad: float, steering_deg: float, speed_m_s: float,
                 progress_pct: float, steps: int, wheel_contacts_xy: np.ndarray, is_reversed: bool = False,
                 builder: ParamsBuilder | None = None) -> dict[str, Any]:
    """The params dict of ONE car, for callers outside the batched env (e.g. the Gym-bridge node).

    ``track`` is the track as DRIVEN (``Track.reversed()`` when ``is_reversed``); ``x_m, y_m, yaw_rad``
    the base_link pose (the reference point 0.14 m ahead is computed here); ``wheel_contacts_xy``
    the (4, 2) world wheel contact points; ``progress_pct`` the episode progress (see
    :mod:`deepracer_sim.episode`). ``is_offtrack`` uses AWS's rule (no wheel on the road). Pass a
    ``builder`` made once for the track to share its waypoint list between calls.
    """
    builder = builder or ParamsBuilder(track, track)   # the driven track serves either direction flag
    ref = reference_point(np.array([x_m]), np.array([y_m]), np.array([yaw_rad]))
    on = np.asarray(track.on_track(np.asarray(wheel_contacts_xy, dtype=float).reshape(1, -1, 2)))
    car = CarState(xy=ref, yaw_rad=np.array([yaw_rad]), steering_deg=np.array([steering_deg]),
                   speed_m_s=np.array([speed_m_s]), progress_pct=np.array([progress_pct]),
                   steps=np.array([steps]), all_wheels_on_track=on.all(axis=1), is_offtrack=~on.any(axis=1),
                   is_reversed=np.array([is_reversed]))
    return builder.build(car, track.query(ref))[0]
