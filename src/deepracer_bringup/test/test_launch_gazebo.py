"""launch/gazebo.launch.xml through the project's launch runner in print mode: gz-sim, the spawn, the
bridge with the committed YAML, and the SAME drive stack / Gym bridge as the embedded-sim launch files.
Gazebo and ros_gz are not installable here: they are printed unresolved (--allow-missing), everything
of ours is resolved for real."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import rclpy
import yaml

from deepracer_common.launch_runner import LaunchError, main, plan_launch
from deepracer_description.vehicle import default_urdf_path
from deepracer_sim.gazebo import CAR_MODEL
from deepracer_sim.gz_bridge import load_bridge_config

REPO = Path(__file__).resolve().parents[3]
LAUNCH = Path(__file__).resolve().parents[1] / "launch"   # deepracer_bringup/launch (the top-level launch/ links here)
GAZEBO = LAUNCH / "gazebo.launch.xml"
EXTERNAL = ("gz", "ros_gz_sim", "ros_gz_bridge", "robot_state_publisher")
MODEL = {"model": "/tmp/model.tar.gz"}


def plan(**args: str):
    return plan_launch(GAZEBO, args, allow_missing=EXTERNAL)


def params(argv: list[str]) -> dict[str, str]:
    return dict(argv[i + 1].split(":=", 1) for i, a in enumerate(argv) if a == "-p")


def by_name(p) -> dict:
    return {s.name: s for s in p.processes}


def test_gazebo_drive_graph():
    procs = by_name(plan(**MODEL, track="oval", yaw="0.0112"))
    assert list(procs) == ["gz_sim", "robot_state_publisher", "spawn_deepracer", "gz_bridge", "gz_referee_node",
                           "inference_node", "control_node"]
    gz = procs["gz_sim"]
    assert gz.required and gz.argv[:3] == ["gz", "sim", "-r"]
    world = Path(gz.argv[-1])
    assert world.name == "oval.world.sdf" and world.is_file()
    models = Path(gz.env["GZ_SIM_RESOURCE_PATH"])
    assert (models / "oval" / "model.sdf").is_file()                 # the world's model:// include resolves
    # the car: robot_description is the workspace URDF (its parameter file), spawned from that topic
    # under the bridge's model name
    argv = procs["robot_state_publisher"].argv
    params_file = Path(argv[argv.index("--params-file") + 1])
    assert params_file.name == "robot_description.yaml"
    data = yaml.safe_load(params_file.read_text())
    assert data["/**"]["ros__parameters"]["robot_description"] == default_urdf_path().read_text()
    spawn = procs["spawn_deepracer"].argv
    assert spawn[spawn.index("-topic") + 1] == "robot_description" and spawn[spawn.index("-name") + 1] == CAR_MODEL
    assert spawn[spawn.index("-Y") + 1] == "0.0112"
    # the bridge reads the committed, schema-checked YAML
    bridge = params(procs["gz_bridge"].argv)
    entries = load_bridge_config(bridge["config_file"])
    assert {e.ros_topic for e in entries} >= {"camera/image_raw", "sim/cmd_vel", "odom", "/clock"}
    assert procs["gz_bridge"].required
    for name in ("robot_state_publisher", "gz_bridge", "gz_referee_node", "inference_node", "control_node"):
        assert params(procs[name].argv)["use_sim_time"] == "true", name
    # the referee judges the same track, in the world the world file names (the track's model name)
    referee = params(procs["gz_referee_node"].argv)
    assert referee["track"] == "oval" and referee["world"] == "''" and procs["gz_referee_node"].required
    # our nodes are resolved for real (only the external packages stay unresolved)
    for name in ("gz_referee_node", "inference_node", "control_node"):
        assert not procs[name].argv[0].startswith("<"), procs[name].argv[0]
    assert params(procs["control_node"].argv)["backend"] == "sim"


def test_same_drive_stack_as_sim_drive():
    """The inference, control (and console) nodes are exactly sim_drive's, but for use_sim_time."""
    gz = by_name(plan(**MODEL, console="true"))
    sim = by_name(plan_launch(LAUNCH / "sim_drive.launch.xml", dict(MODEL, console="true")))
    assert "console_node" in gz and params(gz["console_node"].argv) == params(sim["console_node"].argv)
    for name in ("inference_node", "control_node"):
        a, b = params(gz[name].argv), params(sim[name].argv)
        assert a.pop("use_sim_time") == "true" and b.pop("use_sim_time") == "false"
        assert a == b, name
        assert gz[name].argv[0] == sim[name].argv[0] and gz[name].env == sim[name].env


