"""The project's launch files (launch/): they parse, wire the same nodes for sim and car, resolve,
and agree with docs/INTERFACES.md and launch/README.md."""
from __future__ import annotations

import importlib.metadata
import importlib.util
import re
from pathlib import Path

import pytest
import yaml

from deepracer_common.launch_runner import LaunchError, main, plan_launch

REPO = Path(__file__).resolve().parents[3]
LAUNCH = Path(__file__).resolve().parents[1] / "launch"   # deepracer_bringup/launch (the top-level launch/ links here)
INTERFACES = REPO / "docs" / "INTERFACES.md"
MODEL = {"model": "/tmp/model.tar.gz"}


def plan(name: str, **args: str):
    return plan_launch(LAUNCH / name, args, resolve=False)


def params(argv: list[str]) -> dict[str, str]:
    """-p name:=value pairs of a node's argv (the --params-file ones are checked separately)."""
    return dict(argv[i + 1].split(":=", 1) for i, a in enumerate(argv) if a == "-p")


def params_files(argv: list[str]) -> list[str]:
    return [Path(argv[i + 1]).name for i, a in enumerate(argv) if a == "--params-file"]


def by_name(p) -> dict:
    return {s.name: s for s in p.processes}


def test_sim_drive_graph():
    procs = by_name(plan("sim_drive.launch.xml", **MODEL, track="oval", rate="60.0"))
    assert list(procs) == ["sim_node", "inference_node", "control_node"]
    assert procs["sim_node"].argv[0] == "<deepracer_sim/sim_node>"
    assert params(procs["sim_node"].argv) == {"track": "oval", "rate_hz": "60.0", "randomize": "false", "seed": "0",
                                              "publish_robot_tf": "True"}    # no robot_state_publisher: the sim's URDF TF
    assert params(procs["inference_node"].argv)["model_path"] == "/tmp/model.tar.gz"
    assert params(procs["control_node"].argv)["backend"] == "sim"
    assert params_files(procs["control_node"].argv) == ["control_sim.yaml"]
    assert procs["sim_node"].required and procs["control_node"].required and not procs["inference_node"].required


def test_car_graph_uses_the_same_drive_stack_as_the_sim():
    sim = by_name(plan("sim_drive.launch.xml", **MODEL))
    car = by_name(plan("car.launch.xml", **MODEL))
    assert list(car) == ["camera_node", "inference_node", "control_node", "console_node"]   # the console is on
    assert car["camera_node"].argv[0] == "<deepracer_control/camera_node>"
    # same node definitions (same file and line), same inference command line
    for node in ("inference_node", "control_node"):
        assert car[node].origin == sim[node].origin and car[node].origin.startswith(str(LAUNCH / "drive_stack.launch.xml"))
    assert car["inference_node"].argv == sim["inference_node"].argv
    # control differs only in the backend, its parameter file and the car's lower speed cap
    car_p, sim_p = params(car["control_node"].argv), params(sim["control_node"].argv)
    assert car_p.pop("backend") == "sysfs" and sim_p.pop("backend") == "sim"
    assert car_p.pop("max_speed_scale") == "0.5" and sim_p.pop("max_speed_scale") == "1.0"
    assert car_p == sim_p
    assert params_files(car["control_node"].argv) == ["control_car.yaml"]
    assert params(by_name(plan("car.launch.xml", **MODEL, backend="dry-run"))["control_node"].argv)["backend"] == "dry-run"
    with pytest.raises(LaunchError, match="argument 'backend' = 'sim' is not one of sysfs, dry-run"):
        plan("car.launch.xml", **MODEL, backend="sim")


def test_console_is_on_for_the_car_off_for_the_sim_and_shares_the_drive_stack_definition():
    assert "console_node" not in by_name(plan("car.launch.xml", **MODEL, console="false"))
    assert "console_node" not in by_name(plan("sim_drive.launch.xml", **MODEL))
    sim = by_name(plan("sim_drive.launch.xml", **MODEL, console="true", console_port="0", models_dir="/tmp/models"))
    car = by_name(plan("car.launch.xml", **MODEL, calibration="/tmp/cal.json"))
    assert sim["console_node"].origin == car["console_node"].origin
    assert params(sim["console_node"].argv) == {"host": "127.0.0.1", "port": "0", "password_file": "''",
                                                "calibration_file": "''", "models_dir": "/tmp/models"}
    car_p = params(car["console_node"].argv)
    assert car_p["calibration_file"] == "/tmp/cal.json" and car_p["models_dir"] == "~/deepracer_models"
    assert params(sim["inference_node"].argv)["models_dir"] == "/tmp/models"   # one folder for both
    assert not car["console_node"].required      # the console dying does not stop the car's graph


