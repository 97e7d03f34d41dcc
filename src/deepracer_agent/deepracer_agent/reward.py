"""The AWS DeepRacer reward contract: loading user reward files, building ``params``, checking results.

A reward file is plain Python that defines ``reward_function(params) -> float``, exactly as on the
AWS DeepRacer console; files written for AWS run here unchanged. :func:`load_reward_function`
loads one, :func:`validate_reward_function` test-calls it with sample params (as AWS's validator
does), :class:`ParamsBuilder` builds the ``params`` dict for each car from the simulator state and a
:class:`deepracer_tracks.track.TrackQuery`, and :meth:`RewardFunction.__call__` calls the function
and checks what it returns.

Runtime, as on AWS (each AWS rollout worker is its own process with its own copy of the module):

- ONE INDEPENDENT INSTANCE PER CAR: :meth:`RewardFunction.spawn` executes the file again as a fresh
  module object (``importlib.util.module_from_spec``, a unique module name, never entered in
  ``sys.modules``), so module globals, class instances and caches in a reward file belong to one car.
  Every caller that drives cars (the batched env, the VecEnv, decoupled workers, the Gym bridge)
  spawns one instance per car; the instance that was test-called by the validator is never used
  for driving. A plain Python callable passed instead of a file cannot be copied: it is shared.
- FRESH PARAMS EVERY CALL: AWS calls ``reward_function(copy.deepcopy(params))``. Here every params
  dict, every list in it (``waypoints`` is a new list of (x, y) tuples, ``closest_waypoints`` a new
  list) is built anew for each car and step, and tuples and floats are immutable, so whatever a
  reward does to its params cannot reach another call; this is as safe as a deep copy and much
  cheaper (BENCHMARKS.md, "Reward params").
- LIMITS: a call that runs longer than ``timeout_s`` (config ``reward_timeout_s``, default 3 s) is
  stopped by a watchdog thread (it raises an exception inside the reward's thread, which works in
  any thread and touches no signal handler; a reward stuck inside one long C call is stopped when
  that call returns); ``sys.exit()`` or ``KeyboardInterrupt`` raised by the reward, any exception,
  a non-number, NaN/inf, an integer too large for a float (``10**400``) or a value beyond +-1e5 are
  a :class:`RewardFunctionError` naming the file and line. A real Ctrl-C still interrupts.

Params, where AWS's documentation and its simulator (deepracer-simapp) differ, follow the simulator,
because that is what trained the models people have:

- ``x``, ``y`` are a point 0.14 m AHEAD of the car origin (base_link) along its heading
  (``RELATIVE_POSITION_OF_FRONT_OF_CAR``), not the origin. ``distance_from_center``,
  ``is_left_of_center``, ``progress``, ``closest_waypoints`` and ``projection_distance`` are all
  measured at that point.
- ``speed`` and ``steering_angle`` are the COMMANDED action (m/s, degrees, left positive), not the
  measured state.
- ``track_width`` is simapp's ``track_data.get_nearest_points``: the distance between the points of
  the inner and of the outer border nearest to the car's projection on the centre line (not the
  width of a ``.npy`` row, not one global value).
- ``is_left_of_center`` is simapp's rule: the reference point is nearer to the inner border point
  than to the outer one, inverted when the driven direction is clockwise (open tracks count as
  counter-clockwise when driven forward). Where the centre line is not midway between the borders
  (some official files) this differs from "left of the centre line".
- ``waypoints`` are the route file's centre rows as (x, y) tuples INCLUDING the closing row of a
  loop (N+1 entries for N distinct points), interior duplicate rows dropped (simapp's
  ``_sanitize_waypoints``), in the driven direction; ``closest_waypoints`` = [prev, next] index into
  that list, so on a loop's last segment it is [N-1, N] (N is the closing row), as in simapp.
- ``projection_distance`` is the arc length (m) of the projection from the track's own start line
  (waypoint 0 of the driven direction); ``progress`` (0..100) is measured from the EPISODE's start
  point and reaches 100 at lap completion.
- ``steps`` counts steps including the current one: the first reward of an episode sees ``steps == 1``;
  ``sim_time`` is the simulated time (s) since the episode started (``steps`` x 1/15 s here).
- ``is_offtrack`` is true when no wheel is on the track (the episode then ends); ``all_wheels_on_track``
  is true when all four wheel contact points are on the road.
- The reward function is also called on the terminating step (with ``is_offtrack`` set), as AWS does.
- The ``objects_*`` keys, ``closest_objects``, ``object_in_camera`` and ``is_crashed`` carry AWS's
  defaults (empty lists, ``[0, 0]``, ``False``): there are no obstacles or bot cars yet.
"""
from __future__ import annotations

