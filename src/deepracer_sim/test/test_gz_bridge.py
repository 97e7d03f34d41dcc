"""The committed ros_gz_bridge YAML against the bridge's schema and type table, the URDF's gz topics and
the ROS topics the drive stack and the Gym bridge use; and the checker's refusals."""
from __future__ import annotations

import importlib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from deepracer_description.vehicle import default_urdf_path
from deepracer_sim.gz_bridge import TYPE_PAIRS, BridgeConfigError, load_bridge_config

REPO = Path(__file__).resolve().parents[3]
BRIDGE_YAML = REPO / "launch" / "gazebo" / "bridge.yaml"


def ros_message_class(ros_type: str):
    pkg, kind, name = ros_type.split("/")
    return getattr(importlib.import_module(f"{pkg}.{kind}"), name)


def test_committed_bridge_config_is_valid_and_complete():
    entries = load_bridge_config(BRIDGE_YAML)
    by_ros = {e.ros_topic: e for e in entries}
    # what the graph needs: image, drive command, odometry, clock (+ camera_info, joint states); the
    # car's names RELATIVE (gazebo.launch.xml's namespace applies to them), only /clock global
    assert set(by_ros) == {"/clock", "camera/image_raw", "camera/camera_info", "sim/cmd_vel", "odom", "joint_states"}
    assert by_ros["sim/cmd_vel"].direction == "ROS_TO_GZ"
    assert all(e.direction == "GZ_TO_ROS" for e in entries if e.ros_topic != "sim/cmd_vel")
    for e in entries:                       # every ROS type is a real message class here
        cls = ros_message_class(e.ros_type)
        assert cls.__name__ == e.ros_type.rsplit("/", 1)[1]


def test_bridge_gz_topics_are_the_urdf_systems_topics():
    robot = ET.parse(default_urdf_path()).getroot()
    plugins = {p.get("name"): p for g in robot.findall("gazebo") for p in g.findall("plugin")}
    camera = next(s for g in robot.findall("gazebo") for s in g.findall("sensor") if s.get("name") == "camera")
    image_topic = camera.findtext("topic")
    expected = {
        "camera/image_raw": image_topic,
        "camera/camera_info": image_topic.rsplit("/", 1)[0] + "/camera_info",   # gz-sensors' sibling topic
        "sim/cmd_vel": plugins["gz::sim::systems::AckermannSteering"].findtext("topic"),
        "odom": plugins["gz::sim::systems::OdometryPublisher"].findtext("odom_topic"),
        "joint_states": plugins["gz::sim::systems::JointStatePublisher"].findtext("topic"),
        "/clock": "/clock",
    }
    assert {e.ros_topic: e.gz_topic for e in load_bridge_config(BRIDGE_YAML)} == expected
    odom = plugins["gz::sim::systems::OdometryPublisher"]
    assert (odom.findtext("odom_frame"), odom.findtext("robot_base_frame")) == ("odom", "base_link")   # sim.yaml's


def test_type_table_ros_types_exist_where_installed():
    """Every ROS type in the table whose package is installed here is a real message class."""
    checked = 0
    for ros_type in TYPE_PAIRS:
        pkg = ros_type.split("/")[0]
        try:
            importlib.import_module(f"{pkg}.msg")
        except ImportError:
            continue                         # e.g. tf2_msgs: not in the pip-only venv
        ros_message_class(ros_type)
        checked += 1
    assert checked >= 20


GOOD = """- ros_topic_name: /a
  gz_topic_name: /b
  ros_type_name: geometry_msgs/msg/Twist
  gz_type_name: gz.msgs.Twist
  direction: ROS_TO_GZ
"""


@pytest.mark.parametrize("text, message", [
    (GOOD.replace("direction:", "directon:"), r"unknown key 'directon' \(did you mean 'direction'\?\)"),
    (GOOD.replace("ROS_TO_GZ", "ROS_TO_GAZEBO"), r"direction 'ROS_TO_GAZEBO' must be one of"),
    (GOOD.replace("gz.msgs.Twist", "gz.msgs.Pose"), r"geometry_msgs/msg/Twist bridges to gz.msgs.Twist, not 'gz.msgs.Pose'"),
    (GOOD.replace("geometry_msgs/msg/Twist", "geometry_msgs/msg/Twst"), r"not in ros_gz_bridge's mapping table \(did you mean"),
    (GOOD.replace("  gz_type_name: gz.msgs.Twist\n", ""), r"missing 'gz_type_name'"),
    (GOOD.replace("  gz_topic_name: /b\n", ""), r"missing 'gz_topic_name'"),
    (GOOD + "  topic_name: /c\n", r"either 'topic_name' or"),
    (GOOD.replace("/a", "/a b"), r"invalid ros topic name '/a b'"),
    (GOOD + "  lazy: maybe\n", r"'lazy' must be true or false"),
    (GOOD + "  subscriber_queue: 0\n", r"'subscriber_queue' must be a positive integer"),
    (GOOD + GOOD, r"entry 1: ROS topic /a is already bridged ROS_TO_GZ by entry 0"),
    ("ros_topic_name: /a\n", r"expected a non-empty YAML list"),
    ("- [1, 2]\n", r"entry 0: expected a mapping"),
    ("- ros_topic_name: [\n", r"not valid YAML"),
])
def test_bad_bridge_configs_are_refused(tmp_path, text, message):
    path = tmp_path / "bridge.yaml"
    path.write_text(text)
    with pytest.raises(BridgeConfigError, match=message) as info:
        load_bridge_config(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_good_variants_are_accepted(tmp_path):
    path = tmp_path / "bridge.yaml"
    path.write_text(GOOD + "  lazy: true\n  publisher_queue: 5\n"
                    "- topic_name: /clock\n  ros_type_name: rosgraph_msgs/msg/Clock\n"
                    "  gz_type_name: ignition.msgs.Clock\n")          # old 'ignition.msgs' spelling
    a, b = load_bridge_config(path)
    assert a.lazy and a.direction == "ROS_TO_GZ"
    assert (b.ros_topic, b.gz_topic, b.gz_type, b.direction) == ("/clock", "/clock", "gz.msgs.Clock", "BIDIRECTIONAL")
    with pytest.raises(BridgeConfigError, match="cannot read it"):
        load_bridge_config(tmp_path / "missing.yaml")
