"""The reward contract: loading user files, params in constructed situations, checking results."""
import math
import time
import warnings

import numpy as np
import pytest

from deepracer_agent.reward import (
    EXAMPLE_REWARDS,
    PARAM_KEYS,
    REFERENCE_POINT_OFFSET_M,
    CarState,
    ParamsBuilder,
    RewardFunctionError,
    example_reward_path,
    heading_deg,
    build_params,
    load_reward_function,
    reference_point,
    resolve_reward,
)

from shared_data import shared_path


@pytest.fixture(scope="module")
def track():
    from deepracer_tracks.track import Track

    return Track.from_npy(shared_path("tracks", "reInvent2019_track.npy"))


def _write(tmp_path, text, name="reward.py"):
    path = tmp_path / name
    path.write_text(text)
    return path


# ----------------------------------------------------------------------------- params
def _params_at(track, ref_xy, yaw, is_reversed=False, builder=None, **overrides):
    """Params of one car whose REFERENCE POINT is at ref_xy with heading yaw (rad)."""
    driven = track.reversed() if is_reversed else track
    builder = builder or ParamsBuilder(track, track.reversed())
    xy = np.asarray([ref_xy], dtype=float)
    query = driven.query(xy)
    car = CarState(xy=xy, yaw_rad=np.array([yaw]), steering_deg=np.array([overrides.get("steer", 15.0)]),
                   speed_m_s=np.array([overrides.get("speed", 1.0)]), progress_pct=np.array([12.5]),
                   steps=np.array([7]), all_wheels_on_track=np.array([True]), is_offtrack=np.array([False]),
                   is_reversed=np.array([is_reversed]))
    return builder.build(car, query)[0], query, driven


def _straightest_waypoint(track):
    """Index of a waypoint in the middle of a long straight (so the centre line is locally a line)."""
    h = np.unwrap(track.query(track.centre).heading_rad)
    turn = np.abs(np.diff(h))
    window = np.convolve(turn, np.ones(7), mode="same")
    return int(np.argmin(window[5:-5]) + 5)


def test_params_on_the_centre_line_have_every_key_with_aws_types(track):
    k = _straightest_waypoint(track)
    s = track.waypoint_s_m[k] + 0.02
    (p_xy,), (h,) = track.pose_at([s])
    params, query, _ = _params_at(track, p_xy, h)
    assert tuple(params) == PARAM_KEYS
    types = {"all_wheels_on_track": bool, "x": float, "y": float, "heading": float,
             "distance_from_center": float, "projection_distance": float, "progress": float, "steps": int,
             "speed": float, "steering_angle": float, "track_width": float, "track_length": float,
             "waypoints": list, "closest_waypoints": list, "is_left_of_center": bool, "is_reversed": bool,
             "closest_objects": list, "objects_location": list, "objects_left_of_center": list,
             "object_in_camera": bool, "objects_speed": list, "objects_heading": list,
             "objects_distance_from_center": list, "objects_distance": list, "is_crashed": bool,
             "is_offtrack": bool, "sim_time": float}
    for key, typ in types.items():
        assert type(params[key]) is typ, (key, type(params[key]))
    assert params["x"] == pytest.approx(p_xy[0]) and params["y"] == pytest.approx(p_xy[1])
    assert params["distance_from_center"] == pytest.approx(0.0, abs=1e-9)
    assert params["heading"] == pytest.approx(math.degrees(h))
    assert params["projection_distance"] == pytest.approx(s)
    assert params["closest_waypoints"] == [k, k + 1]
    assert params["track_width"] == pytest.approx(track.widths_m[k], rel=0.05)
    assert params["track_length"] == pytest.approx(track.length_m)
    assert len(params["waypoints"]) == len(track.centre) + 1            # the closing row, as simapp
    assert params["waypoints"][-1] == params["waypoints"][0]
    assert params["waypoints"][k] == pytest.approx(tuple(track.centre[k]))
    assert all(type(w) is tuple and len(w) == 2 for w in params["waypoints"])
    assert params["steps"] == 7 and params["progress"] == 12.5
    assert params["speed"] == 1.0 and params["steering_angle"] == 15.0
    assert params["is_reversed"] is False and params["closest_objects"] == [0, 0]
    assert params["objects_location"] == [] and params["is_crashed"] is False