import ctypes
import importlib.resources
import importlib.util
import itertools
import linecache
import logging
import math
import numbers
import re
import signal
import threading
import time
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
#: Default limit (seconds) of one reward call (config ``reward_timeout_s``); None or 0 = no limit.
DEFAULT_TIMEOUT_S = 3.0
#: How often (s) the watchdog thread looks at the running calls.
_WATCHDOG_POLL_S = 0.05

#: Keys of every params dict, in AWS's order (deepracer-simapp ``RewardParam``), ``sim_time`` last.
PARAM_KEYS = (
    "all_wheels_on_track", "x", "y", "heading", "distance_from_center", "projection_distance",
    "progress", "steps", "speed", "steering_angle", "track_width", "track_length", "waypoints",
    "closest_waypoints", "is_left_of_center", "is_reversed", "closest_objects", "objects_location",
    "objects_left_of_center", "object_in_camera", "objects_speed", "objects_heading",
    "objects_distance_from_center", "objects_distance", "is_crashed", "is_offtrack", "sim_time",
)

#: Names of the example reward files shipped in ``deepracer_agent/rewards/``.
EXAMPLE_REWARDS = ("centerline", "centerline_speed", "all_wheels_speed", "waypoint_heading", "progress_per_step")
DEFAULT_REWARD = "centerline"


class RewardFunctionError(RuntimeError):
    """A reward file could not be loaded, or its function raised / returned a bad value / ran too long.

    The message (one line) names the file, the line (for exceptions) and a summary of the params involved.
    """


class RewardTimeout(BaseException):
    """Raised INSIDE a reward call by the watchdog when it runs past its time limit (caught and reworded
    into a RewardFunctionError). A BaseException, so a reward's own ``except Exception`` cannot swallow it."""


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
_MODULE_COUNTER = itertools.count()


