"""model_metadata.json parsing, validation and the action mapping."""
import json
import math

import numpy as np
import pytest

from deepracer_inference.metadata import (
    DEFAULT_SPEEDS_M_S,
    DriveLimits,
    MetadataError,
    ModelMetadata,
    default_limits,
)

LIMITS = DriveLimits(max_steering_deg=30.0, min_speed_m_s=0.1, max_speed_m_s=4.0)

AWS_DISCRETE = {
    "action_space": [
        {"steering_angle": -30, "speed": 0.6, "index": 0},
        {"steering_angle": -15, "speed": 0.6, "index": 1},
        {"steering_angle": 0, "speed": 0.6, "index": 2},
        {"steering_angle": 15, "speed": 0.6, "index": 3},
        {"steering_angle": 30, "speed": 0.6, "index": 4},
    ],
    "sensor": ["FRONT_FACING_CAMERA"],
    "neural_network": "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW",
    "training_algorithm": "clipped_ppo",
    "action_space_type": "discrete",
    "version": "5",
}
AWS_CONTINUOUS = {
    "action_space": {"steering_angle": {"high": 30.0, "low": -30.0}, "speed": {"high": 2.0, "low": 0.5}},
    "sensor": ["FRONT_FACING_CAMERA"],
    "neural_network": "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW",
    "training_algorithm": "clipped_ppo",
    "action_space_type": "continuous",
    "version": 4,
}


def test_default_is_ten_actions_two_speeds_five_angles():
    meta = ModelMetadata.default(limits=LIMITS)
    assert meta.is_discrete and meta.n_actions == 10
    table = meta.action_table()
    assert sorted(set(table[:, 0])) == [-30.0, -15.0, 0.0, 15.0, 30.0]
    assert sorted(set(table[:, 1])) == sorted(DEFAULT_SPEEDS_M_S)
    assert meta.action_to_drive(0) == (-30.0, DEFAULT_SPEEDS_M_S[0])


def test_limits_come_from_the_vehicle_description():
    pytest.importorskip("deepracer_description.vehicle", reason="deepracer_description not built yet")
    from deepracer_description.vehicle import load_vehicle

    lim = default_limits()
    vehicle = load_vehicle()
    assert lim.max_steering_deg == pytest.approx(math.degrees(vehicle.max_steering_angle_rad))
    assert lim.min_speed_m_s == vehicle.min_speed_m_s and lim.max_speed_m_s == vehicle.max_speed_m_s
    ModelMetadata.default()  # validates against load_vehicle()'s limits
    with pytest.raises(MetadataError, match=r"action_space\[0\]\.speed"):
        ModelMetadata.discrete([0.0], [vehicle.max_speed_m_s + 0.5])


def test_aws_discrete_file_round_trips(tmp_path):
    path = tmp_path / "model_metadata.json"
    path.write_text(json.dumps({**AWS_DISCRETE, "preprocess_type": "GREY_SCALE"}))
    meta = ModelMetadata.load(path, limits=LIMITS)
    assert meta.n_actions == 5 and meta.version == "5"
    assert meta.action_to_drive(np.int64(3)) == (15.0, 0.6)
    assert meta.extra == {"preprocess_type": "GREY_SCALE"}
    out = tmp_path / "sub" / "copy.json"
    meta.save(out)
    again = ModelMetadata.load(out, limits=LIMITS)
    assert again == meta
    assert json.loads(out.read_text())["action_space"][2] == {"steering_angle": 0.0, "speed": 0.6, "index": 2}
    assert not [p for p in out.parent.iterdir() if p.name != "copy.json"], "temp file left behind"


def test_vectorised_discrete_mapping_and_bad_index():
    meta = ModelMetadata.default(limits=LIMITS)
    steer, speed = meta.actions_to_drive(np.array([0, 9, 4]))
    np.testing.assert_allclose(steer, meta.action_table()[[0, 9, 4], 0])
    np.testing.assert_allclose(speed, meta.action_table()[[0, 9, 4], 1])
    with pytest.raises(MetadataError, match=r"index \[10\] outside \[0, 9\]"):
        meta.action_to_drive(10)
    with pytest.raises(MetadataError, match="one integer index"):
        meta.action_to_drive(1.5)


def test_continuous_mapping_normalised_and_physical():
    meta = ModelMetadata.from_dict(AWS_CONTINUOUS, limits=LIMITS)
    assert meta.version == "4" and not meta.is_discrete
    assert meta.action_to_drive([-1.0, -1.0]) == (-30.0, 0.5)
    assert meta.action_to_drive([1.0, 1.0]) == (30.0, 2.0)
    assert meta.action_to_drive([0.0, 0.0]) == (0.0, 1.25)
    assert meta.action_to_drive([5.0, -7.0]) == (30.0, 0.5)  # clipped, never beyond the range
    assert meta.action_to_drive([10.0, 1.0], normalized=False) == (10.0, 1.0)
    assert meta.action_to_drive([45.0, 3.0], normalized=False) == (30.0, 2.0)
    with pytest.raises(MetadataError, match="not finite"):
        meta.action_to_drive([math.nan, 0.0])
    assert ModelMetadata.from_dict(meta.to_dict(), limits=LIMITS) == meta