def test_params_on_the_left_edge(track):
    k = _straightest_waypoint(track)
    (c,), (h,) = track.pose_at([track.waypoint_s_m[k] + 0.02])
    half = 0.5 * track.widths_m[k]
    left_normal = np.array([-math.sin(h), math.cos(h)])
    params, _, _ = _params_at(track, c + (half - 0.01) * left_normal, h)
    assert params["is_left_of_center"] is True
    assert params["distance_from_center"] == pytest.approx(half - 0.01, abs=1e-3)
    assert params["distance_from_center"] <= 0.5 * params["track_width"]
    right, _, _ = _params_at(track, c - 0.2 * left_normal, h)
    assert right["is_left_of_center"] is False


def test_params_when_driving_reversed(track):
    rev = track.reversed()
    k = _straightest_waypoint(rev)
    (c,), (h,) = rev.pose_at([rev.waypoint_s_m[k] + 0.02])
    left_normal = np.array([-math.sin(h), math.cos(h)])
    params, _, _ = _params_at(track, c + 0.1 * left_normal, h, is_reversed=True)
    assert params["is_reversed"] is True
    # waypoints follow the driven direction: waypoint 0 is still the start line, then backwards
    assert params["waypoints"][0] == pytest.approx(tuple(track.centre[0]))
    assert params["waypoints"][1] == pytest.approx(tuple(track.centre[-1]))
    assert params["closest_waypoints"] == [k, k + 1]
    # heading is the car's yaw, pointing against the track's own direction
    fwd = track.query(c[None]).heading_rad[0]
    diff = abs((params["heading"] - math.degrees(fwd) + 180) % 360 - 180)
    assert diff == pytest.approx(180, abs=2)
    # left of the driving direction is right of the track's own direction
    assert params["is_left_of_center"] is True
    assert track.query(c[None] + 0.1 * left_normal).is_left_of_center[0] == False  # noqa: E712


def test_params_just_past_the_start_line(track):
    (c,), (h,) = track.pose_at([0.05])
    params, _, _ = _params_at(track, c, h)
    assert params["projection_distance"] == pytest.approx(0.05, abs=1e-6)
    assert params["closest_waypoints"] == [0, 1]
    (c2,), (h2,) = track.pose_at([track.length_m - 0.05])
    before, _, _ = _params_at(track, c2, h2)
    assert before["projection_distance"] == pytest.approx(track.length_m - 0.05, abs=1e-6)
    # simapp: the last segment ends at the closing row (index N of the N+1 waypoints), not at 0
    assert before["closest_waypoints"] == [len(track.centre) - 1, len(track.centre)]
    assert before["waypoints"][len(track.centre)] == before["waypoints"][0]


def test_every_build_hands_out_new_lists(track):
    builder = ParamsBuilder(track, track.reversed())
    (c,), (h,) = track.pose_at([1.0])
    a, _, _ = _params_at(track, c, h, builder=builder)
    b, _, _ = _params_at(track, c, h, builder=builder)
    assert a == b
    for key, value in a.items():
        if isinstance(value, list):
            assert value is not b[key], key


def test_reference_point_and_heading():
    xy = reference_point(np.array([1.0]), np.array([2.0]), np.array([math.pi / 2]))
    np.testing.assert_allclose(xy, [[1.0, 2.0 + REFERENCE_POINT_OFFSET_M]], atol=1e-12)
    np.testing.assert_allclose(heading_deg(np.array([0.0, math.pi, -math.pi / 2, 3 * math.pi / 2])),
                               [0.0, -180.0, -90.0, -90.0])


# ----------------------------------------------------------------------------- example rewards
@pytest.mark.parametrize("name", EXAMPLE_REWARDS)
def test_example_rewards_run_unchanged_on_real_params(track, name):
    fn = load_reward_function(example_reward_path(name))
    k = _straightest_waypoint(track)
    (c,), (h,) = track.pose_at([track.waypoint_s_m[k] + 0.02])
    params, _, _ = _params_at(track, c, h)
    reward = fn(params)
    assert isinstance(reward, float) and 0.0 < reward <= 100.0