def load_reward_function(path: str | Path, timeout_s: float | None = DEFAULT_TIMEOUT_S) -> "RewardFunction":
    """Load ``reward_function`` from a Python file, the way the AWS console runs it.

    The file is compiled once; the returned :class:`RewardFunction` runs it in its own fresh module
    and :meth:`RewardFunction.spawn` makes further independent instances (one per car).
    ``timeout_s`` limits every call (None: no limit). Raises :class:`RewardFunctionError` naming
    the file when it is missing, has a syntax error (with its line), fails while being executed
    (with the line), lacks ``reward_function`` or the name is not callable.
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
    linecache.checkcache(filename)
    fn = _execute(code, path, filename)
    return RewardFunction(fn, path, filename, code=code, timeout_s=timeout_s)


def _execute(code: Any, path: Path, filename: str) -> Callable[[dict], Any]:
    """Run the compiled reward file in a NEW module object; return its ``reward_function``.

    The module gets a unique name and is not put in ``sys.modules``, so nothing is shared between
    two executions (AWS: one process, one module per car).
    """
    name = f"deepracer_user_reward_{re.sub(r'[^0-9A-Za-z_]', '_', path.stem)}_{next(_MODULE_COUNTER)}"
    spec = importlib.util.spec_from_file_location(name, filename)
    module = importlib.util.module_from_spec(spec)
    try:
        exec(code, module.__dict__)  # noqa: S102 - running the user's reward file is the point
    except (Exception, SystemExit, KeyboardInterrupt) as exc:  # noqa: BLE001 - user code: a clear error
        line, text = _user_frame(exc, filename)
        what = "called sys.exit()" if isinstance(exc, SystemExit) else f"{type(exc).__name__}: {exc}"
        raise RewardFunctionError(f"reward file {path}: error while loading at line {line}: "
                                  f"{what}" + (f" ({text})" if text else "")) from None
    fn = module.__dict__.get("reward_function")
    if fn is None:
        raise RewardFunctionError(f"reward file {path}: defines no 'reward_function'; "
                                  "it must define def reward_function(params): ... return float(reward)")
    if not callable(fn):
        raise RewardFunctionError(f"reward file {path}: 'reward_function' is a "
                                  f"{type(fn).__name__}, not a function")
    return fn


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


# ---------------------------------------------------------------------------------- limits
class _Watchdog:
    """One daemon thread per process that stops reward calls running past their deadline.

    A call ``arm``s (a dict store: no lock, no syscall) and ``disarm``s (one uncontended lock). Every
    ``_WATCHDOG_POLL_S`` the thread looks for an armed call past its deadline and raises
    :class:`RewardTimeout` in that call's thread (``PyThreadState_SetAsyncExc``): it works in any
    thread and leaves signal handlers (SIGALRM of pytest-timeout, SIGINT) alone. Python checks for
    the exception between bytecodes, so a loop in the reward stops at once and a single long C call
    (``time.sleep(60)``) stops when it returns. ``disarm`` clears an exception that was raised too
    late to land in the reward (the call had just returned).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: dict[int, tuple[float, object]] = {}   # thread id -> (deadline, token)
        self._fired: dict[int, object] = {}                  # thread id -> token the watchdog fired for
        self._thread: threading.Thread | None = None

    def arm(self, deadline: float, token: object) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="reward-watchdog", daemon=True)
                    self._thread.start()
        self._armed[threading.get_ident()] = (deadline, token)

    def disarm(self, token: object) -> bool:
        """End the current thread's call ``token``; True if the watchdog fired for it."""
        tid = threading.get_ident()
        with self._lock:
            armed = self._armed.get(tid)
            if armed is not None and armed[1] is token:
                del self._armed[tid]
            fired = self._fired.get(tid) is token
            if fired:
                del self._fired[tid]
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(tid), None)   # clear if pending
        return fired

    def _run(self) -> None:
        while True:
            time.sleep(_WATCHDOG_POLL_S)
            if not self._armed:
                continue
            now = time.monotonic()
            with self._lock:
                for tid, (deadline, token) in list(self._armed.items()):
                    if now > deadline:
                        self._armed[tid] = (now + 1.0, token)      # again in 1 s if swallowed (bare except)
                        self._fired[tid] = token
                        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(tid),
                                                                   ctypes.py_object(RewardTimeout))


_WATCHDOG = _Watchdog()

# SIGINT bookkeeping: a KeyboardInterrupt out of a reward is the user's Ctrl-C only if a SIGINT came.
_SIGINT_COUNT = [0]
_SIGINT_HOOKED = [False]


def _count_sigint(signum: int, frame: Any) -> None:
    _SIGINT_COUNT[0] += 1
    signal.default_int_handler(signum, frame)


def _hook_sigint() -> None:
    """Count SIGINTs (behaviour unchanged: still KeyboardInterrupt), if Python's default handler is in place."""
    _SIGINT_HOOKED[0] = True
    if threading.current_thread() is threading.main_thread() \
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        try:
            signal.signal(signal.SIGINT, _count_sigint)
        except (ValueError, OSError):
            pass


def _is_real_ctrl_c(sigints_before: int, exc: KeyboardInterrupt, filename: str) -> bool:
    if signal.getsignal(signal.SIGINT) is _count_sigint:
        return _SIGINT_COUNT[0] != sigints_before
    line, text = _user_frame(exc, filename)          # no counter: a `raise` in the file is the reward's own
    return not (line and text.startswith("raise"))


