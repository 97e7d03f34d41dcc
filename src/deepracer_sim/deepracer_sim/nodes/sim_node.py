"""The sim node: the embedded simulator (one car) as a ROS 2 node.

All names are RELATIVE (they resolve in the node's namespace: ``namespace:=car1`` gives
/car1/camera/image_raw ...), so several sims share one ROS domain without cross-talk.

Topics out: camera/image_raw (sensor_msgs/Image, sensor-data QoS; mono8 160x120, or rgb8 at the
            URDF camera's sensor size with ``color``; header stamp = sim time of the frame, frame_id
            ``camera_frame`` = the URDF's ``camera_optical_frame``), camera/camera_info
            (sensor_msgs/CameraInfo of the renderer's lens, same stamp and frame, published just before
            the image; see ``deepracer_description.frames.camera_intrinsics``), odom (nav_msgs/Odometry,
            ``odom_frame`` -> ``base_frame``), sim/track_markers (visualization_msgs/MarkerArray,
            transient local: borders, centre line, waypoints, start line), sim/path (nav_msgs/Path of
            the driven path, every ``path_every_n_frames`` frames), sim/lap_status (std_msgs/String
            JSON, every frame: no standard message carries the AWS episode fields).
TF:         /tf odom -> base_link every frame (``publish_tf``; the transform of the odom pose, same
            stamp). With ``publish_robot_tf`` (graphs without robot_state_publisher: the launch files
            set it unless ``robot_state_publisher:=true``) what robot_state_publisher would publish for
            the shipped URDF: the fixed joints once on /tf_static (transient local), the moving joints
            on /tf with every frame (steering hinges at the Ackermann angles of the frame's applied
            steering, wheels turned by the distance rolled: ``frames.drive_joint_transforms``), and the URDF text on
            robot_description (std_msgs/String, transient local: rviz's RobotModel). tf2_msgs is
            built in the workspace (src/tf2_msgs; no PyPI wheel carries it); where it is missing the
            node logs one line and publishes no TF.
Topic in:   sim/cmd_vel (geometry_msgs/Twist, cmd_vel semantics -> ``drive_from_twist``).
Service:    sim/reset (std_srvs/Trigger): new episode at the start line; the response message is
            JSON {"episode", "stamp_ns"} where stamp_ns is the stamp of the frame showing the start pose.

Clock: frame k carries the stamp ``t0 + k / 15 s`` where t0 is the wall time at start-up, so at
``rate_hz`` 15 the stamps follow the wall clock and at a higher rate they run ahead of it (sim time).
Odometry, lap status and image of one frame share the stamp (published in that order); the lap status
JSON repeats it as ``stamp_ns``. A Gym bridge pairs them by it.

Modes:
- timer (default): a frame every 1 / ``rate_hz`` wall seconds with the latest command (a command
  holds until the next one, like the car's servo). 15 = real time; 60 = 4x faster than real time.
- ``step_on_command``: lockstep for training through the Gym bridge. No timer: every sim/cmd_vel
  message advances exactly one frame and publishes it, so each action gets exactly one image, as
  fast as the trainer goes. Do not use it with the control node (it publishes at 50 Hz).

Lap status JSON keys: stamp_ns, frame, episode, progress (0-100 from the start line), steps,
lap_time_s (of the current lap), lap_count, last_lap_time_s, off_track_count, event (null, "reset",
"lap_complete", "off_track", "immobilized", "reversed", "time_up"), episode_status (AWS words, what the
env terminates on), x, y, yaw, speed_m_s, is_reversed, all_wheels_on_track, is_offtrack, stopped,
cmd_speed_m_s, cmd_steering_rad (the command applied in this frame). Progress and termination come
from the training env's episode rules (see ``deepracer_sim.sim_session``).

Start-up is all-or-nothing: an unknown track, a bad parameter or an invalid sim_config_file logs ONE
error naming it and the process exits with status 1.
"""
from __future__ import annotations

import dataclasses
import json
import math
import sys
import time
from typing import Any

