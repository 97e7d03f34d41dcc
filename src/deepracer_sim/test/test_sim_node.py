"""The sim node through real rclpy publish/subscribe: topics, stamps, QoS, drive command, reset,
lockstep mode, colour images, and clear start-up errors."""
from __future__ import annotations

import json
import math
import subprocess
import sys
import time

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")

from geometry_msgs.msg import Twist  # noqa: E402
from nav_msgs.msg import Odometry, Path  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import qos_profile_sensor_data  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image  # noqa: E402
from std_msgs.msg import String  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402
from visualization_msgs.msg import MarkerArray  # noqa: E402

from deepracer_sim.nodes.sim_node import LATCHED_QOS, SimNode, SimStartupError  # noqa: E402


def _ns(stamp) -> int:
    return stamp.sec * 1_000_000_000 + stamp.nanosec


class Graph:
    """A SimNode and a probe node on one executor (this thread)."""

    def __init__(self, **params):
        rclpy.init()
        overrides = [Parameter(k, value=v) for k, v in {"track": "oval", **params}.items()]
        self.sim = SimNode(parameter_overrides=overrides)
        self.probe = Node("sim_probe")
        self.images: list[Image] = []
        self.status: list[dict] = []
        self.odom: list[Odometry] = []
        self.paths: list[Path] = []
        self.probe.create_subscription(Image, "/camera/image_raw", self.images.append, qos_profile_sensor_data)
        self.probe.create_subscription(String, "/sim/lap_status", lambda m: self.status.append(json.loads(m.data)), 50)
        self.probe.create_subscription(Odometry, "/odom", self.odom.append, 50)
        self.probe.create_subscription(Path, "/sim/path", self.paths.append, 10)
        self.cmd = self.probe.create_publisher(Twist, "/sim/cmd_vel", 10)
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.sim)
        self.executor.add_node(self.probe)

    def spin_until(self, predicate, timeout_s: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.executor.spin_once(timeout_sec=0.02)
            if predicate():
                return True
        return False

    def close(self):
        self.executor.shutdown()
        self.probe.destroy_node()
        self.sim.destroy_node()
        rclpy.try_shutdown()


@pytest.fixture
def graph_factory():
    made = []

    def make(**params):
        g = Graph(**params)
        made.append(g)
        return g

    yield make
    for g in made:
        g.close()


def test_frames_odometry_status_share_stamps_and_the_car_drives(graph_factory):
    g = graph_factory(rate_hz=30.0, path_every_n_frames=2)
    assert g.spin_until(lambda: len(g.images) >= 6 and len(g.status) >= 6)
    g.spin_until(lambda: False, 0.2)        # the other topics of the last frames (one callback per spin)
    img = g.images[-1]
    assert (img.encoding, img.width, img.height, img.step, img.header.frame_id) == ("mono8", 160, 120, 160, "camera_optical_frame")
    assert len(img.data) == 160 * 120
    pixels = np.frombuffer(bytes(img.data), np.uint8)
    assert pixels.min() < 80 < pixels.max()                     # dark road and bright lines / sky
    by_stamp = {s["stamp_ns"]: s for s in g.status}
    odom_stamps = {_ns(o.header.stamp) for o in g.odom}
    matched = [i for i in g.images[:-1] if _ns(i.header.stamp) in by_stamp]
    assert len(matched) >= 5
    assert all(_ns(i.header.stamp) in odom_stamps for i in matched)
    frames = sorted(by_stamp.values(), key=lambda s: s["frame"])
    steps = np.diff([s["stamp_ns"] for s in frames]) / np.diff([s["frame"] for s in frames])
    assert np.allclose(steps, 1e9 / 15.0, atol=2)               # sim time: 1/15 s per frame at any rate
    assert g.odom[-1].header.frame_id == "odom" and g.odom[-1].child_frame_id == "base_link"
    assert frames[-1]["stopped"] and g.odom[-1].twist.twist.linear.x == 0.0

    x0 = g.odom[-1].pose.pose.position.x
    t = Twist()
    t.linear.x = 1.0
    assert g.spin_until(lambda: (g.cmd.publish(t), g.odom[-1].twist.twist.linear.x > 0.5)[1])
    assert g.spin_until(lambda: g.odom[-1].pose.pose.position.x > x0 + 0.2)
    last = g.status[-1]
    assert last["cmd_speed_m_s"] == pytest.approx(1.0) and last["cmd_steering_rad"] == pytest.approx(0.0)
    assert last["progress"] > frames[0]["progress"]
    assert g.paths and g.paths[-1].header.frame_id == "odom" and len(g.paths[-1].poses) >= 3


def test_camera_info_matches_the_renderer_and_shares_the_image_stamp(graph_factory):
    g = graph_factory(rate_hz=30.0)
    infos: list[CameraInfo] = []
    g.probe.create_subscription(CameraInfo, "/camera/camera_info", infos.append, qos_profile_sensor_data)
    assert g.spin_until(lambda: len(infos) >= 3 and len(g.images) >= 3)
    info = infos[-1]
    assert (info.width, info.height, info.header.frame_id, info.distortion_model) == \
        (160, 120, "camera_optical_frame", "plumb_bob")
    assert {_ns(i.header.stamp) for i in infos} & {_ns(i.header.stamp) for i in g.images}
    rays = g.sim.session.sim.camera_rays(0)
    K = np.array(info.k).reshape(3, 3)
    # a ground point ahead of the car: the renderer's projection (pixel centres at j + 0.5) and K's
    # (pixel centres at integers) agree to within float error
    point = np.array([[rays.origin[0] + 0.8, rays.origin[1] + 0.1, 0.0]])     # on the ground, ahead
    uv, visible = rays.project(point)
    u, v, w = K @ rays.car_to_optical(point[0] - rays.origin)
    assert visible[0]
    assert (u / w + 0.5, v / w + 0.5) == pytest.approx(tuple(uv[0]), abs=1e-6)


def test_two_namespaced_sims_in_one_domain_do_not_cross_talk():
    rclpy.init()
    try:
        sims = [SimNode(namespace=ns, parameter_overrides=[Parameter("track", value="oval"),
                                                            Parameter("rate_hz", value=30.0)])
                for ns in ("car1", "car2")]
        probe = Node("ns_probe")
        odom = {"car1": [], "car2": []}
        for ns in odom:
            probe.create_subscription(Odometry, f"/{ns}/odom", odom[ns].append, 50)
        cmd = probe.create_publisher(Twist, "/car1/sim/cmd_vel", 10)
        assert probe.count_subscribers("/sim/cmd_vel") == 0
        ex = SingleThreadedExecutor()
        for n in (*sims, probe):
            ex.add_node(n)
        t = Twist()
        t.linear.x = 1.0
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline and not (odom["car1"] and odom["car1"][-1].twist.twist.linear.x > 0.5):
            cmd.publish(t)
            ex.spin_once(timeout_sec=0.02)
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline and len(odom["car2"]) < 5:
            ex.spin_once(timeout_sec=0.02)
        assert odom["car1"][-1].twist.twist.linear.x > 0.5
        assert len(odom["car2"]) >= 5 and all(o.twist.twist.linear.x == 0.0 for o in odom["car2"])
        ex.shutdown()
        for n in (*sims, probe):
            n.destroy_node()
    finally:
        rclpy.try_shutdown()


def test_tf_odom_to_base_link_matches_the_sim_pose(graph_factory):
    """/tf through rclpy (tf2_msgs built in the workspace): odom -> base_link every frame, the
    translation and rotation of that frame's odometry pose and its stamp; no URDF frames by default."""
    from tf2_msgs.msg import TFMessage

    g = graph_factory(rate_hz=30.0)
    tfs: list[TFMessage] = []
    g.probe.create_subscription(TFMessage, "/tf", tfs.append, 100)
    t = Twist()
    t.linear.x, t.angular.z = 1.0, 0.5
    assert g.spin_until(lambda: (g.cmd.publish(t), bool(g.odom) and g.odom[-1].twist.twist.linear.x > 0.5)[1])

    def driven_m() -> float:
        a, b = tfs[0].transforms[0].transform.translation, tfs[-1].transforms[0].transform.translation
        return math.hypot(b.x - a.x, b.y - a.y)

    assert g.spin_until(lambda: len(tfs) >= 5 and driven_m() > 0.1, 15.0)     # the car drove: TF follows
    g.spin_until(lambda: False, 0.2)
    by_stamp = {_ns(o.header.stamp): o for o in g.odom}
    matched = 0
    for msg in tfs:
        assert [(ts.header.frame_id, ts.child_frame_id) for ts in msg.transforms] == [("odom", "base_link")]
        ts = msg.transforms[0]
        odom = by_stamp.get(_ns(ts.header.stamp))
        if odom is None:
            continue
        pose = odom.pose.pose
        assert (ts.transform.translation.x, ts.transform.translation.y, ts.transform.translation.z) == \
            (pose.position.x, pose.position.y, 0.0)
        assert (ts.transform.rotation.z, ts.transform.rotation.w) == (pose.orientation.z, pose.orientation.w)
        matched += 1
    assert matched >= 3
    assert g.sim.tf_static_pub is None                                               # publish_robot_tf off


def test_robot_tf_and_description_for_graphs_without_robot_state_publisher(graph_factory):
    """publish_robot_tf: the URDF's fixed joints on /tf_static (late subscribers get them), the
    moving joints at 0 on /tf with odom -> base_link, the URDF on robot_description; together a
    tree from odom down to camera_optical_frame (the image frame_id)."""
    from tf2_msgs.msg import TFMessage

    from deepracer_description.frames import CAMERA_OPTICAL_FRAME, joint_transforms, pose_in_base
    from deepracer_description.vehicle import default_urdf_path

    g = graph_factory(rate_hz=30.0, publish_robot_tf=True)
    assert g.spin_until(lambda: len(g.images) >= 2)
    static: list[TFMessage] = []
    dynamic: list[TFMessage] = []
    described: list[String] = []
    g.probe.create_subscription(TFMessage, "/tf_static", static.append, LATCHED_QOS)    # subscribed late
    g.probe.create_subscription(TFMessage, "/tf", dynamic.append, 100)
    g.probe.create_subscription(String, "/robot_description", described.append, LATCHED_QOS)
    assert g.spin_until(lambda: static and dynamic and described, 10.0)
    joints = joint_transforms()
    fixed = {(t.parent, t.child): t for t in joints if t.static}
    got = {(ts.header.frame_id, ts.child_frame_id): ts for ts in static[0].transforms}
    assert set(got) == set(fixed)
    for key, t in fixed.items():
        tr, q = got[key].transform.translation, got[key].transform.rotation
        assert (tr.x, tr.y, tr.z) == pytest.approx(t.translation) and (q.x, q.y, q.z, q.w) == pytest.approx(t.rotation)
    moving = {(ts.header.frame_id, ts.child_frame_id) for ts in dynamic[-1].transforms}
    assert moving == {("odom", "base_link")} | {(t.parent, t.child) for t in joints if not t.static}
    assert len({_ns(ts.header.stamp) for ts in dynamic[-1].transforms}) == 1        # one frame, one stamp
    # every link reaches odom; the image's frame is one of them
    parent = {child: par for par, child in set(got) | moving}
    assert g.images[-1].header.frame_id == CAMERA_OPTICAL_FRAME
    for link in parent:
        chain, frame = 0, link
        while frame != "odom":
            frame, chain = parent[frame], chain + 1
            assert chain < 20, f"{link}: no path to odom"
    assert pose_in_base(joints, CAMERA_OPTICAL_FRAME)[2, 3] > 0.05                  # the camera sits above base_link
    assert described[0].data == default_urdf_path().read_text()

    # driving: the hinges follow the frame's applied steering (Ackermann angles), the wheels roll
    from deepracer_description.frames import ackermann_hinge_angles

    t = Twist()
    t.linear.x, t.angular.z = 1.0, 1.5
    assert g.spin_until(lambda: (g.cmd.publish(t), bool(g.status) and g.status[-1]["cmd_steering_rad"] > 0.1
                                 and g.status[-1]["speed_m_s"] > 0.5)[1], 10.0)
    g.spin_until(lambda: False, 0.3)
    by_stamp = {_ns(m.transforms[0].header.stamp): m for m in dynamic}
    frames = [st for st in g.status if st["stamp_ns"] in by_stamp and st["cmd_steering_rad"] > 0.1]
    assert frames, "no /tf message shares a stamp with a steered frame"
    frame = frames[-1]
    got = {ts.child_frame_id: ts.transform.rotation for ts in by_stamp[frame["stamp_ns"]].transforms}
    vehicle = g.sim.vehicle
    left, right = ackermann_hinge_angles(frame["cmd_steering_rad"], vehicle.wheelbase_m, vehicle.track_width_m)
    by_joint = {t.joint: t for t in joints}
    for joint, angle in (("left_steering_hinge_joint", left), ("right_steering_hinge_joint", right)):
        q = got[by_joint[joint].child]
        assert (q.x, q.y, q.z, q.w) == pytest.approx(by_joint[joint].at(angle).rotation, abs=1e-9), joint
    assert left > right > 0.0                                                       # turning left: inner wheel more
    wheel, rest = got["left_rear_wheel"], by_joint["left_rear_wheel_joint"].rotation
    assert max(abs(a - b) for a, b in zip((wheel.x, wheel.y, wheel.z, wheel.w), rest)) > 1e-3   # the wheel rolled


def test_track_markers_are_latched_for_late_subscribers(graph_factory):
    g = graph_factory(rate_hz=15.0)
    g.spin_until(lambda: len(g.status) >= 3)
    got: list[MarkerArray] = []
    g.probe.create_subscription(MarkerArray, "/sim/track_markers", got.append, LATCHED_QOS)
    assert g.spin_until(lambda: bool(got), 5.0), "a late transient-local subscriber must get the markers"
    markers = {m.ns: m for m in got[0].markers}
    assert set(markers) == {"borders", "centre_line", "waypoints", "start_line"}
    assert all(m.header.frame_id == "odom" for m in got[0].markers)
    track = g.sim.session.track
    assert len(markers["waypoints"].points) == len(track.centre)
    assert len(markers["centre_line"].points) == len(track.centre) + 1      # closed loop
    assert len(markers["start_line"].points) == 2


def test_reset_service_returns_the_start_frame_stamp(graph_factory):
    g = graph_factory(rate_hz=30.0)
    t = Twist()
    t.linear.x = 1.5
    g.spin_until(lambda: (g.cmd.publish(t), len(g.status) > 20)[1])
    assert g.status[-1]["progress"] > 3.0
    client = g.probe.create_client(Trigger, "/sim/reset")
    assert client.wait_for_service(timeout_sec=5.0)
    future = client.call_async(Trigger.Request())
    assert g.spin_until(future.done)
    answer = json.loads(future.result().message)
    assert future.result().success and answer["episode"] == 2
    assert g.spin_until(lambda: any(s["stamp_ns"] == answer["stamp_ns"] for s in g.status))
    start = next(s for s in g.status if s["stamp_ns"] == answer["stamp_ns"])
    assert start["event"] == "reset" and start["steps"] == 0 and start["progress"] < 2.0 and start["stopped"]
    assert g.spin_until(lambda: any(_ns(i.header.stamp) == answer["stamp_ns"] for i in g.images))


def test_lockstep_one_frame_per_command(graph_factory):
    g = graph_factory(step_on_command=True)
    g.spin_until(lambda: False, 0.5)                            # no commands: no frames after the start one
    before = len(g.status)
    assert before <= 1
    t = Twist()
    t.linear.x = 1.0
    for k in range(5):
        g.cmd.publish(t)
        assert g.spin_until(lambda: len(g.status) == before + k + 1, 5.0)
    g.spin_until(lambda: False, 0.3)
    assert len(g.status) == before + 5
    frames = [s["frame"] for s in g.status[-5:]]
    assert frames == list(range(frames[0], frames[0] + 5))


def test_color_images_at_camera_resolution(graph_factory):
    g = graph_factory(color=True, rate_hz=15.0)
    assert g.spin_until(lambda: bool(g.images), 10.0)
    img = g.images[-1]
    assert (img.encoding, img.width, img.height, img.step) == ("rgb8", 640, 480, 640 * 3)
    assert len(img.data) == 640 * 480 * 3


def test_randomize_turns_every_option_on(graph_factory):
    g = graph_factory(randomize=True, rate_hz=30.0, seed=3)
    names = g.sim.session.sim.config.randomization.enabled_names
    assert "lighting" in names and "camera_pose" in names and "latency" in names
    assert g.spin_until(lambda: len(g.images) >= 2, 10.0)


@pytest.mark.parametrize("params, message", [
    ({"track": "no_such_track"}, "parameter track: unknown track 'no_such_track'"),
    ({"rate_hz": 0.0}, "parameter rate_hz"),
    ({"start_waypoint": 100_000}, "start_waypoint: must be in [0, 106]"),
    ({"odom_frame": " "}, "parameter odom_frame: must not be empty"),
    ({"rate_hz": "fast"}, "parameter rate_hz = 'fast' must be a number"),
    ({"rate_hzz": 30.0}, "sim_node: unknown parameter rate_hzz (did you mean 'rate_hz'?)"),
])
def test_bad_parameters_are_refused_by_name(params, message):
    rclpy.init()
    try:
        with pytest.raises(SimStartupError) as err:
            SimNode(parameter_overrides=[Parameter(k, value=v) for k, v in {"track": "oval", **params}.items()])
        assert message in str(err.value)
    finally:
        rclpy.try_shutdown()


def test_bad_sim_config_file_names_the_option(tmp_path):
    bad = tmp_path / "sim.yaml"
    bad.write_text("dynamics: kinematic\nsubstepz: 3\n")
    rclpy.init()
    try:
        with pytest.raises(SimStartupError, match="substepz: unknown key"):
            SimNode(parameter_overrides=[Parameter("track", value="oval"),
                                         Parameter("sim_config_file", value=str(bad))])
    finally:
        rclpy.try_shutdown()


def test_unknown_track_exits_nonzero_with_one_clear_line():
    result = subprocess.run([sys.executable, "-m", "deepracer_sim.nodes.sim_node", "--ros-args", "-p",
                             "track:=nowhere"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    out = result.stdout + result.stderr
    assert "unknown track 'nowhere'" in out and "Traceback" not in out


def test_an_integer_rate_is_accepted_for_the_double_parameter(graph_factory):
    g = graph_factory(rate_hz=60, seed=1)              # rate:=60 in a launch file is an INTEGER
    assert g.sim.params["rate_hz"] == 60.0 and isinstance(g.sim.params["rate_hz"], float)
    assert g.sim.get_parameter("rate_hz").type_ == Parameter.Type.DOUBLE
    assert g.spin_until(lambda: len(g.images) >= 2, 10.0)


def _start_sim_node_until_ready(rate_hz: str) -> tuple[subprocess.Popen, list[str]]:
    """`python -m deepracer_sim.nodes.sim_node` on the oval at `rate_hz` (as typed on a command line),
    read until its "sim ready" line (or 60 s, or EOF); the process and the lines read so far."""
    proc = subprocess.Popen([sys.executable, "-m", "deepracer_sim.nodes.sim_node", "--ros-args", "-p", "track:=oval",
                             "-p", f"rate_hz:={rate_hz}"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "sim ready" in line:
                break
    except BaseException:
        proc.kill()
        raise
    return proc, lines


def test_rate_60_on_the_command_line_starts_the_node():
    # the reported bug: `-p rate_hz:=60` (rcl types it INTEGER) made the node exit "expecting type DOUBLE"
    proc, lines = _start_sim_node_until_ready("60")
    proc.terminate()
    proc.wait(timeout=20)
    out = "".join(lines)
    assert "sim ready" in out and "60" in out, out
    assert "Traceback" not in out and "expecting type" not in out


@pytest.mark.parametrize("signals", [("SIGINT",), ("SIGTERM",), ("SIGINT", "SIGTERM"), ("SIGINT", "SIGINT")],
                         ids=["sigint", "sigterm", "sigint-then-sigterm", "two-sigints"])
def test_shutdown_is_clean_under_launch_signals(signals):
    """What ros2 launch / deepracer launch do on Ctrl-C: SIGINT, then SIGTERM (or a second SIGINT)
    while the node is still cleaning up. Exit 0, no traceback, no 'context is invalid'."""
    import signal as _signal

    proc, lines = _start_sim_node_until_ready("200.0")
    try:
        time.sleep(0.5)          # frames being published at 200 Hz when the signal lands
        for name in signals:
            proc.send_signal(getattr(_signal, name))
            time.sleep(0.01)
        out, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    text = "".join(lines) + out
    assert "sim ready" in text, text
    assert proc.returncode == 0, text
    assert "Traceback" not in text and "context is invalid" not in text, text