class RewardFunction:
    """A loaded user reward function; call it with a params dict, get a checked float.

    ``__call__`` raises :class:`RewardFunctionError` (one line: file, line, what, params) when the
    function raises (``sys.exit()`` and a ``KeyboardInterrupt`` of its own included), runs past
    ``timeout_s``, or returns a non-number (``bool`` counts as not a number), NaN/inf, an integer
    too large for a float or a value beyond +-``REWARD_LIMIT``. Nothing is clamped. The first
    call slower than ``SLOW_CALL_S`` AFTER the first (warm-up) call gets one warning with the time.

    ``spawn()`` gives an independent instance (the file executed again in a fresh module) with the
    same limits; for a plain callable (no file) it returns the same object.
    """

    def __init__(self, fn: Callable[[dict], Any], path: str | Path, filename: str | None = None,
                 code: Any = None, timeout_s: float | None = DEFAULT_TIMEOUT_S) -> None:
        self.fn = fn
        self.path = Path(path)
        self._filename = filename or str(self.path.resolve())
        self._code = code
        if timeout_s is not None and not (isinstance(timeout_s, (int, float)) and timeout_s >= 0):
            raise ValueError(f"reward timeout_s: expected seconds >= 0 or None, got {timeout_s!r}")
        self.timeout_s = float(timeout_s) if timeout_s else None
        self._calls = 0
        self._warned_slow = False
        self.slowest_call_s = 0.0

    def __repr__(self) -> str:
        return f"RewardFunction({str(self.path)!r})"

    @property
    def independent(self) -> bool:
        """True when :meth:`spawn` makes independent instances (loaded from a file)."""
        return self._code is not None

    def spawn(self) -> "RewardFunction":
        """A NEW instance with its own module state (the file executed again), or ``self`` for a callable."""
        if self._code is None:
            return self
        fn = _execute(self._code, self.path, self._filename)
        return RewardFunction(fn, self.path, self._filename, code=self._code, timeout_s=self.timeout_s)

    def __call__(self, params: dict) -> float:
        if not _SIGINT_HOOKED[0]:
            _hook_sigint()
        sigints = _SIGINT_COUNT[0]
        timeout = self.timeout_s
        token = object()
        start = time.perf_counter()
        try:
            if timeout is not None:
                _WATCHDOG.arm(time.monotonic() + timeout, token)
                try:
                    value = self.fn(params)
                finally:
                    _WATCHDOG.disarm(token)
            else:
                value = self.fn(params)
        except RewardTimeout as exc:
            _WATCHDOG.disarm(token)
            raise self._timeout_error(time.perf_counter() - start, exc, params) from None
        except SystemExit as exc:
            raise self._error(f"called sys.exit({'' if exc.code is None else repr(exc.code)})", exc, params) from None
        except KeyboardInterrupt as exc:
            if _is_real_ctrl_c(sigints, exc, self._filename):
                raise
            raise self._error("raised KeyboardInterrupt", exc, params) from None
        except Exception as exc:  # noqa: BLE001 - user code: turn it into a clear error
            raise self._error(f"raised {type(exc).__name__}: {exc}", exc, params) from exc
        elapsed = time.perf_counter() - start
        if timeout is not None and elapsed > timeout:       # stuck in one C call the watchdog could not stop
            raise self._timeout_error(elapsed, None, params)
        self._calls += 1
        if self._calls > 1 and elapsed > self.slowest_call_s:
            self.slowest_call_s = elapsed
            if elapsed > SLOW_CALL_S and not self._warned_slow:
                self._warned_slow = True
                msg = (f"reward file {self.path}: reward_function took {elapsed * 1e3:.1f} ms "
                       f"(> {SLOW_CALL_S * 1e3:.0f} ms per call); it will slow training down")
                LOG.warning(msg)
                warnings.warn(msg, RuntimeWarning, stacklevel=2)
        return self._check(value, params)

    def _error(self, what: str, exc: BaseException, params: Mapping[str, Any]) -> RewardFunctionError:
        line, text = _user_frame(exc, self._filename)
        where = f"line {line}" + (f" ({text})" if text else "") if line else "an unknown line"
        return RewardFunctionError(f"reward file {self.path}: reward_function {what} at {where}; "
                                   f"params: {summarize_params(params)}")

    def _timeout_error(self, elapsed: float, exc: BaseException | None, params: Mapping[str, Any]) -> RewardFunctionError:
        line, text = _user_frame(exc, self._filename) if exc is not None else (None, "")
        where = f" (stopped at line {line}: {text})" if line else ""
        return RewardFunctionError(f"reward file {self.path}: reward_function ran {elapsed:.2f} s, longer than "
                                   f"the limit of {self.timeout_s:g} s (config reward_timeout_s){where}; "
                                   f"params: {summarize_params(params)}")

    def _check(self, value: Any, params: Mapping[str, Any]) -> float:
        if isinstance(value, np.ndarray) and value.ndim == 0:
            value = value[()]
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            problem = f"returned {type(value).__name__} {_short_repr(value)}, not a number"
        else:
            try:
                number = float(value)
            except (OverflowError, ValueError, TypeError):
                number = None
            if number is None or (not math.isfinite(number) and isinstance(value, numbers.Integral)):
                digits = len(str(abs(int(value)))) if isinstance(value, numbers.Integral) else None
                problem = (f"returned an integer of {digits} digits, too large for a float" if digits
                           else f"returned {_short_repr(value)}, not convertible to a float")
            elif not math.isfinite(number):
                problem = f"returned {number}"
            elif abs(number) > REWARD_LIMIT:
                problem = f"returned {number}, outside +-{REWARD_LIMIT:g}"
            else:
                return number
        raise RewardFunctionError(f"reward file {self.path}: reward_function {problem}; "
                                  f"params: {summarize_params(params)}")


