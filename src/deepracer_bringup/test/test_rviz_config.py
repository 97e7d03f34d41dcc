"""The rviz2 config (launch/rviz/deepracer.rviz) against the graph it is meant for (rviz2 itself does
not run here; test_launch_files.py checks the config's structure: RobotModel, Camera, odometry,
path, track markers in the fixed frame ``odom``). launch_testing shape: start the sim node with
the sim launch files' parameters (launch/config/sim.yaml), wait until its topics and TF are up,
then assert on them:

- every enabled display's topic is published by the graph with the message type the display reads
  and a QoS the display's subscription can match (reliability, durability);
- the fixed frame, the camera's frame and every link of the shipped URDF are one TF tree (from /tf
  and /tf_static), so rviz can place the robot model and the camera.
"""
from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

rclpy = pytest.importorskip("rclpy")

LAUNCH = Path(__file__).resolve().parents[1] / "launch"
RVIZ = LAUNCH / "rviz" / "deepracer.rviz"
# rviz_default_plugins display class -> the message type it subscribes to
DISPLAY_TYPES = {
    "rviz_default_plugins/RobotModel": "std_msgs/msg/String",
    "rviz_default_plugins/MarkerArray": "visualization_msgs/msg/MarkerArray",
    "rviz_default_plugins/Path": "nav_msgs/msg/Path",
    "rviz_default_plugins/Odometry": "nav_msgs/msg/Odometry",
    "rviz_default_plugins/Camera": "sensor_msgs/msg/Image",
    "rviz_default_plugins/Image": "sensor_msgs/msg/Image",
}


def load_config() -> dict:
    return yaml.safe_load(RVIZ.read_text())


def displays(config: dict) -> dict[str, dict]:
    return {d["Name"]: d for d in config["Visualization Manager"]["Displays"]}


def display_topic(d: dict) -> dict | None:
    """The display's subscription: {"Value": topic, "Reliability Policy": ..., ...} (None: no topic)."""
    if d["Class"] == "rviz_default_plugins/RobotModel":
        return d["Description Topic"] if d.get("Description Source") == "Topic" else None
    return d.get("Topic")


def _sim_parameters() -> dict:
    """The sim node's parameters as sim_drive / sim_training launch it (their sim.yaml)."""
    params = dict(yaml.safe_load((LAUNCH / "config" / "sim.yaml").read_text())["/**"]["ros__parameters"])
    params.update(track="oval", rate_hz=30.0)
    return params


def test_every_display_topic_frame_and_link_exists_in_the_graph():
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from rclpy.parameter import Parameter
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
    from sensor_msgs.msg import CameraInfo
    from tf2_msgs.msg import TFMessage

    from deepracer_description.vehicle import default_urdf_path
    from deepracer_sim.nodes.sim_node import SimNode

    config = load_config()
    params = _sim_parameters()
    assert params["publish_robot_tf"] is True, "sim.yaml: the launched sim publishes the URDF's TF"
    rclpy.init()
    sim = probe = None
    executor = SingleThreadedExecutor()
    try:
        sim = SimNode(parameter_overrides=[Parameter(k, value=v) for k, v in params.items()])
        probe = Node("rviz_probe")
        executor.add_node(sim)
        executor.add_node(probe)
        latched = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
        tf_static: list[TFMessage] = []
        tf: list[TFMessage] = []
        infos: list[CameraInfo] = []
        probe.create_subscription(TFMessage, "/tf_static", tf_static.append, latched)
        probe.create_subscription(TFMessage, "/tf", tf.append, 100)
        # rviz's Camera display reads camera_info beside the image topic with the image's QoS (best effort)
        probe.create_subscription(CameraInfo, "/camera/camera_info", infos.append, qos_profile_sensor_data)

        def spin_until(predicate, timeout_s: float) -> bool:
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                executor.spin_once(timeout_sec=0.02)
                if predicate():
                    return True
            return False

        assert spin_until(lambda: tf_static and tf and infos, 15.0), (len(tf_static), len(tf), len(infos))
        spin_until(lambda: False, 0.3)

        published = dict(probe.get_topic_names_and_types())
        for d in displays(config).values():
            topic = display_topic(d)
            if not d.get("Enabled") or topic is None:
                continue
            name = topic["Value"]
            assert DISPLAY_TYPES[d["Class"]] in published.get(name, []), \
                f"display {d['Name']}: nothing publishes {DISPLAY_TYPES[d['Class']]} on {name} ({published.get(name)})"
            offers = [info.qos_profile for info in probe.get_publishers_info_by_topic(name)]
            assert offers, name
            for qos in offers:
                if topic.get("Reliability Policy") == "Reliable":
                    assert qos.reliability == ReliabilityPolicy.RELIABLE, f"{d['Name']}: {name} is best effort"
                if topic.get("Durability Policy") == "Transient Local":
                    assert qos.durability == DurabilityPolicy.TRANSIENT_LOCAL, f"{d['Name']}: {name} is volatile"
            if d["Class"] == "rviz_default_plugins/Camera":   # camera_info beside the image (image_transport's rule)
                sibling = name.rsplit("/", 1)[0] + "/camera_info"
                assert "sensor_msgs/msg/CameraInfo" in published.get(sibling, []), sibling

        # one TF tree: the fixed frame at the root, the camera frame and every URDF link below it
        parent = {ts.child_frame_id: ts.header.frame_id for msg in tf_static + tf for ts in msg.transforms}
        fixed = config["Visualization Manager"]["Global Options"]["Fixed Frame"]
        links = {el.get("name") for el in ET.parse(default_urdf_path()).getroot().findall("link")}
        frames = links | {infos[-1].header.frame_id}
        assert infos[-1].header.frame_id in links
        for frame in sorted(frames):
            chain = [frame]
            while chain[-1] != fixed:
                assert chain[-1] in parent, f"TF: {' <- '.join(chain)} does not reach the fixed frame {fixed}"
                chain.append(parent[chain[-1]])
                assert len(chain) < 30, chain
    finally:
        executor.shutdown()
        for node in (probe, sim):
            if node is not None:
                node.destroy_node()
        rclpy.try_shutdown()
