"""AWS reward runtime parity: one reward instance per car, simapp's params, validation and limits.

The params oracle is written here with shapely, the way deepracer-simapp computes them
(track_data.get_nearest_points / set_reward_and_metrics), from the official route files; nothing of
deepracer_tracks is used to compute the expected values.
"""
from __future__ import annotations

import json
import sys
import textwrap
import time

import numpy as np
import pytest

from deepracer_agent.batch import DeepRacerBatch
from deepracer_agent.reward import (CarState, ParamsBuilder, RewardFunctionError, load_reward_function,
                                    sample_params, validate_reward_function)
from shared_data import shared_path

shapely = pytest.importorskip("shapely")
from shapely.geometry import LinearRing, LineString, Point  # noqa: E402

# ----------------------------------------------------------------------------- stateful reward files
STATEFUL = {
    "module_globals": """
        import math
        CALLS = 0
        LAST_PROGRESS = None
        def reward_function(params):
            global CALLS, LAST_PROGRESS
            CALLS += 1
            gain = 0.0 if LAST_PROGRESS is None else params['progress'] - LAST_PROGRESS
            LAST_PROGRESS = params['progress']
            return 1.0 + CALLS * 0.01 + 10.0 * gain
    """,
    "class_with_history": """
        class Tracker:
            def __init__(self):
                self.history = []
            def update(self, params):
                self.history.append((params['x'], params['y'], params['steps']))
                if len(self.history) < 2:
                    return 0.0
                (x0, y0, _), (x1, y1, _) = self.history[-2:]
                return ((x1 - x0) ** 2 + (y1 - y0) ** 2) ** 0.5
        TRACKER = Tracker()
        def reward_function(params):
            moved = TRACKER.update(params)
            return float(len(TRACKER.history)) * 0.1 + 5.0 * moved
    """,
    "object_reward_like_community_files": """
        import math
        class Reward:
            # the pattern of popular community files: an object at module level that remembers the
            # episode's first waypoint and the previous step (e.g. a "first_racingpoint_index")
            def __init__(self):
                self.first_index = None
                self.prev_steps = None
            def reward_function(self, params):
                if params['steps'] == 1 or self.first_index is None or params['steps'] < (self.prev_steps or 0):
                    self.first_index = params['closest_waypoints'][0]
                self.prev_steps = params['steps']
                n = len(params['waypoints']) - 1
                done = (params['closest_waypoints'][1] - self.first_index) % n
                return float(1e-3 + done / n + (1.0 if params['all_wheels_on_track'] else 0.0))
        reward_object = Reward()
        def reward_function(params):
            return reward_object.reward_function(params)
    """,
    "numpy_cache": """
        import numpy as np
        _CACHE = {}
        def reward_function(params, _default_arg_state=[]):
            if 'wp' not in _CACHE:
                _CACHE['wp'] = np.array(params['waypoints'])
                _CACHE['seen'] = np.zeros(len(_CACHE['wp']))
            nxt = params['closest_waypoints'][1]
            _CACHE['seen'][nxt] += 1
            _default_arg_state.append(nxt)
            return float(1.0 / _CACHE['seen'][nxt] + 0.001 * len(_default_arg_state))
    """,
}


def _write(tmp_path, name, text):
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(text))
    return path


def _random_actions(n_cars, steps, seed=0):
    return np.random.default_rng(seed).integers(0, 10, size=(steps, n_cars))


@pytest.mark.parametrize("name", sorted(STATEFUL))
def test_stateful_reward_in_a_4_car_batch_equals_a_fresh_instance_per_car(tmp_path, name):
    """Done-when of issue 13: each car's rewards equal those of a fresh single-car instance fed the
    same params sequence (one shared module would mix the cars' state)."""
    path = _write(tmp_path, name, STATEFUL[name])
    batch = DeepRacerBatch(n_cars=4, reward=str(path), episode={"max_steps": 25}, seed=3)
    batch.reset_all()
    got, seen = [], []
    for actions in _random_actions(4, 40):
        _, rewards, terminated, truncated, _ = batch.step(actions)
        got.append(rewards.copy())
        seen.append([dict(p) for p in batch.last_params])
        done = np.flatnonzero(terminated | truncated)
        if len(done):
            batch.reset_cars(done)              # new episodes, the same instance per car (as AWS's worker)
    got = np.array(got)
    base = load_reward_function(path)
    for car in range(4):
        fresh = base.spawn()
        expected = [fresh(dict(step[car], waypoints=list(step[car]["waypoints"]))) for step in seen]
        assert np.array_equal(got[:, car], np.float32(expected)), (name, car)
    # and the cars really differ (state of one shared module would have made them interleave)
    shared = load_reward_function(path)
    mixed = [shared(dict(p, waypoints=list(p["waypoints"]))) for step in seen for p in step]
    assert not np.allclose(np.array(mixed, dtype=np.float32).reshape(-1, 4), got)