def _short_repr(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ---------------------------------------------------------------------------------- params
def heading_deg(yaw_rad: np.ndarray) -> np.ndarray:
    """Yaw (rad) -> AWS ``heading`` in degrees, wrapped to [-180, 180)."""
    return (np.degrees(yaw_rad) + 180.0) % 360.0 - 180.0


@dataclass
class CarState:
    """Per-car arrays (leading dimension N) that, with a TrackQuery, make the params dicts.

    ``xy`` is the reference point (see :func:`reference_point`), ``yaw_rad`` the car heading,
    ``steering_deg``/``speed_m_s`` the commanded action, ``progress_pct`` the episode progress,
    ``steps`` the steps taken including this one, ``sim_time_s`` the simulated seconds since the
    episode started (None: ``steps / 15``, one camera frame per step).
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
    sim_time_s: np.ndarray | None = None


#: Seconds per env step when ``CarState.sim_time_s`` is not given (the 15 Hz camera).
STEP_S = 1.0 / 15.0


def aws_waypoints(track: Any) -> list[tuple[float, float]]:
    """simapp's ``params['waypoints']`` for a driven Track: its centre points as (x, y) tuples, plus
    the closing row on a loop (the Track already dropped interior duplicate rows, as simapp's
    ``_sanitize_waypoints`` does)."""
    points = [tuple(p) for p in np.asarray(track.centre, dtype=float).tolist()]
    if track.closed:
        points.append(points[0])
    return points


class ParamsBuilder:
    """Builds AWS params dicts for N cars on one track (driven either way).

    ``track`` is the track driven forward, ``reversed_track`` the same track driven the other way
    (``track.reversed()``, the default): waypoints, closest_waypoints and projection_distance refer
    to the driven direction, as AWS's simulator does once it reverses the track. Every dict and
    every list in it is new (see the module docstring: as safe as AWS's deep copy).
    """

    def __init__(self, track: Any, reversed_track: Any | None = None) -> None:
        reversed_track = reversed_track if reversed_track is not None else track.reversed()
        self.track = track
        self._tracks = {False: track, True: reversed_track}
        self._waypoints = {False: aws_waypoints(track), True: aws_waypoints(reversed_track)}
        self.track_length = float(track.length_m)
        self._closed = bool(track.closed)
        # simapp: is_ccw of the driven centre line (an open track counts as ccw driven forward)
        self._forward_ccw = (track.direction == "counterclockwise") if self._closed else True

    def waypoints(self, is_reversed: bool = False) -> list[tuple[float, float]]:
        """A new copy of the waypoint list for a direction."""
        return list(self._waypoints[bool(is_reversed)])

    def geometry(self, xy: np.ndarray, query: Any, is_reversed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """simapp's ``track_width`` (m) and ``is_left_of_center`` for reference points ``xy`` (N, 2).

        Nearest inner and outer border points to the centre-line projection (``get_nearest_points``);
        width = their distance; left = (nearer the inner point) XOR (the driven direction is clockwise).
        """
        rev = np.asarray(is_reversed, dtype=bool).reshape(-1)
        seg = np.asarray(query.closest_waypoints)[:, 0]
        proj = np.asarray(query.projection_xy, dtype=float)
        if not rev.any() or rev.all():
            inner, outer = self._tracks[bool(rev.any())].border_points_from_projection(seg, proj)
        else:
            inner, outer = np.empty_like(proj), np.empty_like(proj)
            for flag in (False, True):
                m = rev == flag
                inner[m], outer[m] = self._tracks[flag].border_points_from_projection(seg[m], proj[m])
        width = np.hypot(*(inner - outer).T)
        d_in = np.hypot(*(xy - inner).T)
        d_out = np.hypot(*(xy - outer).T)
        ccw = rev ^ self._forward_ccw
        return width, (d_in < d_out) ^ ~ccw

    def build(self, car: CarState, query: Any) -> list[dict[str, Any]]:
        """One params dict per car. ``query`` is the TrackQuery of ``car.xy`` on each car's driven track."""
        n = len(car.xy)
        xy = np.asarray(car.xy, dtype=float)
        x, y = xy[:, 0].tolist(), xy[:, 1].tolist()
        heading = heading_deg(np.asarray(car.yaw_rad)).tolist()
        dist = np.asarray(query.distance_from_center_m, dtype=float).tolist()
        proj = np.asarray(query.s_m, dtype=float).tolist()
        rev_arr = np.asarray(car.is_reversed, dtype=bool).reshape(n)
        width_arr, left_arr = self.geometry(xy, query, rev_arr)
        width, left = width_arr.tolist(), left_arr.tolist()
        closest_arr = np.asarray(query.closest_waypoints, dtype=np.int64)
        if self._closed:   # simapp: next = prev + 1, the closing row on the last segment
            closest_arr = np.column_stack([closest_arr[:, 0], closest_arr[:, 0] + 1])
        closest = closest_arr.tolist()
        progress = np.asarray(car.progress_pct, dtype=float).tolist()
        steps_arr = np.asarray(car.steps, dtype=np.int64)
        steps = steps_arr.tolist()
        sim_time = (steps_arr * STEP_S if car.sim_time_s is None
                    else np.asarray(car.sim_time_s, dtype=float)).tolist()
        speed = np.asarray(car.speed_m_s, dtype=float).tolist()
        steer = np.asarray(car.steering_deg, dtype=float).tolist()
        all_on = np.asarray(car.all_wheels_on_track, dtype=bool).tolist()
        off = np.asarray(car.is_offtrack, dtype=bool).tolist()
        rev = rev_arr.tolist()
        length = self.track_length
        waypoints = self._waypoints
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
                "waypoints": list(waypoints[rev[i]]),      # a new list of immutable tuples each call
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
                "sim_time": sim_time[i],
            })
        return out


