"""gz_referee_node: the sim node's episode referee for the car in Gazebo (sim/lap_status, sim/reset).

Names are relative (the node's namespace), except /clock (global, as gz bridges it).

Under Gazebo (launch/gazebo.launch.xml) gz-sim moves the car and renders the camera; this node adds
what the Gym bridge needs from the embedded sim node, with THE same rules (`SimSession` on an
`ExternalCar`, deepracer_sim.gz_referee):

Subscribes: odom (nav_msgs/Odometry, bridged from gz OdometryPublisher: the pose the rules judge),
            camera/image_raw (sensor_msgs/Image, sensor QoS: one rules step per frame),
            sim/cmd_vel (geometry_msgs/Twist: echoed as cmd_speed_m_s / cmd_steering_rad),
            /clock (rosgraph_msgs/Clock, bridged: when a teleport took effect).
Publishes:  sim/lap_status (std_msgs/String JSON, the sim node's keys, stamp_ns = the image's stamp).
Service:    sim/reset (std_srvs/Trigger): new episode at the start line: the car is moved there with
            ``gz service -s /world/<world>/set_pose`` and the answer JSON {"episode", "stamp_ns"} names
            the first camera frame after the move (its lap status is the reset one). An off-track
            frame (reset_on_off_track) moves the car back the same way.
Parameters (read-only): track, world (default: the track's model name), model_name, reset_on_off_track,
max_steps, spawn_z_m, gz_command, start_timeout_s.
"""
from __future__ import annotations

import json
import math
import subprocess
import sys
import threading

from geometry_msgs.msg import Twist
from nav_msgs.msg import Odometry
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import Image
from std_msgs.msg import String
from std_srvs.srv import Trigger

from deepracer_common.nodes.lifecycle import run_node
from deepracer_common.nodes.params import ParameterError, Spec, declare
from deepracer_description.vehicle import load_vehicle
from deepracer_tracks.library import load_track
from deepracer_tracks.track import TrackError

from ..gazebo import CAR_MODEL, SPAWN_Z_M, model_name
from ..gz_referee import ExternalCar, set_pose_command
from ..sim_session import FrameStatus, SessionError, SimSession

SPECS = (
    Spec("track", "reinvent2018_like", "built-in track name or DeepRacer .npy file (the world's track)"),
    Spec("world", "", "gz world name (empty: the track's model name, as deepracer gazebo world names it)"),
    Spec("model_name", CAR_MODEL, "gz model name of the car (ros_gz_sim create -name)"),
    Spec("reset_on_off_track", True, "move the car back to the start after it leaves the track"),
    Spec("max_steps", 10000, "frames per lap before time_up", range=(1, 10_000_000)),
    Spec("spawn_z_m", SPAWN_Z_M, "height the car is placed at on a reset", range=(0.0, 1.0), unit="m"),
    Spec("gz_command", "gz", "the gz command line tool (gz service moves the car)"),
    Spec("start_timeout_s", 5.0, "how long /sim/reset waits for the first frame after the move",
         range=(0.1, 120.0), unit="s"),
)


def _stamp_ns(stamp) -> int:
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