def test_default_centreline_reward_has_three_markers(track):
    fn = load_reward_function(resolve_reward(None))
    k = _straightest_waypoint(track)
    (c,), (h,) = track.pose_at([track.waypoint_s_m[k] + 0.02])
    normal = np.array([-math.sin(h), math.cos(h)])
    width = track.query(c[None]).half_width_m[0] * 2
    got = [fn(_params_at(track, c + f * width * normal, h)[0]) for f in (0.05, 0.2, 0.4, 0.6)]
    assert got == [1.0, 0.5, 0.1, 1e-3]


def test_waypoint_heading_reward_penalises_a_wrong_heading(track):
    fn = load_reward_function(example_reward_path("waypoint_heading"))
    k = _straightest_waypoint(track)
    (c,), (h,) = track.pose_at([track.waypoint_s_m[k] + 0.02])
    assert fn(_params_at(track, c, h)[0]) == 1.0
    assert fn(_params_at(track, c, h + math.radians(30))[0]) == 0.5


def test_aws_style_reward_with_imports_and_helpers_runs(tmp_path, track):
    path = _write(tmp_path, '''
import math
import numpy as np

SPEED_THRESHOLD = 0.5

def helper(params):
    return np.clip(1 - params["distance_from_center"] / (params["track_width"] / 2), 0, 1)

def reward_function(params):
    reward = helper(params)
    if params["speed"] > SPEED_THRESHOLD:
        reward *= 1.2
    return float(reward) + math.floor(params["progress"]) * 0
''')
    (c,), (h,) = track.pose_at([2.0])
    assert load_reward_function(path)(_params_at(track, c, h)[0]) == pytest.approx(1.2)


# ----------------------------------------------------------------------------- bad input
PARAMS = {"x": 1.0, "y": 2.0, "progress": 3.5, "speed": 1.0, "waypoints": [(0.0, 0.0)] * 10}


def test_missing_file_names_it(tmp_path):
    with pytest.raises(RewardFunctionError, match=r"reward file .*nope\.py: not found"):
        load_reward_function(tmp_path / "nope.py")


def test_syntax_error_names_file_and_line(tmp_path):
    path = _write(tmp_path, "def reward_function(params):\n    x = 1\n    return x +\n")
    with pytest.raises(RewardFunctionError, match=r"reward\.py: syntax error at line 3"):
        load_reward_function(path)


def test_error_while_loading_names_the_line(tmp_path):
    path = _write(tmp_path, "import math\nLIMIT = 1 / 0\ndef reward_function(params):\n    return 1.0\n")
    with pytest.raises(RewardFunctionError, match=r"reward\.py: error while loading at line 2: ZeroDivisionError"):
        load_reward_function(path)


def test_missing_or_non_callable_reward_function(tmp_path):
    with pytest.raises(RewardFunctionError, match=r"reward\.py: defines no 'reward_function'"):
        load_reward_function(_write(tmp_path, "def reward(params):\n    return 1.0\n"))
    with pytest.raises(RewardFunctionError, match=r"'reward_function' is a float, not a function"):
        load_reward_function(_write(tmp_path, "reward_function = 1.0\n", "r2.py"))


def test_exception_names_file_line_and_params(tmp_path):
    path = _write(tmp_path, "def reward_function(params):\n    a = 1\n    return params['no_such_key']\n")
    fn = load_reward_function(path)
    with pytest.raises(RewardFunctionError) as info:
        fn(PARAMS)
    msg = str(info.value)
    assert str(path) in msg and "KeyError: 'no_such_key'" in msg
    assert "at line 3 (return params['no_such_key'])" in msg
    assert "progress=3.5" in msg and "waypoints=<10 items>" in msg