def test_each_car_and_each_env_gets_its_own_module(tmp_path):
    path = _write(tmp_path, "ids", "STATE = []\ndef reward_function(params):\n"
                                   "    STATE.append(1)\n    return float(len(STATE))\n")
    batch = DeepRacerBatch(n_cars=3, reward=str(path), seed=0)
    modules = {fn.fn.__globals__["__name__"] for fn in batch.reward_fns}
    assert len(modules) == 3 and all(m not in sys.modules for m in modules)
    batch.reset_all()
    _, r1, *_ = batch.step(np.zeros(3, dtype=int))
    _, r2, *_ = batch.step(np.zeros(3, dtype=int))
    assert list(r1) == [1.0, 1.0, 1.0] and list(r2) == [2.0, 2.0, 2.0]
    # the SB3 VecEnv (what deepracer train drives) is the same batch: one instance per car
    from deepracer_agent.vec_env import DeepRacerVecEnv

    venv = DeepRacerVecEnv(n_envs=2, reward=str(path), seed=0)
    venv.reset()
    venv.step(np.zeros(2, dtype=int))
    _, r, _, _ = venv.step(np.zeros(2, dtype=int))
    assert list(r) == [2.0, 2.0]
    # a loaded (and test-called) RewardFunction handed to an env is not reused for driving
    rf = load_reward_function(path)
    validate_reward_function(rf, batch.track)
    rf({"x": 0.0})
    other = DeepRacerBatch(n_cars=2, reward=rf, seed=0)
    other.reset_all()
    _, r, *_ = other.step(np.zeros(2, dtype=int))
    assert list(r) == [1.0, 1.0]


def test_in_place_changes_to_params_never_reach_another_car_or_step(tmp_path):
    """Issue 21 item 11: a reward that edits params['waypoints'] (same length or not) in a batch."""
    path = _write(tmp_path, "mutates", """
        def reward_function(params):
            wp = params['waypoints']
            ok = wp[0] != (-1.0, -1.0) and len(wp) == LEN[0] if LEN else True
            if not LEN:
                LEN.append(len(wp))
            wp[0] = (-1.0, -1.0)          # same length: the old length check could not see this
            wp.reverse()
            params['closest_waypoints'].append(7)
            return 1.0 if ok else 0.0
        LEN = []
    """)
    batch = DeepRacerBatch(n_cars=4, reward=str(path), seed=0)
    batch.reset_all()
    pristine = batch.params_builder.waypoints()
    for _ in range(5):
        _, rewards, *_ = batch.step(np.zeros(4, dtype=int))
        assert list(rewards) == [1.0] * 4
    assert batch.params_builder.waypoints() == pristine


def test_decoupled_worker_env_and_bridge_spawn_their_own_instance(tmp_path):
    from deepracer_agent.bridge import BridgeEnv
    from deepracer_agent.env import DeepRacerEnv

    path = _write(tmp_path, "count", "N = [0]\ndef reward_function(params):\n    N[0] += 1\n    return float(N[0])\n")
    rf = load_reward_function(path)
    rf({})
    env = DeepRacerEnv(reward=rf, seed=0)            # what a rollout worker builds (runtime.make_env)
    env.reset(seed=0)
    assert env.step(0)[1] == 1.0

    class _NoLink:
        frames = None
    bridge = BridgeEnv(_NoLink(), reward=rf)
    assert bridge._car_reward is not rf and bridge._car_reward.fn is not rf.fn
    assert bridge._car_reward({}) == 1.0