def build_params(track: Any, x_m: float, y_m: float, yaw_rad: float, steering_deg: float, speed_m_s: float,
                 progress_pct: float, steps: int, wheel_contacts_xy: np.ndarray, is_reversed: bool = False,
                 builder: ParamsBuilder | None = None, sim_time_s: float | None = None) -> dict[str, Any]:
    """The params dict of ONE car, for callers outside the batched env (e.g. the Gym-bridge node).

    ``track`` is the track as DRIVEN (``Track.reversed()`` when ``is_reversed``); ``x_m, y_m, yaw_rad``
    the base_link pose (the reference point 0.14 m ahead is computed here); ``wheel_contacts_xy``
    the (4, 2) world wheel contact points; ``progress_pct`` the episode progress (see
    :mod:`deepracer_sim.episode`); ``sim_time_s`` the simulated seconds since the episode start
    (None: ``steps / 15``). ``is_offtrack`` uses AWS's rule (no wheel on the road). Pass a
    ``builder`` made once for the track (``ParamsBuilder(forward, reversed)``) to reuse it.
    """
    if builder is None:
        forward = track.reversed() if is_reversed else track
        builder = ParamsBuilder(forward, forward.reversed())
    ref = reference_point(np.array([x_m]), np.array([y_m]), np.array([yaw_rad]))
    on = np.asarray(track.on_track(np.asarray(wheel_contacts_xy, dtype=float).reshape(1, -1, 2)))
    car = CarState(xy=ref, yaw_rad=np.array([yaw_rad]), steering_deg=np.array([steering_deg]),
                   speed_m_s=np.array([speed_m_s]), progress_pct=np.array([progress_pct]),
                   steps=np.array([steps]), all_wheels_on_track=on.all(axis=1), is_offtrack=~on.any(axis=1),
                   is_reversed=np.array([is_reversed]),
                   sim_time_s=None if sim_time_s is None else np.array([sim_time_s]))
    return builder.build(car, track.query(ref))[0]