import numpy as np
from geometry_msgs.msg import Point, PoseStamped, Quaternion, TransformStamped, Twist
from nav_msgs.msg import Odometry, Path as PathMsg
from rclpy.node import Node
from rclpy.time import Time
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import ColorRGBA, String
from std_srvs.srv import Trigger
from visualization_msgs.msg import Marker, MarkerArray

from deepracer_common.nodes.lifecycle import run_node
from deepracer_common.nodes.params import ParameterError, Spec, declare
from deepracer_description.frames import (CAMERA_OPTICAL_FRAME, FrameTransform, camera_intrinsics,
                                          drive_joint_transforms, joint_transforms)

from ..config import SimConfig, SimConfigError
from ..randomization import RandomizationConfig
from ..sim_session import FrameStatus, SessionError, SimSession

SPECS = [
    Spec("track", "reinvent2018_like", "built-in track name or a DeepRacer .npy path"),
    Spec("rate_hz", 15.0, "frames per wall-clock second in timer mode (15 = real time); "
                          "sim time per frame stays 1/15 s", range=(0.1, 1000.0), unit="Hz"),
    Spec("step_on_command", False, "lockstep: one frame per sim/cmd_vel message, no timer"),
    Spec("randomize", False, "every domain randomization option on (default strengths)"),
    Spec("sim_config_file", "", "YAML of SimConfig options (dynamics, color, randomization...)"),
    Spec("color", False, "publish rgb8 at the camera's sensor size instead of mono8 160x120"),
    Spec("seed", 0, "simulator random seed", range=(0, 2**31 - 1)),
    Spec("start_waypoint", 0, "waypoint index of the start line (driven direction)", range=(0, 100_000)),
    Spec("reverse", False, "drive the track in the opposite direction"),
    Spec("start_advance_fraction", 0.0, "each reset starts this fraction of a lap further "
                                        "(0.05 = AWS training round robin)", range=(0.0, 0.999)),
    Spec("reset_on_off_track", True, "put the car back at the start after it leaves the track"),
    Spec("odom_frame", "odom", "frame of odom, sim/path and sim/track_markers"),
    Spec("base_frame", "base_link", "child frame of odom"),
    Spec("camera_frame", CAMERA_OPTICAL_FRAME, "frame_id of the camera images and camera_info (a URDF frame)"),
    Spec("publish_tf", True, "publish odom_frame -> base_frame on /tf (when tf2_msgs is importable)"),
    Spec("publish_robot_tf", False, "also publish the URDF: fixed joints on /tf_static, moving joints on /tf, "
                                    "robot_description (when robot_state_publisher is not running)"),
    Spec("path_every_n_frames", 5, "publish sim/path every N frames", range=(1, 10_000)),
    Spec("path_max_poses", 2000, "poses kept in sim/path (oldest dropped)", range=(2, 1_000_000)),
]

#: Reliable, transient local, depth 1: late subscribers (rviz) get the track markers ("latched").
LATCHED_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)


class SimStartupError(RuntimeError):
    """The node cannot start; the message names the parameter, file or track."""


def yaw_quaternion(yaw_rad: float) -> Quaternion:
    """Rotation about z by ``yaw_rad`` (radians) as a geometry_msgs/Quaternion."""
    return Quaternion(x=0.0, y=0.0, z=math.sin(0.5 * yaw_rad), w=math.cos(0.5 * yaw_rad))


def transform_msg(t: FrameTransform, stamp: Any) -> TransformStamped:
    """A URDF joint transform (parent -> child, m and unit quaternion) as a TransformStamped."""
    ts = TransformStamped()
    ts.header.stamp, ts.header.frame_id, ts.child_frame_id = stamp, t.parent, t.child
    ts.transform.translation.x, ts.transform.translation.y, ts.transform.translation.z = t.translation
    ts.transform.rotation.x, ts.transform.rotation.y, ts.transform.rotation.z, ts.transform.rotation.w = t.rotation
    return ts


def load_sim_config(path: str, randomize: bool) -> SimConfig:
    """SimConfig from a YAML file ("" = defaults); ``randomize`` turns every randomization on."""
    try:
        config = SimConfig.load(path or None)
    except SimConfigError as exc:
        msg = str(exc)
        raise SimStartupError(msg if msg.startswith("config file") else f"sim_config_file {path}: {msg}") from None
    if randomize:
        config.randomization = RandomizationConfig.everything()
    return config


