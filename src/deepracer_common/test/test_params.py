"""The one ROS parameter helper on real rclpy nodes: ints for doubles, ranges, unknown names,
on-set validates / post-set applies."""
from __future__ import annotations

import pytest

rclpy = pytest.importorskip("rclpy")

from rclpy.node import Node  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402

from deepracer_common.nodes.params import NodeParameters, ParameterError, Spec, declare  # noqa: E402

SPECS = [
    Spec("rate_hz", 15.0, "frames per second", range=(1.0, 120.0), unit="Hz"),
    Spec("max_speed_scale", 1.0, "throttle scale", read_only=False, range=(0.0, 1.0)),
    Spec("mode", "manual", "drive mode", read_only=False, choices=("manual", "autonomous")),
    Spec("seed", 0, "seed", range=(0, 100)),
    Spec("loop", True, "loop"),
]


@pytest.fixture(scope="module", autouse=True)
def ros():
    rclpy.init()
    yield
    rclpy.shutdown()


def make_node(*overrides: str) -> Node:
    args = ["--ros-args", *[a for o in overrides for a in ("-p", o)]]
    return Node("params_test", cli_args=args)


def test_defaults_and_descriptors():
    node = make_node()
    try:
        values = declare(node, SPECS)
        assert values == {"rate_hz": 15.0, "max_speed_scale": 1.0, "mode": "manual", "seed": 0, "loop": True}
        d = node.describe_parameter("rate_hz")
        assert d.type == Parameter.Type.DOUBLE.value and d.read_only and "[Hz]" in d.description
        assert d.floating_point_range[0].from_value == 1.0 and d.floating_point_range[0].to_value == 120.0
        assert node.describe_parameter("seed").integer_range[0].to_value == 100
        assert "one of: manual, autonomous" in node.describe_parameter("mode").additional_constraints
    finally:
        node.destroy_node()


def test_integer_for_a_double_at_start_up():
    node = make_node("rate_hz:=60")
    try:
        values = declare(node, SPECS)
        assert values["rate_hz"] == 60.0 and isinstance(values["rate_hz"], float)
        param = node.get_parameter("rate_hz")
        assert param.type_ == Parameter.Type.DOUBLE and param.value == 60.0   # stays a DOUBLE
    finally:
        node.destroy_node()


@pytest.mark.parametrize("override, message", [
    ("rate_hz:=fast", "parameter rate_hz = 'fast' must be a number"),
    ("rate_hz:=500", r"parameter rate_hz = 500.0 is outside \[1.0, 120.0\] Hz"),
    ("seed:=1.5", "parameter seed = 1.5 must be an integer"),
    ("mode:=manuel", r"parameter mode = 'manuel' is not one of manual, autonomous \(did you mean 'manual'\?\)"),
    ("loop:=3", "parameter loop = 3 must be true or false"),
    ("max_speed_scal:=0.5", r"params_test: unknown parameter max_speed_scal \(did you mean 'max_speed_scale'\?\); "
                            r"known parameters: .*max_speed_scale"),
])
def test_bad_start_up_values_name_the_parameter(override, message):
    node = make_node(override)
    try:
        with pytest.raises(ParameterError, match=message):
            declare(node, SPECS)
    finally:
        node.destroy_node()


def test_unknown_parameter_in_a_params_file(tmp_path):
    params = tmp_path / "p.yaml"
    params.write_text("params_test:\n  ros__parameters:\n    rate_hz: 30\n    watchdog_timeout: 0.5\n")
    node = Node("params_test", cli_args=["--ros-args", "--params-file", str(params)])
    try:
        with pytest.raises(ParameterError, match="unknown parameter watchdog_timeout"):
            declare(node, SPECS)
        assert declare(node, [], reject_unknown=False) == {}   # opt-out (e.g. a generic node)
    finally:
        node.destroy_node()


def test_runtime_changes_validate_then_apply():
    node = make_node()
    applied: list[dict] = []
    seen_by_validate: list[dict] = []

    def validate(changes, values):
        seen_by_validate.append(dict(changes))
        if values["mode"] == "autonomous" and values["max_speed_scale"] > 0.5:
            return "autonomous mode needs max_speed_scale <= 0.5"
        return None

    try:
        params = NodeParameters(node, SPECS, apply=applied.append, validate=validate)
        # an INTEGER for a DOUBLE at runtime (ros2 param set ... 0) is converted, then applied
        result = node.set_parameters([Parameter("max_speed_scale", Parameter.Type.INTEGER, 0)])[0]
        assert result.successful, result.reason
        assert applied == [{"max_speed_scale": 0.0}] and params["max_speed_scale"] == 0.0
        assert node.get_parameter("max_speed_scale").type_ == Parameter.Type.DOUBLE
        # rejected by the range: nothing applied, value unchanged
        result = node.set_parameters([Parameter("max_speed_scale", Parameter.Type.DOUBLE, 2.0)])[0]
        assert not result.successful and len(applied) == 1 and params["max_speed_scale"] == 0.0
        # rejected by the node's validate hook (a cross-parameter rule); atomically: nothing changes
        result = node.set_parameters_atomically([Parameter("mode", Parameter.Type.STRING, "autonomous"),
                                                 Parameter("max_speed_scale", Parameter.Type.DOUBLE, 0.9)])
        assert not result.successful and "autonomous mode needs" in result.reason
        assert params["mode"] == "manual" and node.get_parameter("mode").value == "manual"
        result = node.set_parameters([Parameter("mode", Parameter.Type.STRING, "manuel")])[0]
        assert not result.successful and "did you mean 'manual'" in result.reason
        # read-only parameters stay read-only
        assert not node.set_parameters([Parameter("rate_hz", Parameter.Type.DOUBLE, 20.0)])[0].successful
        assert node.set_parameters([Parameter("mode", Parameter.Type.STRING, "autonomous")])[0].successful
        assert applied[-1] == {"mode": "autonomous"} and params.values["mode"] == "autonomous"
        assert seen_by_validate[-1] == {"mode": "autonomous"}
    finally:
        node.destroy_node()