# ----------------------------------------------------------------------------- params vs simapp (shapely)
ROUTES = [("aws_worlds/bundle/routes", n) for n in
          ("reinvent_base", "Oval_track", "Bowtie_track", "AWS_track", "Straight_track")] + [
          ("tracks", "reInvent2019_track")]


class SimappTrack:
    """Independent oracle: deepracer-simapp's TrackData + set_reward_and_metrics, in shapely."""

    def __init__(self, route: np.ndarray, reverse: bool):
        self.is_loop = bool(np.all(route[0, :] == route[-1, :]))
        poly = LinearRing if self.is_loop else LineString
        rows = route[::-1] if reverse else route
        self.center = poly(rows[:, 0:2])
        self.inner = poly(rows[:, 2:4])
        self.outer = poly(rows[:, 4:6])
        forward_ccw = LinearRing(route[:, 0:2]).is_ccw if self.is_loop else True
        self.is_ccw = forward_ccw ^ reverse
        coords = list(self.center.coords)
        # current simapp: interior duplicate rows dropped (_sanitize_waypoints), the closing row kept
        self.waypoints = [coords[0]] + [p for a, p in zip(coords, coords[1:]) if p != a]
        if self.is_loop and self.waypoints[-1] != self.waypoints[0]:
            self.waypoints.append(self.waypoints[0])
        line = LineString(self.waypoints)
        self.ndists = [line.project(Point(p), normalized=True) for p in self.waypoints[:-1]] + [1.0]

    def params(self, x: float, y: float) -> dict:
        import bisect

        pt = Point(x, y)
        ndist = self.center.project(pt, normalized=True)
        ctr = self.center.interpolate(ndist, normalized=True)
        near_in = self.inner.interpolate(self.inner.project(ctr))
        near_out = self.outer.interpolate(self.outer.project(ctr))
        nxt = bisect.bisect_right(self.ndists, ndist)
        prev = nxt - 1
        return {"track_width": near_in.distance(near_out),
                "is_left_of_center": (near_in.distance(pt) < near_out.distance(pt)) ^ (not self.is_ccw),
                "distance_from_center": ctr.distance(pt),
                "projection_distance": ndist * self.center.length,
                "track_length": self.center.length,
                "waypoints": self.waypoints,
                "closest_waypoints": [prev, nxt]}


def _route(name, folder="aws_worlds/bundle/routes"):
    return np.load(shared_path(*folder.split("/"), f"{name}.npy"))


@pytest.mark.parametrize("folder, name", ROUTES, ids=[n for _, n in ROUTES])
@pytest.mark.parametrize("reverse", [False, True])
def test_params_match_simapp_on_official_routes(folder, name, reverse):
    import warnings

    from deepracer_tracks.track import Track

    route = _route(name, folder)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")       # AWS_track: the centre line is off the middle (accepted quirk)
        track = Track.from_array(route, name=name)
    driven = track.reversed() if reverse else track
    oracle = SimappTrack(route, reverse)
    builder = ParamsBuilder(track, track.reversed())
    rng = np.random.default_rng(1)
    # points all along the lap, spread across the road (and a little beyond it)
    s = rng.uniform(0.0, driven.length_m, 300)
    (c, h) = driven.pose_at(s)
    lateral = rng.uniform(-0.7, 0.7, 300) * track.width_m
    xy = c + lateral[:, None] * np.column_stack([-np.sin(h), np.cos(h)])
    query = driven.query(xy)
    n = len(xy)
    car = CarState(xy=xy, yaw_rad=h, steering_deg=np.zeros(n), speed_m_s=np.ones(n), progress_pct=np.zeros(n),
                   steps=np.arange(1, n + 1), all_wheels_on_track=np.ones(n, bool), is_offtrack=np.zeros(n, bool),
                   is_reversed=np.full(n, reverse))
    got = builder.build(car, query)
    assert np.array_equal(np.array(got[0]["waypoints"]), np.array(oracle.waypoints))
    assert len(got[0]["waypoints"]) == len(route) - int(np.sum(np.all(route[1:] == route[:-1], axis=1)))
    mismatched_left = 0
    for (x, y), p in zip(xy, got):
        want = oracle.params(x, y)
        assert p["track_width"] == pytest.approx(want["track_width"], abs=1e-6)
        assert p["distance_from_center"] == pytest.approx(want["distance_from_center"], abs=1e-6)
        assert p["track_length"] == pytest.approx(want["track_length"], rel=1e-9)
        mismatched_left += p["is_left_of_center"] != want["is_left_of_center"]
        if abs(p["projection_distance"] - want["projection_distance"]) < 1e-6:
            assert p["closest_waypoints"] == want["closest_waypoints"]
    assert mismatched_left == 0