class GzRefereeNode(Node):
    def __init__(self) -> None:
        super().__init__("gz_referee_node", automatically_declare_parameters_from_overrides=False)
        p = self.params = declare(self, SPECS)
        try:
            track = load_track(p["track"])
        except (TrackError, OSError) as exc:
            raise ParameterError(f"parameter track: {exc}") from None
        self.vehicle = load_vehicle()
        self.car = ExternalCar(track, self.vehicle, 1.0 / self.vehicle.camera.rate_hz)
        try:
            self.session = SimSession(track, vehicle=self.vehicle, car=self.car, max_steps=p["max_steps"],
                                      reset_on_off_track=p["reset_on_off_track"])
        except SessionError as exc:
            raise ParameterError(str(exc)) from None
        self.world = p["world"] or model_name(track)
        self.lock = threading.Lock()
        self.clock_ns = 0
        self.last_image_ns = 0
        self._awaiting: FrameStatus | None = None   # reset status to publish with the first frame after a move
        self._after_ns = 0                          # ... whose stamp is later than this
        self._start_stamp_ns = 0
        self._started = threading.Event()
        self._resets = 0                            # /sim/reset calls: a newer one wins over an off-track move
        self.status_pub = self.create_publisher(String, "sim/lap_status", 50)
        frames = MutuallyExclusiveCallbackGroup()
        self.create_subscription(Odometry, "odom", self._on_odom, 50, callback_group=frames)
        self.create_subscription(Image, "camera/image_raw", self._on_image, qos_profile_sensor_data,
                                 callback_group=frames)
        self.create_subscription(Twist, "sim/cmd_vel", self._on_cmd_vel, 10, callback_group=frames)
        self.create_subscription(Clock, "/clock", self._on_clock, 10, callback_group=frames)
        self.create_service(Trigger, "sim/reset", self._on_reset, callback_group=MutuallyExclusiveCallbackGroup())
        self.car.take_teleport()                    # the spawn pose is the first start: nothing to move
        self.get_logger().info(f"gz referee ready: track {track.name} ({track.length_m:.2f} m), "
                               f"world {self.world}, model {p['model_name']}")

    # -- callbacks ---------------------------------------------------------------------------------
    def _on_clock(self, msg: Clock) -> None:
        self.clock_ns = _stamp_ns(msg.clock)

    def _on_odom(self, msg: Odometry) -> None:
        q = msg.pose.pose.orientation
        yaw = math.atan2(2.0 * (q.w * q.z + q.x * q.y), 1.0 - 2.0 * (q.y * q.y + q.z * q.z))
        t = msg.twist.twist
        try:
            with self.lock:
                self.car.set_pose(msg.pose.pose.position.x, msg.pose.pose.position.y, yaw, t.linear.x,
                                  t.angular.z, t.linear.y)
        except ValueError as exc:
            self.get_logger().warn(f"odom ignored: {exc}", throttle_duration_sec=1.0)

    def _on_cmd_vel(self, msg: Twist) -> None:
        try:
            speed, steering = self.vehicle.drive_from_twist(msg.linear.x, msg.angular.z)
            with self.lock:
                self.session.set_command(speed, steering)
        except ValueError as exc:
            self.get_logger().warn(f"sim/cmd_vel ignored: {exc}", throttle_duration_sec=1.0)

    def _on_image(self, msg: Image) -> None:
        stamp_ns = _stamp_ns(msg.header.stamp)
        with self.lock:
            self.last_image_ns = max(self.last_image_ns, stamp_ns)
            if self._awaiting is not None:
                if stamp_ns <= self._after_ns:
                    return                          # rendered before the car was moved: not a frame of this episode
                status, self._awaiting = self._awaiting, None
                self._start_stamp_ns = stamp_ns
                self._publish(status, stamp_ns)
                self._started.set()
                return
            status = self.session.step()
            pose = self.car.take_teleport()
            if pose is None:
                self._publish(status, stamp_ns)
                return
            resets = self._resets
        # the frame after an off-track one started a new episode: move the car, and publish the
        # start status with the first frame rendered after the move (unless /sim/reset came meanwhile)
        if self._move(pose):
            with self.lock:
                if self._resets == resets:
                    self._awaiting, self._after_ns = status, max(self.clock_ns, stamp_ns)

    def _on_reset(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        with self.lock:
            self._resets += 1
            status = self.session.reset()
            pose = self.car.take_teleport()
            self._awaiting = None
        if pose is None or not self._move(pose):
            response.success = False
            response.message = f"could not move {self.params['model_name']} in gz world {self.world} (see the log)"
            return response
        self._started.clear()
        with self.lock:
            self._awaiting, self._after_ns = status, max(self.clock_ns, self.last_image_ns)
        if not self._started.wait(self.params["start_timeout_s"]):
            response.success = False
            response.message = f"no camera frame within {self.params['start_timeout_s']} s after the reset"
            return response
        response.success = True
        response.message = json.dumps({"episode": status.episode, "stamp_ns": self._start_stamp_ns})
        return response

    # -- helpers -----------------------------------------------------------------------------------
    def _move(self, pose: tuple[float, float, float]) -> bool:
        """Teleport the car with gz service; True on success (failures are logged)."""
        p = self.params
        argv = set_pose_command(self.world, p["model_name"], pose[0], pose[1], p["spawn_z_m"], pose[2],
                                gz=p["gz_command"])
        try:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired) as exc:
            self.get_logger().error(f"gz set_pose failed: {exc}")
            return False
        if out.returncode != 0 or "data: true" not in out.stdout:
            self.get_logger().error(f"gz set_pose failed (exit {out.returncode}): {(out.stdout + out.stderr).strip()}")
            return False
        return True

    def _publish(self, status: FrameStatus, stamp_ns: int) -> None:
        payload = status.to_dict()
        payload["stamp_ns"] = stamp_ns
        self.status_pub.publish(String(data=json.dumps(payload)))
        if status.event:
            self.get_logger().info(f"{status.event}: progress {status.progress:.1f} %, lap {status.lap_count}, "
                                   f"off track {status.off_track_count}")


def main(argv: list[str] | None = None) -> int:
    """Entry point (``ros2 run deepracer_sim gz_referee_node``); returns the exit status."""
    return run_node(GzRefereeNode, "gz_referee_node", (), argv, executor=lambda: MultiThreadedExecutor(num_threads=2))


if __name__ == "__main__":
    sys.exit(main())