@pytest.mark.parametrize("body, message", [
    ("return 'high'", r"returned str 'high', not a number"),
    ("return None", r"returned NoneType None, not a number"),
    ("return True", r"returned bool True, not a number"),
    ("return float('nan')", r"returned nan"),
    ("return float('inf')", r"returned inf"),
    ("return -1e6", r"returned -1000000\.0, outside \+-100000"),
])
def test_bad_return_values_are_rejected_not_clamped(tmp_path, body, message):
    fn = load_reward_function(_write(tmp_path, f"def reward_function(params):\n    {body}\n"))
    with pytest.raises(RewardFunctionError, match=message) as info:
        fn(PARAMS)
    assert "reward.py" in str(info.value) and "progress=3.5" in str(info.value)


def test_numpy_numbers_and_limits_are_accepted(tmp_path):
    fn = load_reward_function(_write(tmp_path, "import numpy as np\ndef reward_function(params):\n"
                                               "    return np.float32(params['speed']) * 1e5\n"))
    assert fn({"speed": 1.0}) == 1e5


def test_a_reward_mutating_its_params_never_reaches_another_call(tmp_path, track):
    """Issue 21 item 11: in-place changes to params['waypoints'] (any change, not only of the length),
    to closest_waypoints or to the dict itself stay in that call."""
    path = _write(tmp_path, "def reward_function(params):\n"
                            "    wp = params['waypoints']\n"
                            "    wp[0] = (99.0, 99.0); wp.reverse(); wp.append((1.0, 2.0))\n"
                            "    params['closest_waypoints'][0] = -5\n"
                            "    params['objects_location'].append((3.0, 3.0))\n"
                            "    params['x'] = 1e9\n"
                            "    return 1.0\n")
    fn = load_reward_function(path)
    builder = ParamsBuilder(track, track.reversed())
    (c,), (h,) = track.pose_at([2.0])
    clean, _, _ = _params_at(track, c, h, builder=builder)
    for _ in range(3):
        params, _, _ = _params_at(track, c, h, builder=builder)
        assert params == clean                  # every call sees untouched params
        assert fn(params) == 1.0
    assert builder.waypoints() == clean["waypoints"]


def test_slow_reward_warns_once_with_measured_time(tmp_path):
    fn = load_reward_function(_write(tmp_path, "import time\ndef reward_function(params):\n"
                                               "    time.sleep(0.008)\n    return 1.0\n"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(4):
            fn({})
    slow = [w for w in caught if "took" in str(w.message)]
    assert len(slow) == 1
    ms = float(str(slow[0].message).split("took ")[1].split(" ms")[0])
    assert ms >= 8.0 and fn.slowest_call_s >= 0.008


def test_fast_reward_does_not_warn(tmp_path):
    fn = load_reward_function(example_reward_path())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t0 = time.perf_counter()
        for _ in range(50):
            fn({"track_width": 1.0, "distance_from_center": 0.01})
    assert time.perf_counter() - t0 < 1.0


def test_unknown_example_name():
    with pytest.raises(RewardFunctionError, match="unknown example reward 'fastest'"):
        example_reward_path("fastest")


def test_build_params_for_one_car_matches_the_builder(track):
    k = _straightest_waypoint(track)
    (c,), (h,) = track.pose_at([track.waypoint_s_m[k] + 0.3])
    base = c - REFERENCE_POINT_OFFSET_M * np.array([math.cos(h), math.sin(h)])
    wheels = base + np.array([[0.08, 0.08], [0.08, -0.08], [-0.08, 0.08], [-0.08, -0.08]])
    p = build_params(track, base[0], base[1], h, -15.0, 0.5, 42.0, 3, wheels)
    assert tuple(p) == PARAM_KEYS
    assert p["x"] == pytest.approx(c[0]) and p["y"] == pytest.approx(c[1])
    assert p["all_wheels_on_track"] is True and p["is_offtrack"] is False
    assert p["steering_angle"] == -15.0 and p["progress"] == 42.0 and p["steps"] == 3
    far = build_params(track, base[0] + 50, base[1], h, 0.0, 0.5, 42.0, 3, wheels + [50, 0])
    assert far["is_offtrack"] is True and far["all_wheels_on_track"] is False