def test_is_left_of_center_follows_simapp_where_the_centre_line_is_off_the_middle():
    """AWS_track's centre line is up to 0.19 m off the middle of the road: there simapp's rule
    (nearer the inner border, ccw) and "left of the centre line" disagree; params follow simapp."""
    import warnings

    from deepracer_tracks.track import Track

    route = _route("AWS_track")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        track = Track.from_array(route, name="AWS_track")
    oracle = SimappTrack(route, False)
    s = np.linspace(0.0, track.length_m, 3000, endpoint=False)
    c, h = track.pose_at(s)
    lateral = np.random.default_rng(0).uniform(-0.3, 0.3, len(s))
    xy = c + lateral[:, None] * np.column_stack([-np.sin(h), np.cos(h)])
    q = track.query(xy)
    n = len(xy)
    car = CarState(xy=xy, yaw_rad=h, steering_deg=np.zeros(n), speed_m_s=np.ones(n), progress_pct=np.zeros(n),
                   steps=np.ones(n, int), all_wheels_on_track=np.ones(n, bool), is_offtrack=np.zeros(n, bool),
                   is_reversed=np.zeros(n, bool))
    got = np.array([p["is_left_of_center"] for p in ParamsBuilder(track, track.reversed()).build(car, q)])
    differs = np.flatnonzero(got != q.is_left_of_center)
    assert len(differs) >= 2                      # the two definitions really differ on this track
    for i in differs:
        assert got[i] == oracle.params(*xy[i])["is_left_of_center"]


def test_sim_time_is_simulated_seconds_since_the_episode_start():
    batch = DeepRacerBatch(n_cars=2, episode={"max_steps": 5}, seed=0)
    batch.reset_all()
    for k in range(1, 4):
        batch.step(np.zeros(2, dtype=int))
        assert [p["sim_time"] for p in batch.last_params] == pytest.approx([k / 15.0] * 2)
        assert [p["steps"] for p in batch.last_params] == [k, k]
    batch.reset_cars([0])
    batch.step(np.zeros(2, dtype=int))
    assert [p["sim_time"] for p in batch.last_params] == pytest.approx([1 / 15.0, 4 / 15.0])


# ----------------------------------------------------------------------------- validation
@pytest.fixture(scope="module")
def oval():
    from deepracer_tracks.track import Track

    return Track.from_npy(shared_path("tracks", "Oval_track.npy"))


def test_sample_params_carry_objects_and_aws_keys(oval):
    samples = sample_params(oval)
    assert len(samples) >= 4
    for p in samples:
        for key in ("closest_objects", "objects_location", "objects_heading", "objects_speed",
                    "objects_left_of_center", "objects_distance", "objects_distance_from_center",
                    "object_in_camera", "waypoints", "track_width", "sim_time"):
            assert key in p
        assert len(p["objects_location"]) == 2 and len(p["objects_distance"]) == 2


def test_validator_names_file_and_line_in_one_line(tmp_path, oval):
    path = _write(tmp_path, "obstacles", """
        def reward_function(params):
            a, b = params['closest_objects']
            ahead = params['objects_location'][b]
            return 1.0 / params['objects_distance'][b] + params['no_such_key']
    """)
    rf = load_reward_function(path)
    with pytest.raises(RewardFunctionError) as err:
        validate_reward_function(rf, oval)
    msg = str(err.value)
    assert "\n" not in msg and str(path) in msg and "line 5" in msg and "KeyError" in msg
    assert "sample params" in msg