def test_helper_builds_discrete_space_from_lists():
    meta = ModelMetadata.discrete([-20, 0, 20], [0.4], limits=LIMITS, neural_network="DEEP_CONVOLUTIONAL_NETWORK")
    assert meta.action_table().tolist() == [[-20.0, 0.4], [0.0, 0.4], [20.0, 0.4]]
    assert meta.to_dict()["neural_network"] == "DEEP_CONVOLUTIONAL_NETWORK"


def _with(**changes):
    data = json.loads(json.dumps(AWS_DISCRETE))
    data.update(changes)
    return data


def _actions(*pairs):
    return [{"steering_angle": a, "speed": s} for a, s in pairs]


@pytest.mark.parametrize("data, message", [
    (_with(action_space_type="hybrid"), r"action_space_type: unknown type 'hybrid'"),
    (_with(action_space=[]), r"action_space: empty action list"),
    (_with(action_space=_actions((0, 1), (0, 1), (0, 1), (0, 4.5))), r"action_space\[3\]\.speed: 4\.5 m/s is outside"),
    (_with(action_space=_actions((0, 1), (0, 0.05))), r"action_space\[1\]\.speed: 0\.05 m/s is outside"),
    (_with(action_space=_actions((0, 1), (-31, 1))), r"action_space\[1\]\.steering_angle: -31\.0 deg is beyond"),
    (_with(action_space=[{"speed": 1.0}]), r"action_space\[0\]\.steering_angle: missing"),
    (_with(action_space=[{"steering_angle": 0, "speed": "fast"}]), r"action_space\[0\]\.speed: expected a number, got str"),
    (_with(action_space=[{"steering_angle": True, "speed": 1}]), r"action_space\[0\]\.steering_angle: expected a number, got bool"),
    (_with(action_space=[{"steering_angle": 0, "speed": 1, "throttle": 1}]), r"action_space\[0\]: unknown keys \['throttle'\]"),
    (_with(action_space=[{"steering_angle": 0, "speed": 1, "index": 4}]), r"action_space\[0\]\.index: is 4"),
    (_with(action_space={"steering_angle": {"low": -30, "high": 30}}), r"discrete action space is a list"),
    (_with(action_space_type="continuous", action_space={"steering_angle": {"low": -30, "high": 30}, "speed": {"low": 1}}),
     r"action_space\.speed\.high: missing"),
    (_with(action_space_type="continuous", action_space={"steering_angle": {"low": 20, "high": -20}, "speed": {"low": 1, "high": 2}}),
     r"action_space\.steering_angle: low \(20\.0\) must be below high"),
    (_with(action_space_type="continuous", action_space={"steering_angle": {"low": -40, "high": 30}, "speed": {"low": 1, "high": 2}}),
     r"action_space\.steering_angle\.low: -40\.0 deg is beyond"),
    (_with(sensor=["STEREO_CAMERAS"]), r"sensor: STEREO_CAMERAS is not supported"),
    (_with(sensor=["FRONT_FACING_CAMERA", "LIDAR"]), r"sensor: LIDAR is not supported"),
    (_with(sensor=["THERMAL"]), r"sensor: unknown sensor 'THERMAL'"),
    (_with(neural_network="RESNET"), r"neural_network: unknown value 'RESNET'"),
    (_with(training_algorithm="sac"), r"training_algorithm: 'sac' needs a continuous action space"),
    (_with(training_algorithm="dqn"), r"training_algorithm: unknown value 'dqn'"),
    (_with(version="five"), r"version: expected a positive version number"),
    (_with(version=[5]), r"version: expected a string or number"),
])
def test_bad_metadata_names_the_field(data, message):
    with pytest.raises(MetadataError, match=message) as info:
        ModelMetadata.from_dict(data, source="bad.json", limits=LIMITS)
    assert str(info.value).startswith("bad.json: ")


def test_missing_action_space_and_bad_files(tmp_path):
    with pytest.raises(MetadataError, match="action_space: missing"):
        ModelMetadata.from_dict({"version": "5"}, limits=LIMITS)
    with pytest.raises(MetadataError, match="file not found"):
        ModelMetadata.load(tmp_path / "nope.json", limits=LIMITS)
    bad = tmp_path / "broken.json"
    bad.write_text('{"action_space": [\n  {"steering_angle": 0,, "speed": 1}]}')
    with pytest.raises(MetadataError, match=r"broken\.json: not valid JSON: .* line 2"):
        ModelMetadata.load(bad, limits=LIMITS)
    with pytest.raises(MetadataError, match="expected a JSON object"):
        ModelMetadata.from_dict([1, 2], limits=LIMITS)


def test_type_is_inferred_for_old_files_without_action_space_type():
    data = {k: v for k, v in AWS_CONTINUOUS.items() if k != "action_space_type"}
    assert ModelMetadata.from_dict(data, limits=LIMITS).action_space_type == "continuous"


def test_metadata_module_does_not_import_torch():
    import subprocess
    import sys

    code = ("import sys, deepracer_inference.metadata as m; "
            "m.ModelMetadata.default(limits=m.DriveLimits(30, 0.1, 4)); "
            "assert 'torch' not in sys.modules and 'rclpy' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
