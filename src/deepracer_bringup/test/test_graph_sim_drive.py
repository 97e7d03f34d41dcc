"""End-to-end: launch/sim_drive.launch.xml run by `deepracer launch` as real processes
(sim_node -> inference_node -> control_node[sim] -> sim_node) with a scripted centre-line policy
exported as a model artifact.

One launched graph serves the tests of this module, in order: the car completes a lap, the rviz
config names only topics the live graph publishes (with their types), and killing the inference
node makes the control node's watchdog stop the car within its timeout.
"""
from __future__ import annotations

import os
import signal
import time

import pytest
import yaml

rclpy = pytest.importorskip("rclpy")

pytestmark = pytest.mark.slow   # > 20 s per test on the 2-core CI machine (make test-fast skips it)

from graph_helpers import REPO, LaunchedGraph, parse_status, scripted_artifact, spin_until  # noqa: E402

RATE_HZ = 30.0                 # 2x real time: a 16 m lap at 1 m/s takes ~17 s sim, ~8 s wall (the policy tolerates ~4 frames of graph latency)
WATCHDOG_S = 0.25              # drive_stack default (launch/README.md)

RVIZ_TYPES = {                  # rviz display class -> the message type it subscribes to
    "rviz_default_plugins/Image": "sensor_msgs/msg/Image",
    "rviz_default_plugins/Camera": "sensor_msgs/msg/Image",
    "rviz_default_plugins/RobotModel": "std_msgs/msg/String",     # its Description Topic
    "rviz_default_plugins/MarkerArray": "visualization_msgs/msg/MarkerArray",
    "rviz_default_plugins/Odometry": "nav_msgs/msg/Odometry",
    "rviz_default_plugins/Path": "nav_msgs/msg/Path",
    "rviz_default_plugins/Marker": "visualization_msgs/msg/Marker",
    "rviz_default_plugins/PoseStamped": "geometry_msgs/msg/PoseStamped",
}


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    from geometry_msgs.msg import Twist
    from nav_msgs.msg import Odometry
    from rclpy.node import Node
    from std_msgs.msg import String

    artifact = scripted_artifact(tmp_path_factory.mktemp("model") / "centre_line")
    launched = LaunchedGraph(REPO / "launch" / "sim_drive.launch.xml", f"model:={artifact}", "track:=oval",
                             f"rate:={RATE_HZ}", keep_going=True)
    rclpy.init()
    node = Node("sim_drive_probe")
    probe = {"status": [], "cmd": [], "odom": [], "node": node, "launched": launched}
    node.create_subscription(String, "/sim/lap_status", lambda m: probe["status"].append((time.monotonic(), parse_status(m))), 50)
    node.create_subscription(Twist, "/sim/cmd_vel", lambda m: probe["cmd"].append((time.monotonic(), m.linear.x)), 100)
    node.create_subscription(Odometry, "/odom", lambda m: probe["odom"].append((time.monotonic(), m.twist.twist.linear.x)), 50)
    try:
        yield probe
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
        launched.stop()


def _alive(graph) -> bool:
    return graph["launched"].proc.poll() is None


def test_sim_drive_completes_a_lap(graph):
    ok = spin_until(graph["node"], lambda: any(s["lap_count"] >= 1 for _, s in graph["status"]), 50.0,
                    alive=lambda: _alive(graph))
    out = graph["launched"].output
    assert ok, f"no lap completed; last status: {graph['status'][-1:] if graph['status'] else None}\n{out[-4000:]}"
    lap = next(s for _, s in graph["status"] if s["event"] == "lap_complete")
    assert lap["last_lap_time_s"] > 10.0                 # 16 m at <= 1 m/s: a real lap, not a glitch
    assert lap["off_track_count"] == 0, lap
    print(f"lap time {lap['last_lap_time_s']:.2f} s sim")
    driven = [s for _, s in graph["status"] if not s["stopped"]]
    assert driven and all(abs(s["cmd_speed_m_s"] - 1.0) < 1e-6 for s in driven)   # the model's speed
    assert "[inference_node]" in out and "[control_node]" in out and "[sim_node]" in out


def test_rviz_config_names_only_live_topics(graph):
    config = yaml.safe_load((REPO / "launch" / "rviz" / "deepracer.rviz").read_text(encoding="utf-8"))
    wanted: dict[str, str] = {}
    for display in config["Visualization Manager"]["Displays"]:
        topic = display.get("Description Topic") if display["Class"] == "rviz_default_plugins/RobotModel" \
            else display.get("Topic")
        if not topic:
            continue
        assert display["Class"] in RVIZ_TYPES, f"display {display.get('Name')}: unknown class {display['Class']}"
        wanted[topic["Value"]] = RVIZ_TYPES[display["Class"]]
    assert set(wanted) >= {"/camera/image_raw", "/odom", "/sim/path", "/sim/track_markers", "/robot_description"}
    node = graph["node"]
    live: dict[str, list[str]] = {}

    def discovered() -> bool:
        live.clear()
        for name, types in node.get_topic_names_and_types():
            # only topics someone publishes (our probe subscribes to some of them)
            if node.count_publishers(name) > 0:
                live[name] = types
        return all(t in live for t in wanted)

    spin_until(node, discovered, 10.0)
    for topic, msg_type in wanted.items():
        assert topic in live, f"rviz shows {topic}, which the running graph does not publish ({sorted(live)})"
        assert live[topic] == [msg_type], f"{topic}: rviz expects {msg_type}, the graph publishes {live[topic]}"


def test_killing_inference_makes_watchdog_stop_the_car(graph):
    node = graph["node"]
    moving = spin_until(node, lambda: bool(graph["odom"]) and graph["odom"][-1][1] > 0.5, 20.0,
                        alive=lambda: _alive(graph))
    assert moving, "the car is not driving before the kill"
    pid = graph["launched"].pid_of("inference_node")
    assert pid is not None, graph["launched"].output[-3000:]
    os.kill(pid, signal.SIGKILL)            # our own child (started by our launch runner)
    killed_at = time.monotonic()
    graph["cmd"].clear()
    stopped = spin_until(node, lambda: any(v == 0.0 for t, v in graph["cmd"]), 5.0, step_s=0.01)
    assert stopped, f"no neutral command on /sim/cmd_vel after the kill: {graph['cmd'][-5:]}"
    stop_at = next(t for t, v in graph["cmd"] if v == 0.0)
    # The watchdog fires WATCHDOG_S after the last command (<= one frame before the kill), at the
    # control node's next 50 Hz tick; allow scheduling slack on a busy 2-core machine.
    print(f"neutral on /sim/cmd_vel {stop_at - killed_at:.3f} s after killing inference_node")
    assert stop_at - killed_at < WATCHDOG_S + 0.35, f"car stopped {stop_at - killed_at:.3f} s after the kill"
    # ...and it stays stopped: the sim holds the car, odometry speed 0
    graph["odom"].clear()
    spin_until(node, lambda: len(graph["odom"]) >= 10, 5.0)
    assert graph["odom"] and all(v == 0.0 for _, v in graph["odom"][-5:]), graph["odom"][-5:]
    assert graph["status"][-1][1]["stopped"] is True
    assert _alive(graph), "with --keep-going the rest of the graph keeps running"