class SimNode(Node):
    """Runs a `SimSession` and speaks the sim topics (see the module docstring)."""

    def __init__(self, **node_kwargs: Any) -> None:
        super().__init__("sim_node", **node_kwargs)
        try:
            self._start()
        except BaseException:
            self.destroy_node()
            raise

    # -- start-up ----------------------------------------------------------------------------------
    def _declare(self) -> dict[str, Any]:
        try:
            return declare(self, SPECS)
        except ParameterError as exc:
            raise SimStartupError(str(exc)) from None

    def _start(self) -> None:
        from deepracer_tracks.library import load_track
        from deepracer_tracks.track import TrackError

        p = self.params = self._declare()
        for name in ("odom_frame", "base_frame", "camera_frame"):
            if not p[name].strip():
                raise SimStartupError(f"parameter {name}: must not be empty")
        try:
            track = load_track(p["track"])
        except TrackError as exc:
            raise SimStartupError(f"parameter track: {exc}") from None
        config = load_sim_config(p["sim_config_file"], p["randomize"])
        if p["color"]:
            from deepracer_description.vehicle import load_vehicle

            cam = load_vehicle().camera
            config = dataclasses.replace(config, color=True, output_width_px=cam.sensor_width_px,
                                         output_height_px=cam.sensor_height_px)
        try:
            self.session = SimSession(track, config=config, seed=p["seed"], start_waypoint=p["start_waypoint"],
                                      reverse=p["reverse"], start_advance_fraction=p["start_advance_fraction"],
                                      reset_on_off_track=p["reset_on_off_track"])
        except (SessionError, SimConfigError) as exc:
            raise SimStartupError(str(exc)) from None
        self.vehicle = self.session.vehicle
        self.encoding = "rgb8" if self.session.sim.channels == 3 else "mono8"
        self.t0_ns = time.time_ns()

        self.image_pub = self.create_publisher(Image, "camera/image_raw", qos_profile_sensor_data)
        self.info_pub = self.create_publisher(CameraInfo, "camera/camera_info", qos_profile_sensor_data)
        self.odom_pub = self.create_publisher(Odometry, "odom", 10)
        self.status_pub = self.create_publisher(String, "sim/lap_status", 50)
        self.path_pub = self.create_publisher(PathMsg, "sim/path", 10)
        self.marker_pub = self.create_publisher(MarkerArray, "sim/track_markers", LATCHED_QOS)
        self.create_subscription(Twist, "sim/cmd_vel", self._on_cmd_vel, 10)
        self.create_service(Trigger, "sim/reset", self._on_reset)
        self.path_msg = PathMsg()
        self.path_msg.header.frame_id = p["odom_frame"]
        self._path_poses: list[PoseStamped] = []
        self.frames_published = 0
        self._start_tf()
        self.marker_pub.publish(self.track_markers(track))
        self.timer = None
        if not p["step_on_command"]:
            self.timer = self.create_timer(1.0 / p["rate_hz"], self._on_timer)
        self._publish(self.session.status)          # the start frame
        mode = "lockstep (one frame per sim/cmd_vel)" if p["step_on_command"] else f"{p['rate_hz']} frames/s"
        self.get_logger().info(f"sim ready: track {track.name} ({track.length_m:.2f} m), {mode}, "
                               f"{self.encoding} {self.session.sim.width}x{self.session.sim.height}")

    def _start_tf(self) -> None:
        """/tf (odom -> base_link, moving URDF joints), /tf_static (fixed URDF joints) and
        robot_description publishers, where tf2_msgs is importable."""
        self.tf_pub = self.tf_static_pub = None
        self._urdf_joints: tuple[FrameTransform, ...] = ()
        self._wheel_angle_rad = 0.0
        p = self.params
        if not (p["publish_tf"] or p["publish_robot_tf"]):
            return
        try:
            from tf2_msgs.msg import TFMessage
        except ImportError:
            self.get_logger().info("tf2_msgs is not importable: no /tf from the sim node (odom -> base_link is on odom); "
                                   "colcon build the workspace (src/tf2_msgs) and source install/setup.bash")
            return
        self._tf_message = TFMessage
        self.tf_pub = self.create_publisher(TFMessage, "/tf", 100)
        if p["publish_robot_tf"]:
            from deepracer_description.vehicle import default_urdf_path

            joints = self._urdf_joints = joint_transforms()
            self.tf_static_pub = self.create_publisher(TFMessage, "/tf_static", LATCHED_QOS)
            stamp = Time(nanoseconds=self.t0_ns).to_msg()
            self.tf_static_pub.publish(TFMessage(transforms=[transform_msg(t, stamp) for t in joints if t.static]))
            self.description_pub = self.create_publisher(String, "robot_description", LATCHED_QOS)
            self.description_pub.publish(String(data=default_urdf_path().read_text()))

    def camera_info(self, stamp: Any) -> CameraInfo:
        """camera_info of the frame being rendered: the renderer's current lens (after any camera jitter)."""
        rays = self.session.sim.camera_rays(0)
        intr = camera_intrinsics(rays.width, rays.height, rays.horizontal_fov_rad, rays.model)
        info = CameraInfo()
        info.header.stamp, info.header.frame_id = stamp, self.params["camera_frame"]
        info.width, info.height = intr.width, intr.height
        info.distortion_model = intr.distortion_model
        info.d, info.k, info.r, info.p = list(intr.d), list(intr.k), list(intr.r), list(intr.p)
        return info

    # -- callbacks ---------------------------------------------------------------------------------
    def _on_cmd_vel(self, msg: Twist) -> None:
        try:
            speed, steering = self.vehicle.drive_from_twist(msg.linear.x, msg.angular.z)
        except ValueError as exc:
            self.get_logger().warn(f"sim/cmd_vel ignored: {exc}", throttle_duration_sec=1.0)
            return
        self.session.set_command(speed, steering)
        if self.params["step_on_command"]:
            self._publish(self.session.step())

    def _on_timer(self) -> None:
        self._publish(self.session.step())

    def _on_reset(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        status = self.session.reset()
        self._path_poses.clear()
        stamp_ns = self._publish(status)
        if self.timer is not None:
            self.timer.reset()      # a full period before the next frame
        response.success = True
        response.message = json.dumps({"episode": status.episode, "stamp_ns": stamp_ns})
        return response

    # -- publishing --------------------------------------------------------------------------------
    def stamp_ns(self, status: FrameStatus) -> int:
        """Header stamp (ns) of a frame: start-up wall time + sim time of the frame."""
        return self.t0_ns + int(round(status.frame * self.session.dt_s * 1e9))

    def _publish(self, status: FrameStatus) -> int:
        """Publish odometry, lap status and image of the latest frame (that order); returns its stamp (ns)."""
        p = self.params
        stamp_ns = self.stamp_ns(status)
        stamp = Time(nanoseconds=stamp_ns).to_msg()

        odom = Odometry()
        odom.header.stamp = stamp
        odom.header.frame_id = p["odom_frame"]
        odom.child_frame_id = p["base_frame"]
        odom.pose.pose.position.x, odom.pose.pose.position.y = status.x, status.y
        odom.pose.pose.orientation = yaw_quaternion(status.yaw)
        odom.twist.twist.linear.x = status.speed_m_s
        odom.twist.twist.linear.y = status.lateral_speed_m_s
        odom.twist.twist.angular.z = status.yaw_rate_rad_s
        self.odom_pub.publish(odom)
        if self.tf_pub is not None:
            transforms = []
            if self._urdf_joints:
                self._wheel_angle_rad = math.remainder(
                    self._wheel_angle_rad + status.speed_m_s * self.session.dt_s / self.vehicle.wheel_radius_m, math.tau)
                transforms = [transform_msg(t, stamp) for t in drive_joint_transforms(
                    self._urdf_joints, self.vehicle, status.cmd_steering_rad, self._wheel_angle_rad)]
            if p["publish_tf"]:
                ts = TransformStamped(header=odom.header, child_frame_id=odom.child_frame_id)
                ts.transform.translation.x, ts.transform.translation.y = status.x, status.y
                ts.transform.rotation = odom.pose.pose.orientation
                transforms.insert(0, ts)
            if transforms:
                self.tf_pub.publish(self._tf_message(transforms=transforms))

        payload = status.to_dict()
        payload["stamp_ns"] = stamp_ns
        self.status_pub.publish(String(data=json.dumps(payload)))
        if status.event:
            self.get_logger().info(f"{status.event}: progress {status.progress:.1f} %, lap {status.lap_count}, "
                                   f"last lap {status.last_lap_time_s}, off track {status.off_track_count}")

        pixels = self.session.render()
        img = Image()
        img.header.stamp = stamp
        img.header.frame_id = p["camera_frame"]
        img.height, img.width = int(pixels.shape[0]), int(pixels.shape[1])
        img.encoding = self.encoding
        img.step = int(pixels.shape[1] * (3 if pixels.ndim == 3 else 1))
        img.data = np.ascontiguousarray(pixels).tobytes()
        self.info_pub.publish(self.camera_info(stamp))
        self.image_pub.publish(img)

        pose = PoseStamped()
        pose.header = odom.header
        pose.pose = odom.pose.pose
        self._path_poses.append(pose)
        if len(self._path_poses) > p["path_max_poses"]:
            del self._path_poses[0]
        self.frames_published += 1
        if self.frames_published % p["path_every_n_frames"] == 0 or status.event == "reset":
            self.path_msg.header.stamp = stamp
            self.path_msg.poses = self._path_poses
            self.path_pub.publish(self.path_msg)
        return stamp_ns

    def track_markers(self, track: Any) -> MarkerArray:
        """Borders (white), centre line (yellow), waypoints (grey spheres) and the start line (green)."""
        frame = self.params["odom_frame"]
        driven = self.session.tracks[int(self.params["reverse"])]

        def marker(mid: int, ns: str, kind: int, points: np.ndarray, rgba: tuple, width: float) -> Marker:
            m = Marker(ns=ns, id=mid, type=kind, action=Marker.ADD)
            m.header.frame_id = frame
            m.pose.orientation.w = 1.0
            m.scale.x = m.scale.y = m.scale.z = width
            m.color = ColorRGBA(r=rgba[0], g=rgba[1], b=rgba[2], a=rgba[3])
            m.points = [Point(x=float(px), y=float(py), z=0.0) for px, py in points]
            return m

        def loop(pts: np.ndarray) -> np.ndarray:
            return np.vstack([pts, pts[:1]]) if track.closed else pts

        s = self.session.rules.start_s_m[0]
        start_xy, heading = driven.pose_at(np.array([s]))
        normal = np.array([-math.sin(heading[0]), math.cos(heading[0])])
        half = 0.5 * float(driven.width_m)
        start_line = np.vstack([start_xy[0] - half * normal, start_xy[0] + half * normal])
        arr = MarkerArray()
        arr.markers = [
            marker(0, "borders", Marker.LINE_STRIP, loop(track.inner), (1.0, 1.0, 1.0, 1.0), 0.05),
            marker(1, "borders", Marker.LINE_STRIP, loop(track.outer), (1.0, 1.0, 1.0, 1.0), 0.05),
            marker(2, "centre_line", Marker.LINE_STRIP, loop(track.centre), (1.0, 0.85, 0.0, 1.0), 0.02),
            marker(3, "waypoints", Marker.SPHERE_LIST, track.centre, (0.6, 0.6, 0.6, 0.8), 0.04),
            marker(4, "start_line", Marker.LINE_LIST, start_line, (0.0, 0.9, 0.2, 1.0), 0.05),
        ]
        return arr


def main(argv: list[str] | None = None) -> int:
    """Entry point (``ros2 run deepracer_sim sim_node``); returns the exit status."""
    return run_node(SimNode, "sim_node", (SimStartupError,), argv)


if __name__ == "__main__":
    sys.exit(main())