def test_gazebo_training_graph_uses_the_gym_bridge():
    procs = by_name(plan(task="training", output_dir="/tmp/out", timesteps="10"))
    assert list(procs) == ["gz_sim", "robot_state_publisher", "spawn_deepracer", "gz_bridge", "gz_referee_node",
                           "gym_bridge_node"]
    sim = by_name(plan_launch(LAUNCH / "sim_training.launch.xml", {"output_dir": "/tmp/out", "timesteps": "10"}))
    a, b = params(procs["gym_bridge_node"].argv), params(sim["gym_bridge_node"].argv)
    assert a.pop("use_sim_time") == "true"
    assert a == b and procs["gym_bridge_node"].argv[0] == sim["gym_bridge_node"].argv[0]


def test_headless_rendering_switch():
    assert "--headless-rendering" not in by_name(plan(**MODEL))["gz_sim"].argv
    gz = by_name(plan(**MODEL, headless_rendering="true"))["gz_sim"]
    assert gz.argv[:5] == ["gz", "sim", "-r", "-s", "-v"] and "--headless-rendering" in gz.argv


def test_gui_and_custom_world(tmp_path):
    world = tmp_path / "w.world.sdf"
    world.write_text("<sdf/>")
    procs = by_name(plan(**MODEL, gui="true", world=str(world), resource_path=str(tmp_path)))
    assert procs["gz_gui"].argv[:3] == ["gz", "sim", "-g"]
    assert procs["gz_sim"].argv[-1] == str(world) and procs["gz_sim"].env["GZ_SIM_RESOURCE_PATH"] == str(tmp_path)


