"""ros_gz_bridge YAML configuration: load and check it against the bridge's schema and type mapping.

ros_gz_bridge (``parameter_bridge --ros-args -p config_file:=FILE``) reads a YAML list of entries::

    - ros_topic_name: /camera/image_raw        # or topic_name: for the same name on both sides
      gz_topic_name: /model/deepracer/camera/image
      ros_type_name: sensor_msgs/msg/Image
      gz_type_name: gz.msgs.Image
      direction: GZ_TO_ROS                     # BIDIRECTIONAL (default) | GZ_TO_ROS | ROS_TO_GZ
      lazy: false                              # optional; subscriber_queue / publisher_queue: ints

`load_bridge_config(path)` returns the entries or raises `BridgeConfigError` with one line naming
the file, the entry and the key at fault. The ROS <-> gz type pairs allowed are those of
ros_gz_bridge's documented mapping table (README "The following message types can be bridged"),
restricted to the message packages this workspace uses; a pair outside it is refused (the bridge
would fail at start-up on a machine with Gazebo). No rclpy, no message packages (the tests import
the ROS types to check they exist).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

__all__ = ["BridgeConfigError", "BridgeEntry", "TYPE_PAIRS", "DIRECTIONS", "load_bridge_config"]

#: ros_gz_bridge's mapping table (ROS type -> the gz types it bridges to), for the packages we use.
TYPE_PAIRS: dict[str, frozenset[str]] = {
    "builtin_interfaces/msg/Time": frozenset({"gz.msgs.Time"}),
    "rosgraph_msgs/msg/Clock": frozenset({"gz.msgs.Clock"}),
    "std_msgs/msg/Bool": frozenset({"gz.msgs.Boolean"}),
    "std_msgs/msg/Empty": frozenset({"gz.msgs.Empty"}),
    "std_msgs/msg/Float32": frozenset({"gz.msgs.Float"}),
    "std_msgs/msg/Float64": frozenset({"gz.msgs.Double"}),
    "std_msgs/msg/Header": frozenset({"gz.msgs.Header"}),
    "std_msgs/msg/Int32": frozenset({"gz.msgs.Int32"}),
    "std_msgs/msg/String": frozenset({"gz.msgs.StringMsg"}),
    "geometry_msgs/msg/Point": frozenset({"gz.msgs.Vector3d"}),
    "geometry_msgs/msg/Pose": frozenset({"gz.msgs.Pose"}),
    "geometry_msgs/msg/PoseArray": frozenset({"gz.msgs.Pose_V"}),
    "geometry_msgs/msg/PoseStamped": frozenset({"gz.msgs.Pose"}),
    "geometry_msgs/msg/Quaternion": frozenset({"gz.msgs.Quaternion"}),
    "geometry_msgs/msg/Transform": frozenset({"gz.msgs.Pose"}),
    "geometry_msgs/msg/TransformStamped": frozenset({"gz.msgs.Pose"}),
    "geometry_msgs/msg/Twist": frozenset({"gz.msgs.Twist"}),
    "geometry_msgs/msg/TwistStamped": frozenset({"gz.msgs.Twist"}),
    "geometry_msgs/msg/Vector3": frozenset({"gz.msgs.Vector3d"}),
    "nav_msgs/msg/Odometry": frozenset({"gz.msgs.Odometry", "gz.msgs.OdometryWithCovariance"}),
    "sensor_msgs/msg/CameraInfo": frozenset({"gz.msgs.CameraInfo"}),
    "sensor_msgs/msg/Image": frozenset({"gz.msgs.Image"}),
    "sensor_msgs/msg/Imu": frozenset({"gz.msgs.IMU"}),
    "sensor_msgs/msg/JointState": frozenset({"gz.msgs.Model"}),
    "sensor_msgs/msg/LaserScan": frozenset({"gz.msgs.LaserScan"}),
    "tf2_msgs/msg/TFMessage": frozenset({"gz.msgs.Pose_V"}),
    "visualization_msgs/msg/Marker": frozenset({"gz.msgs.Marker"}),
    "visualization_msgs/msg/MarkerArray": frozenset({"gz.msgs.Marker_V"}),
}
DIRECTIONS = ("BIDIRECTIONAL", "GZ_TO_ROS", "ROS_TO_GZ")
_KEYS = {"topic_name", "ros_topic_name", "gz_topic_name", "ros_type_name", "gz_type_name", "direction", "lazy",
         "subscriber_queue", "publisher_queue"}
_TOPIC_RE = re.compile(r"^/?[A-Za-z_~{][A-Za-z0-9_/{}~]*$")


class BridgeConfigError(ValueError):
    """A bridge YAML is unusable; the message names the file, the entry and the key."""


@dataclass(frozen=True)
class BridgeEntry:
    """One bridged topic."""

    ros_topic: str
    gz_topic: str
    ros_type: str
    gz_type: str
    direction: str = "BIDIRECTIONAL"
    lazy: bool = False


def _suggest(word: str, options) -> str:
    import difflib

    close = difflib.get_close_matches(str(word), sorted(options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def load_bridge_config(path: str | os.PathLike[str]) -> list[BridgeEntry]:
    """Read and check a ros_gz_bridge YAML; returns its entries (see the module docstring)."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise BridgeConfigError(f"bridge config {path}: cannot read it ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        raise BridgeConfigError(f"bridge config {path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, list) or not data:
        raise BridgeConfigError(f"bridge config {path}: expected a non-empty YAML list of topic entries")
    entries: list[BridgeEntry] = []
    seen: dict[tuple[str, str], int] = {}
    for i, item in enumerate(data):
        where = f"bridge config {path}, entry {i}"
        if not isinstance(item, dict):
            raise BridgeConfigError(f"{where}: expected a mapping, got {type(item).__name__}")
        for key in item:
            if key not in _KEYS:
                raise BridgeConfigError(f"{where}: unknown key {key!r}{_suggest(key, _KEYS)}")
        for key, value in item.items():
            if key in ("lazy",) and not isinstance(value, bool):
                raise BridgeConfigError(f"{where}: '{key}' must be true or false, got {value!r}")
            if key in ("subscriber_queue", "publisher_queue") and (
                    isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise BridgeConfigError(f"{where}: '{key}' must be a positive integer, got {value!r}")
            if key not in ("lazy", "subscriber_queue", "publisher_queue") and not isinstance(value, str):
                raise BridgeConfigError(f"{where}: '{key}' must be a string, got {value!r}")
        if "topic_name" in item:
            if "ros_topic_name" in item or "gz_topic_name" in item:
                raise BridgeConfigError(f"{where}: give either 'topic_name' or 'ros_topic_name' + 'gz_topic_name'")
            ros_topic = gz_topic = item["topic_name"]
        else:
            missing = [k for k in ("ros_topic_name", "gz_topic_name") if k not in item]
            if missing:
                raise BridgeConfigError(f"{where}: missing {' and '.join(repr(k) for k in missing)} (or 'topic_name')")
            ros_topic, gz_topic = item["ros_topic_name"], item["gz_topic_name"]
        for key in ("ros_type_name", "gz_type_name"):
            if key not in item:
                raise BridgeConfigError(f"{where}: missing {key!r}")
        for key, topic in (("ros topic", ros_topic), ("gz topic", gz_topic)):
            if not _TOPIC_RE.match(topic) or "//" in topic or topic.endswith("/"):
                raise BridgeConfigError(f"{where}: invalid {key} name {topic!r}")
        ros_type, gz_type = item["ros_type_name"], item["gz_type_name"].replace("ignition.msgs.", "gz.msgs.")
        if ros_type not in TYPE_PAIRS:
            raise BridgeConfigError(f"{where}: ros_type_name {ros_type!r} is not in ros_gz_bridge's mapping table"
                                    f"{_suggest(ros_type, TYPE_PAIRS)}")
        if gz_type not in TYPE_PAIRS[ros_type]:
            allowed = ", ".join(sorted(TYPE_PAIRS[ros_type]))
            raise BridgeConfigError(f"{where}: {ros_type} bridges to {allowed}, not {item['gz_type_name']!r}")
        direction = item.get("direction", "BIDIRECTIONAL")
        if direction not in DIRECTIONS:
            raise BridgeConfigError(f"{where}: direction {direction!r} must be one of {', '.join(DIRECTIONS)}"
                                    f"{_suggest(direction, DIRECTIONS)}")
        key = (ros_topic, direction)
        if key in seen:
            raise BridgeConfigError(f"{where}: ROS topic {ros_topic} is already bridged {direction} by entry {seen[key]}")
        seen[key] = i
        entries.append(BridgeEntry(ros_topic, gz_topic, ros_type, gz_type, direction, bool(item.get("lazy", False))))
    return entries