# ---------------------------------------------------------------------------------- validation
def sample_params(track: Any) -> list[dict[str, Any]]:
    """Sample params like those AWS's reward validator calls a new reward file with: cars on
    ``track`` (start line, a quarter and half way round, either direction, on and off the centre
    line, the terminating off-track step) with the obstacle keys FILLED (two objects), so a reward
    written for object avoidance is exercised too."""
    builder = ParamsBuilder(track, track.reversed())
    out = []
    for k, (frac, offset, rev) in enumerate([(0.0, 0.0, False), (0.25, 0.15, False), (0.5, -0.2, True),
                                             (0.75, 0.05, True), (0.9, 2.0, False)]):
        driven = track.reversed() if rev else track
        (c,), (h,) = driven.pose_at([frac * driven.length_m])
        xy = (c + offset * np.array([-math.sin(h), math.cos(h)]))[None]
        query = driven.query(xy)
        off = abs(offset) > 1.0
        car = CarState(xy=xy, yaw_rad=np.array([h]), steering_deg=np.array([(-1) ** k * 15.0]),
                       speed_m_s=np.array([1.0 + 0.5 * k]), progress_pct=np.array([100.0 * frac]),
                       steps=np.array([1 + 40 * k]), all_wheels_on_track=np.array([not off]),
                       is_offtrack=np.array([off]), is_reversed=np.array([rev]))
        params = builder.build(car, query)[0]
        objects = [driven.pose_at([(frac + d) * driven.length_m])[0][0] for d in (0.05, 0.12)]
        params.update({
            "closest_objects": [0, 1],
            "objects_location": [tuple(o.tolist()) for o in objects],
            "objects_left_of_center": [True, False],
            "object_in_camera": True,
            "objects_speed": [0.0, 0.5],
            "objects_heading": [float(h), float(h)],
            "objects_distance_from_center": [0.0, 0.0],
            "objects_distance": [float(((frac + d) * driven.length_m) % driven.length_m) for d in (0.05, 0.12)],
            "is_crashed": False,
        })
        out.append(params)
    return out


def validate_reward_function(reward: "RewardFunction", track: Any) -> None:
    """Test-call ``reward`` with :func:`sample_params` on ``track`` before training, as AWS's
    validator does. The calls run on a spawned instance, so the instance that drives keeps a fresh
    state. Raises :class:`RewardFunctionError` (one line: file, line, what) on the first failure."""
    probe = reward.spawn()
    for params in sample_params(track):
        try:
            probe(params)
        except RewardFunctionError as exc:
            raise RewardFunctionError(f"{exc} (test call with sample params before training, as AWS's "
                                      "reward validator does)") from None