def test_rcl_reads_the_robot_description():
    """rcl (real rclpy) reads the parameter file robot_state_publisher gets: exactly the URDF."""
    argv = by_name(plan(**MODEL))["robot_state_publisher"].argv
    ros_args = argv[argv.index("--ros-args"):]
    code = ("import sys, rclpy\nrclpy.init(args=sys.argv[1:])\n"
            "n = rclpy.create_node('probe', automatically_declare_parameters_from_overrides=True)\n"
            "sys.stdout.write(n.get_parameter('robot_description').value)\nrclpy.shutdown()\n")
    out = subprocess.run([sys.executable, "-c", code, *ros_args], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout == default_urdf_path().read_text()


def test_missing_external_packages_are_errors_unless_allowed(capsys, tmp_path):
    if shutil.which("gz") is None:
        with pytest.raises(LaunchError, match="command 'gz' not found on PATH"):
            plan_launch(GAZEBO, dict(MODEL))
    with pytest.raises(LaunchError, match="package 'ros_gz_sim' not found"):
        plan_launch(GAZEBO, dict(MODEL), allow_missing=("gz", "ros_gz_bridge", "robot_state_publisher"))
    allow = [a for name in EXTERNAL for a in ("--allow-missing", name)]
    assert main([str(GAZEBO), "model:=/tmp/m", "--print", *allow]) == 0
    captured = capsys.readouterr()
    assert "[gz_sim]" in captured.out and "[control_node]" in captured.out
    assert "allowed missing: printed unresolved" in captured.err
    assert main([str(GAZEBO), "model:=/tmp/m", *allow]) == 2             # never RUN an unresolved plan
    assert "--allow-missing only goes with --print" in capsys.readouterr().err


def _resolver(argv: list[str]):
    """A real rclpy node with a process's ROS arguments (its __node and __ns remaps): resolves its
    relative names as that process would. Returns (node, context); shut the context down after."""
    ros_args = argv[argv.index("--ros-args"):]
    context = rclpy.Context()
    rclpy.init(args=["resolver", *ros_args], context=context)
    return rclpy.create_node("resolver", context=context), context


def test_namespace_argument_puts_the_gazebo_graph_under_it():
    """namespace:=car1 (the same argument as the embedded-sim launch files): every ROS process of the
    Gazebo graph runs in /car1 (gz sim is no ROS process), and the names they meet on resolve there:
    the bridge's camera, odom, joint states and drive command, the spawn's robot_description, the
    referee's topics and service; /clock stays global. Resolved by rcl itself with each process's
    ROS arguments (gz-sim is not installable here: the plan is what ros2 launch would start)."""
    plain = by_name(plan(**MODEL))
    assert all("__ns:=/car1" not in p.argv for p in plain.values())
    for task, args in (("drive", MODEL), ("training", {"output_dir": "/tmp/out"})):
        procs = by_name(plan(**args, task=task, namespace="car1"))
        ros = {n: p for n, p in procs.items() if n != "gz_sim"}      # gz sim: the one non-ROS process
        for name, p in ros.items():
            assert p.argv[p.argv.index("__ns:=/car1") - 1] == "-r", (task, name, p.argv)
        assert ("gym_bridge_node" in ros) == (task == "training") and ("control_node" in ros) == (task == "drive")

    procs = by_name(plan(**MODEL, namespace="car1"))
    entries = load_bridge_config(params(procs["gz_bridge"].argv)["config_file"])
    resolved: dict[str, dict[str, str]] = {}
    for name, names in {
        "gz_bridge": [e.ros_topic for e in entries],
        "spawn_deepracer": ["robot_description"],
        "robot_state_publisher": ["robot_description", "joint_states", "/tf", "/tf_static"],
        "gz_referee_node": ["odom", "camera/image_raw", "sim/cmd_vel", "sim/lap_status", "sim/reset"],
        "inference_node": ["camera/image_raw", "cmd_vel_auto"],
        "control_node": ["cmd_vel_auto", "sim/cmd_vel"],
    }.items():
        node, context = _resolver(procs[name].argv)
        try:
            assert node.get_fully_qualified_name() == f"/car1/{name}"
            resolved[name] = {n: node.resolve_topic_name(n) for n in names}
        finally:
            node.destroy_node()
            rclpy.shutdown(context=context)
    bridge = resolved["gz_bridge"]
    assert bridge == {"/clock": "/clock", "camera/image_raw": "/car1/camera/image_raw",
                      "camera/camera_info": "/car1/camera/camera_info", "sim/cmd_vel": "/car1/sim/cmd_vel",
                      "odom": "/car1/odom", "joint_states": "/car1/joint_states"}
    spawn = procs["spawn_deepracer"].argv
    assert resolved["spawn_deepracer"]["robot_description"] == "/car1/robot_description" \
        == resolved["robot_state_publisher"]["robot_description"]
    assert spawn[spawn.index("-topic") + 1] == "robot_description"       # relative: ros_gz_sim resolves it in /car1
    assert resolved["robot_state_publisher"]["joint_states"] == bridge["joint_states"]
    assert (resolved["robot_state_publisher"]["/tf"], resolved["robot_state_publisher"]["/tf_static"]) == \
        ("/car1/tf", "/car1/tf_static")                                 # TF remapped into the namespace
    for name in ("gz_referee_node", "inference_node", "control_node"):
        for topic, full in resolved[name].items():
            assert full == f"/car1/{topic}", (name, topic, full)
            if topic in bridge:
                assert full == bridge[topic]                            # the two sides meet