def test_check_inputs_test_calls_the_reward_and_keeps_it_fresh(tmp_path):
    from deepracer_agent.config import ConfigError, TrainConfig, check_inputs

    bad = _write(tmp_path, "bad", "def reward_function(params):\n    return params['objects_speed'][5]\n")
    with pytest.raises(ConfigError, match=r"reward_file: .*bad\.py.*IndexError.*line 2"):
        check_inputs(TrainConfig.from_dict({"reward_file": str(bad)}))
    good = _write(tmp_path, "good", "N = [0]\ndef reward_function(params):\n    N[0] += 1\n    return float(N[0])\n")
    _, rf = check_inputs(TrainConfig.from_dict({"reward_file": str(good), "reward_timeout_s": 0.5}))
    assert rf.timeout_s == 0.5 and rf.fn({}) == 1.0         # the validator ran on another instance


@pytest.mark.parametrize("module", ["math", "random", "numpy", "scipy", "shapely", "time"])
def test_imports_aws_allows_are_installed(tmp_path, module):
    path = _write(tmp_path, f"uses_{module}", f"import {module}\ndef reward_function(params):\n    return 1.0\n")
    assert load_reward_function(path)({}) == 1.0


def test_shapely_reward_runs_on_real_params(tmp_path, oval):
    path = _write(tmp_path, "shapely_reward", """
        from shapely.geometry import Point, Polygon
        def reward_function(params):
            road = Polygon(params['waypoints'])
            return 1.0 if road.exterior.distance(Point(params['x'], params['y'])) < params['track_width'] else 1e-3
    """)
    rf = load_reward_function(path)
    validate_reward_function(rf, oval)
    assert rf(sample_params(oval)[0]) == 1.0


# ----------------------------------------------------------------------------- limits
@pytest.mark.parametrize("body, words", [
    ("while True:\n        pass", "longer than the limit of 0.3 s"),
    ("import time\n    time.sleep(0.6)\n    return 1.0", "longer than the limit of 0.3 s"),
    ("while True:\n        try:\n            sum(range(1000))\n        except Exception:\n            pass",
     "longer than the limit of 0.3 s"),
])
def test_a_reward_past_its_time_limit_is_stopped(tmp_path, body, words):
    rf = load_reward_function(_write(tmp_path, "slow", f"def reward_function(params):\n    {body}\n"), timeout_s=0.3)
    t0 = time.monotonic()
    with pytest.raises(RewardFunctionError, match=words) as err:
        rf({"x": 1.0})
    assert time.monotonic() - t0 < 2.0
    assert "reward_timeout_s" in str(err.value) and "\n" not in str(err.value)
    assert rf({"x": 1.0}) if False else True     # the watchdog is disarmed: the process lives on
    time.sleep(0.2)                              # nothing fires later either


def test_timeout_does_not_touch_fast_calls_or_signal_handlers(tmp_path):
    import signal

    before = signal.getsignal(signal.SIGALRM)
    rf = load_reward_function(_write(tmp_path, "fast", "def reward_function(params):\n    return 1.0\n"),
                              timeout_s=0.05)
    for _ in range(2000):
        assert rf({}) == 1.0
    time.sleep(0.15)
    assert rf({}) == 1.0 and signal.getsignal(signal.SIGALRM) is before


@pytest.mark.parametrize("body, words", [
    ("import sys\n    sys.exit()", r"called sys\.exit\(\) at line 3"),
    ("import sys\n    sys.exit(0)", r"called sys\.exit\(0\) at line 3"),
    ("raise KeyboardInterrupt", r"raised KeyboardInterrupt at line 2"),
    ("return 10**400", r"returned an integer of 401 digits, too large for a float"),
    ("return -(10**400)", r"returned an integer of 401 digits"),
    ("return float('1e308') * 10", r"returned inf"),
    ("import numpy as np\n    return np.float32(1e30)", r"outside \+-100000"),
    ("from fractions import Fraction\n    return Fraction(10**400, 3)", r"not convertible to a float"),
])
def test_exits_interrupts_and_overflowing_returns_are_clear_errors(tmp_path, body, words):
    rf = load_reward_function(_write(tmp_path, "bad", f"def reward_function(params):\n    {body}\n"))
    with pytest.raises(RewardFunctionError, match=words) as err:
        rf({"x": 1.0})
    assert "bad.py" in str(err.value) and "\n" not in str(err.value)