def test_sim_training_graph():
    procs = by_name(plan("sim_training.launch.xml", output_dir="runs/x", timesteps="1000"))
    assert list(procs) == ["sim_node", "gym_bridge_node"]
    assert params(procs["gym_bridge_node"].argv)["output_dir"] == "runs/x"
    assert params(procs["gym_bridge_node"].argv)["total_timesteps"] == "1000"
    assert all(p.required for p in procs.values())


def test_model_is_required_and_typos_are_refused():
    for name in ("sim_drive.launch.xml", "car.launch.xml"):
        with pytest.raises(LaunchError, match="required launch argument 'model'"):
            plan(name)
    with pytest.raises(LaunchError, match=r"unknown launch argument\(s\) trak"):
        plan("sim_drive.launch.xml", **MODEL, trak="oval")
    with pytest.raises(LaunchError, match=r"required launch argument 'model'.*given but not declared: modle"):
        plan("sim_drive.launch.xml", modle="m")


def test_rviz_flag_adds_rviz2():
    assert "rviz2" not in by_name(plan("sim_drive.launch.xml", **MODEL))
    rviz = by_name(plan("sim_drive.launch.xml", **MODEL, rviz="true"))["rviz2"]
    assert rviz.argv[:3] == ["<rviz2/rviz2>", "-d", str(LAUNCH / "rviz" / "deepracer.rviz")]


def _missing_node_modules(executables: tuple[str, ...]) -> list[str]:
    """Node modules of these executables that cannot be imported yet."""
    missing = []
    for exe in executables:
        eps = importlib.metadata.entry_points(group="console_scripts", name=exe)
        for ep in eps:
            try:
                ok = importlib.util.find_spec(ep.module) is not None
            except ImportError:
                ok = False
            if not ok:
                missing.append(ep.module)
    return missing


@pytest.mark.parametrize("name, args, executables", [
    ("sim_drive.launch.xml", ["model:=/tmp/m"], ("sim_node", "inference_node", "control_node")),
    ("car.launch.xml", ["model:=/tmp/m"], ("camera_node", "inference_node", "control_node", "console_node")),
    ("sim_training.launch.xml", [], ("sim_node", "gym_bridge_node")),
])
def test_real_files_resolve_completely_with_print(name, args, executables, capsys):
    missing = _missing_node_modules(executables)
    if missing:
        pytest.skip(f"node modules not written yet: {', '.join(missing)}")
    assert main(["--print", str(LAUNCH / name), *args]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert out.count("--ros-args") == len(executables) and "<deepracer" not in out


def test_parameter_files_are_valid_ros_parameter_yaml():
    files = sorted((LAUNCH / "config").glob("*.yaml"))
    assert {f.name for f in files} >= {"sim.yaml", "inference.yaml", "control_sim.yaml", "control_car.yaml", "camera.yaml"}
    for f in files:
        data = yaml.safe_load(f.read_text())
        assert list(data) == ["/**"], f
        assert isinstance(data["/**"]["ros__parameters"], dict) and data["/**"]["ros__parameters"], f


def test_every_parameter_is_documented_in_the_launch_readme():
    readme = (LAUNCH / "README.md").read_text()
    names = set()
    for launch_file in ("sim_drive.launch.xml", "car.launch.xml", "sim_training.launch.xml"):
        for proc in plan(launch_file, **({} if "training" in launch_file else MODEL)).processes:
            names |= set(params(proc.argv))
    for f in (LAUNCH / "config").glob("*.yaml"):
        names |= set(yaml.safe_load(f.read_text())["/**"]["ros__parameters"])
    undocumented = sorted(n for n in names if f"`{n}`" not in readme)
    assert not undocumented, f"parameters missing from launch/README.md: {undocumented}"


RVIZ_TYPES = {  # rviz display class -> message type it subscribes to
    "rviz_default_plugins/Image": "sensor_msgs/Image",
    "rviz_default_plugins/MarkerArray": "visualization_msgs/MarkerArray",
    "rviz_default_plugins/Odometry": "nav_msgs/Odometry",
    "rviz_default_plugins/Path": "nav_msgs/Path",
    "rviz_default_plugins/Camera": "sensor_msgs/Image",
    "rviz_default_plugins/RobotModel": "std_msgs/String",
}


def interface_topics() -> dict[str, str]:
    """Topic -> message type from the ROS graph table of docs/INTERFACES.md."""
    rows = re.findall(r"^\| `(/[^`]+)` \| ([A-Za-z_]+/[A-Za-z]+)", INTERFACES.read_text(), flags=re.M)
    return dict(rows)


def test_rviz_config_shows_the_documented_topics():
    """Structure of the rviz config; test_rviz_config.py checks it against a running graph."""
    config = yaml.safe_load((LAUNCH / "rviz" / "deepracer.rviz").read_text())
    manager = config["Visualization Manager"]
    assert manager["Global Options"]["Fixed Frame"] == "odom"
    topics = interface_topics()
    shown = {}
    for display in manager["Displays"]:
        sub = display.get("Description Topic") if display["Class"] == "rviz_default_plugins/RobotModel" \
            else display.get("Topic")
        if sub is None or not display["Enabled"]:
            continue
        topic = sub["Value"]
        assert topic in topics, f"{topic} is not in the INTERFACES.md topic table"
        assert RVIZ_TYPES[display["Class"]] == topics[topic], topic
        shown[display["Class"].split("/")[1]] = sub
    assert set(shown) == {"Camera", "MarkerArray", "Odometry", "Path", "RobotModel"}
    robot = next(d for d in manager["Displays"] if d["Class"] == "rviz_default_plugins/RobotModel")
    assert robot["Description Source"] == "Topic" and robot["TF Prefix"] == ""
    assert shown["RobotModel"]["Value"] == "/robot_description"
    # QoS must match the publishers: sensor-data camera, latched track and robot_description
    assert shown["Camera"]["Value"] == "/camera/image_raw" and shown["Camera"]["Reliability Policy"] == "Best Effort"
    assert shown["MarkerArray"]["Durability Policy"] == "Transient Local"
    assert shown["RobotModel"]["Durability Policy"] == "Transient Local"


@pytest.mark.parametrize("name", ["sim_drive.launch.xml", "car.launch.xml", "sim_training.launch.xml"])
def test_namespace_argument_reaches_every_node(name):
    args = {} if "training" in name else MODEL
    plain = by_name(plan(name, **args))
    assert all("__ns:=/car1" not in " ".join(p.argv) for p in plain.values())
    spaced = by_name(plan(name, **args, namespace="car1", console="true") if name == "car.launch.xml"
                     else plan(name, **args, namespace="car1"))
    assert spaced and all("__ns:=/car1" in p.argv for p in spaced.values()), {n: p.argv for n, p in spaced.items()}


def test_training_defaults_to_15_fps_with_rollout_argument():
    procs = by_name(plan("sim_training.launch.xml", rollout="256"))
    sim = params(procs["sim_node"].argv)
    assert sim["step_on_command"] == "false" and sim["rate_hz"] == "15.0"
    assert params(procs["gym_bridge_node"].argv)["rollout_steps"] == "256"


def test_robot_state_publisher_is_guarded_by_an_argument():
    for name in ("sim_drive.launch.xml", "car.launch.xml"):
        assert "robot_state_publisher" not in by_name(plan(name, **MODEL))
        rsp = by_name(plan(name, **MODEL, robot_state_publisher="true"))["robot_state_publisher"]
        assert params_files(rsp.argv) == ["robot_description.yaml"]


@pytest.mark.parametrize("name", ["sim_drive.launch.xml", "sim_training.launch.xml"])
def test_tf_follows_the_namespace(name):
    """The sim's (and robot_state_publisher's) /tf and /tf_static are remapped into the graph's
    namespace (the multi-robot convention): /tf in the root namespace, /car1/tf with namespace:=car1,
    so two namespaced cars' odom -> base_link never meet. Resolved by rcl with the node's arguments."""
    rclpy = pytest.importorskip("rclpy")
    args = {} if "training" in name else MODEL
    for namespace, prefix in (("", ""), ("car1", "/car1")):
        argv = by_name(plan(name, **args, namespace=namespace))["sim_node"].argv
        context = rclpy.Context()
        rclpy.init(args=["resolver", *argv[argv.index("--ros-args"):]], context=context)
        try:
            node = rclpy.create_node("resolver", context=context)
            assert node.resolve_topic_name("/tf") == f"{prefix}/tf"
            assert node.resolve_topic_name("/tf_static") == f"{prefix}/tf_static"
            assert node.resolve_topic_name("/diagnostics") == "/diagnostics"       # global stays global
            node.destroy_node()
        finally:
            rclpy.shutdown(context=context)