def test_a_real_ctrl_c_during_a_reward_still_interrupts(tmp_path):
    """A real SIGINT (what Ctrl-C in the terminal sends) during a reward call reaches the caller as
    KeyboardInterrupt. Run in a fresh interpreter, as a training process is: the long pytest process of
    the whole agent suite is not a faithful host for a real signal (threads of earlier tests)."""
    import subprocess

    path = _write(tmp_path, "ctrl_c", """
        import os, signal, time
        def reward_function(params):
            os.kill(os.getpid(), signal.SIGINT)     # what Ctrl-C in the terminal does
            time.sleep(0.5)
            return 1.0
    """)
    script = textwrap.dedent(f"""
        import signal, sys
        # a process started in the background by a non-interactive shell inherits SIGINT as ignored;
        # Python installs its Ctrl-C handler only when it is not, so install it as a terminal would
        signal.signal(signal.SIGINT, signal.default_int_handler)
        from deepracer_agent.reward import load_reward_function
        rf = load_reward_function({str(path)!r})
        try:
            rf({{}})
        except KeyboardInterrupt:
            sys.exit(42)
        sys.exit(1)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 42, proc.stdout + proc.stderr


def test_sys_exit_while_loading_is_an_error(tmp_path):
    with pytest.raises(RewardFunctionError, match=r"error while loading at line 2: called sys\.exit\(\)"):
        load_reward_function(_write(tmp_path, "exits", "import sys\nsys.exit(0)\n"))


def test_numpy_zero_d_array_is_a_number(tmp_path):
    rf = load_reward_function(_write(tmp_path, "arr", "import numpy as np\ndef reward_function(params):\n"
                                                      "    return np.array(2.5)\n"))
    assert rf({}) == 2.5


# ----------------------------------------------------------------------------- deepracer train
@pytest.mark.slow
def test_reward_failure_during_train_is_one_line_and_status_failed(tmp_path, capsys):
    from deepracer_agent.commands.train import main
    from deepracer_agent.train import complete_checkpoints

    reward = _write(tmp_path, "late_failure", """
        CALLS = [0]
        def reward_function(params):
            CALLS[0] += 1
            if CALLS[0] > 40:
                raise ValueError('boom after %d calls' % CALLS[0])
            return 1.0
    """)
    run = tmp_path / "run"
    rc = main(["--run-dir", str(run), "--no-progress-bar", f"reward_file={reward}", "n_envs=2",
               "ppo.n_steps=32", "hyperparameters.batch_size=32", "hyperparameters.num_epochs=1",
               "stop.max_iterations=5", "model_metadata.neural_network=DEEP_CONVOLUTIONAL_NETWORK"])
    err = capsys.readouterr().err
    assert rc == 2
    lines = [line for line in err.splitlines() if line.startswith("deepracer train:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert "late_failure.py" in lines[0] and "ValueError: boom after 41 calls" in lines[0] and "line 6" in lines[0]
    status = json.loads((run / "status.json").read_text())
    assert status["state"] == "failed" and "boom after 41 calls" in status["reason"]
    # iteration 1 (32 steps per car) finished before the failure: its checkpoint is complete and loads
    ckpts = complete_checkpoints(run)
    assert [c[1]["iteration"] for c in ckpts] == [1]
    from deepracer_agent.checkpoint import read

    assert read(ckpts[0][0]).num_timesteps == 64


@pytest.mark.slow
def test_reward_failure_in_every_decoupled_worker_ends_the_run_with_its_line(tmp_path, capsys):
    from deepracer_agent.config import TrainConfig
    from deepracer_agent.distributed.local import run_local

    reward = _write(tmp_path, "worker_failure", """
        CALLS = [0]
        def reward_function(params):
            CALLS[0] += 1
            if CALLS[0] > 20:
                raise RuntimeError('worker reward broke')
            return 1.0
    """)
    cfg = TrainConfig.from_dict({"reward_file": str(reward), "stop": {"max_wall_time_s": 240},
                                 "model_metadata": {"neural_network": "DEEP_CONVOLUTIONAL_NETWORK"}})
    t0 = time.monotonic()
    rc = run_local(cfg, workers=2, run_dir=tmp_path / "run")
    err = capsys.readouterr().err
    assert rc == 2 and time.monotonic() - t0 < 200
    assert "every rollout worker stopped with an error" in err and "worker reward broke" in err, err
    assert "worker_failure.py" in err and "line 6" in err
