"""The control node through real rclpy: in-process (executor in a thread) and as a subprocess."""
import json
from collections import defaultdict
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import rclpy
from geometry_msgs.msg import Twist
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from std_msgs.msg import Int32MultiArray, String
from std_srvs.srv import SetBool

from deepracer_control.calibration import Calibration, ChannelCalibration, save_calibration
from deepracer_control.nodes.control_node import ControlNode, ControlStartupError


class Graph:
    """A private rclpy context, an executor spinning in a thread, and a probe node for the test."""

    def __init__(self):
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.probe = rclpy.create_node("probe", context=self.context)
        self.executor.add_node(self.probe)
        self.sim_cmds: list[tuple[float, float, float]] = []   # (receive time, linear.x, angular.z)
        self.applied: list[dict] = []
        self.lock = threading.RLock()
        self.probe.create_subscription(Twist, "/sim/cmd_vel", self._on_sim, 50)
        self.probe.create_subscription(String, "/control/applied", self._on_applied, 50)
        self.pub_teleop = self.probe.create_publisher(Twist, "/cmd_vel", 10)
        self.pub_auto = self.probe.create_publisher(Twist, "/cmd_vel_auto", 10)
        self.pub_cal = self.probe.create_publisher(Int32MultiArray, "/control/calibration_pwm", 10)
        self.estop = self.probe.create_client(SetBool, "/control/emergency_stop")
        self.thread = threading.Thread(target=self._spin, daemon=True)
        self.thread.start()

    def _spin(self):
        try:
            self.executor.spin()
        except Exception:  # noqa: BLE001 - shutdown while spinning
            pass

    def _on_sim(self, msg):
        with self.lock:
            self.sim_cmds.append((time.monotonic(), msg.linear.x, msg.angular.z))

    def _on_applied(self, msg):
        with self.lock:
            self.applied.append(json.loads(msg.data))

    def add_control(self, **params) -> ControlNode:
        overrides = [Parameter(k, value=v) for k, v in params.items()]
        node = ControlNode(context=self.context, parameter_overrides=overrides)
        self.executor.add_node(node)
        return node

    def wait_for(self, predicate, timeout=5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if predicate():
                    return True
            time.sleep(0.01)
        return False

    def last_applied(self) -> dict:
        with self.lock:
            return self.applied[-1] if self.applied else defaultdict(lambda: None)

    def publish_until(self, publisher, msg, predicate, timeout=5.0):
        """Publish every 50 ms until ``predicate()`` holds (discovery may drop the first messages)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            publisher.publish(msg)
            if self.wait_for(predicate, timeout=0.05):
                return True
        return False

    def call_estop(self, engage: bool) -> SetBool.Response:
        assert self.estop.wait_for_service(timeout_sec=5.0)
        future = self.estop.call_async(SetBool.Request(data=engage))
        deadline = time.monotonic() + 5.0
        while not future.done() and time.monotonic() < deadline:
            time.sleep(0.01)
        return future.result()

    def close(self):
        self.executor.shutdown(timeout_sec=2.0)
        for node in list(self.executor.get_nodes()):
            if isinstance(node, ControlNode):
                node.close()
            node.destroy_node()
        rclpy.try_shutdown(context=self.context)
        self.thread.join(timeout=5.0)


@pytest.fixture
def graph():
    g = Graph()
    yield g
    g.close()


def twist(linear_x, angular_z=0.0):
    msg = Twist()
    msg.linear.x, msg.angular.z = float(linear_x), float(angular_z)
    return msg


def test_watchdog_stops_the_sim_car_when_commands_stop(graph):
    graph.add_control(backend="sim", mode="autonomous", watchdog_timeout_s=0.25)
    assert graph.publish_until(graph.pub_auto, twist(1.0, 0.5), lambda: graph.sim_cmds and graph.sim_cmds[-1][1] > 0.9)
    for i in range(10):  # 20 Hz for 0.5 s, then silence
        if i:
            time.sleep(0.05)
        last_publish = time.monotonic()
        graph.pub_auto.publish(twist(1.0, 0.5))
    assert graph.wait_for(lambda: graph.sim_cmds[-1][0] > last_publish and graph.sim_cmds[-1][1] > 0.9)
    with graph.lock:
        moving = graph.sim_cmds[-1]
    assert moving[1] == pytest.approx(1.0, abs=1e-6)
    assert moving[2] == pytest.approx(0.5, abs=1e-6)  # steering/wheelbase round trip gives the same yaw rate
    assert graph.wait_for(lambda: graph.sim_cmds[-1][1] == 0.0 and graph.sim_cmds[-1][0] > last_publish, timeout=2.0)
    with graph.lock:
        first_zero = next(t for t, x, _ in graph.sim_cmds if t > last_publish and x == 0.0)
    delay = first_zero - last_publish
    # never before the timeout (it counts from the receipt, which is after last_publish); margin for a busy CI
    assert 0.24 <= delay <= 0.25 + 0.25, f"watchdog stopped the car {delay:.3f} s after the last command"
    assert graph.last_applied()["reason"] == "watchdog"
    assert graph.last_applied()["throttle_duty_ns"] == 1_446_000


def test_twist_stamped_drives_like_twist_and_diagnostics_report_the_state(graph):
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
    from geometry_msgs.msg import TwistStamped

    diags = []
    graph.probe.create_subscription(DiagnosticArray, "/diagnostics", diags.append, 10)
    pub_stamped = graph.probe.create_publisher(TwistStamped, "/cmd_vel_auto_stamped", 10)
    graph.add_control(backend="sim", mode="autonomous", watchdog_timeout_s=0.25)
    msg = TwistStamped()
    msg.header.frame_id = "base_link"
    msg.twist = twist(1.0, 0.5)
    assert graph.publish_until(pub_stamped, msg, lambda: graph.sim_cmds and graph.sim_cmds[-1][1] > 0.9)
    assert graph.publish_until(pub_stamped, msg, lambda: any(d.status[0].level == DiagnosticStatus.OK for d in diags), 3.0)
    ok = next(d.status[0] for d in diags if d.status[0].level == DiagnosticStatus.OK)
    assert ok.name.endswith("control_node: control") and ok.message == "autonomous: command"
    assert {kv.key for kv in ok.values} >= {"throttle_duty_ns", "emergency_stop", "reason"}
    # silence: the watchdog stops the car and the diagnostics say WARN
    assert graph.wait_for(lambda: graph.sim_cmds[-1][1] == 0.0, timeout=2.0)
    assert graph.wait_for(lambda: diags[-1].status[0].level == DiagnosticStatus.WARN, 3.0)
    assert diags[-1].status[0].message == "autonomous: watchdog"


def test_modes_let_only_their_own_source_through_and_switch_at_runtime(graph):
    node = graph.add_control(backend="sim", mode="manual", watchdog_timeout_s=1.0)
    graph.pub_auto.publish(twist(2.0))   # inference ignored in manual
    assert graph.publish_until(graph.pub_teleop, twist(0.5),
                               lambda: graph.sim_cmds and graph.sim_cmds[-1][1] == pytest.approx(0.5))
    time.sleep(0.1)
    with graph.lock:
        assert all(x != pytest.approx(2.0) for _, x, _ in graph.sim_cmds)

    result = node.set_parameters([Parameter("mode", value="autonomous")])[0]
    assert result.successful
    assert graph.wait_for(lambda: graph.last_applied()["mode"] == "autonomous"
                          and graph.last_applied()["reason"] == "idle")  # the teleop command is forgotten
    graph.pub_teleop.publish(twist(0.7))
    assert graph.publish_until(graph.pub_auto, twist(2.0), lambda: graph.sim_cmds[-1][1] == pytest.approx(2.0))
    with graph.lock:
        assert all(x != pytest.approx(0.7) for _, x, _ in graph.sim_cmds)

    bad = node.set_parameters([Parameter("mode", value="race")])[0]
    assert not bad.successful and "'race' is not one of" in bad.reason
    assert node.get_parameter("mode").value == "autonomous"
    assert not node.set_parameters([Parameter("backend", value="sysfs")])[0].successful  # read-only


def test_max_speed_scale_and_calibration_mode(graph):
    node = graph.add_control(backend="sim", mode="manual", max_speed_scale=0.5, watchdog_timeout_s=1)  # int ok
    assert graph.publish_until(graph.pub_teleop, twist(4.0), lambda: graph.last_applied()["reason"] == "command")
    applied = graph.last_applied()
    assert applied["throttle"] == pytest.approx(0.5) and applied["throttle_duty_ns"] == 1_378_500
    assert graph.wait_for(lambda: graph.sim_cmds[-1][1] == pytest.approx(2.0))  # the sim sees the scaled speed

    assert node.set_parameters([Parameter("mode", value="calibration")])[0].successful
    graph.pub_teleop.publish(twist(4.0))  # ignored now
    # steering beyond 2.0 ms: clamped
    assert graph.publish_until(graph.pub_cal, Int32MultiArray(data=[1_500_000, 2_500_000]),
                               lambda: graph.last_applied()["reason"] == "command"
                               and graph.last_applied()["mode"] == "calibration")
    applied = graph.last_applied()
    assert applied["throttle_duty_ns"] == 1_500_000 and applied["steering_duty_ns"] == 2_000_000
    assert applied["clamp_count"] >= 1


def test_emergency_stop_latches_neutral_until_released(graph):
    graph.add_control(backend="sim", mode="manual", watchdog_timeout_s=2.0)
    assert graph.publish_until(graph.pub_teleop, twist(1.0),
                               lambda: graph.sim_cmds and graph.sim_cmds[-1][1] == pytest.approx(1.0))
    response = graph.call_estop(True)
    assert response.success and "engaged" in response.message
    assert graph.wait_for(lambda: graph.last_applied()["reason"] == "emergency_stop" and graph.sim_cmds[-1][1] == 0.0)
    graph.pub_teleop.publish(twist(1.0))
    time.sleep(0.2)
    assert graph.last_applied()["reason"] == "emergency_stop" and graph.sim_cmds[-1][1] == 0.0
    assert graph.call_estop(False).success
    assert graph.publish_until(graph.pub_teleop, twist(0.8), lambda: graph.sim_cmds[-1][1] == pytest.approx(0.8))


def _trigger(graph, name: str):
    from std_srvs.srv import Trigger
    client = graph.probe.create_client(Trigger, name)
    assert client.wait_for_service(timeout_sec=5.0), name
    future = client.call_async(Trigger.Request())
    assert graph.wait_for(future.done, timeout=5.0)
    return future.result()


def test_mode_services_switch_the_mode_like_the_parameter(graph):
    node = graph.add_control(backend="sim", mode="manual", watchdog_timeout_s=2.0)
    response = _trigger(graph, "/control/set_mode/calibration")
    assert response.success and response.message == "mode calibration"
    assert node.get_parameter("mode").value == "calibration"
    assert graph.wait_for(lambda: graph.last_applied()["mode"] == "calibration")
    graph.pub_teleop.publish(twist(1.0))                       # teleop is ignored in calibration mode
    time.sleep(0.2)
    assert graph.last_applied()["reason"] == "idle"
    assert _trigger(graph, "/control/set_mode/manual").success
    assert graph.publish_until(graph.pub_teleop, twist(0.5), lambda: graph.last_applied()["reason"] == "command")


def test_reload_calibration_applies_a_new_file_and_refuses_a_bad_one(graph, tmp_path):
    path = tmp_path / "calibration.json"
    save_calibration(Calibration.default(), path)
    graph.add_control(backend="sim", mode="calibration", calibration_file=str(path))
    assert graph.wait_for(lambda: graph.last_applied()["steering_duty_ns"] == 1_450_000)
    save_calibration(Calibration(servo=ChannelCalibration(1_100_000, 1_500_000, 1_900_000, 1),
                                 motor=Calibration.default().motor), path)
    response = _trigger(graph, "/control/reload_calibration")
    assert response.success, response.message
    assert graph.wait_for(lambda: graph.last_applied()["steering_duty_ns"] == 1_500_000)   # the new neutral
    path.write_text(json.dumps({"Calibration": {"Servo": {"min": 1_200_000, "mid": 10_000_000, "max": 1_700_000,
                                                          "polarity": 1},
                                                "Motor": Calibration.default().motor.to_dict()}, "version": 1}))
    response = _trigger(graph, "/control/reload_calibration")
    assert not response.success and "Calibration.Servo.mid = 10000000 ns" in response.message
    time.sleep(0.1)
    assert graph.last_applied()["steering_duty_ns"] == 1_500_000                            # the old one stays


def test_invalid_calibration_is_refused_in_process(graph, tmp_path):
    path = tmp_path / "calibration.json"
    # issue 21.3: a 10 ms "mid" (inside the 20 ms period) used to start the node and be sent to the servo
    path.write_text(json.dumps({"Calibration": {"Servo": {"min": 1_200_000, "mid": 10_000_000, "max": 1_700_000,
                                                          "polarity": 1},
                                                "Motor": Calibration.default().motor.to_dict()}}))
    with pytest.raises(ControlStartupError, match=r"Calibration\.Servo\.mid"):
        graph.add_control(backend="sim", calibration_file=str(path))
    assert graph.applied == []  # nothing was published: the node never started


def test_integers_are_accepted_for_double_parameters(graph):
    # watchdog_timeout_s:=1 on a command line or in a launch file arrives as an INTEGER
    node = graph.add_control(backend="sim", watchdog_timeout_s=1, max_speed_scale=0)
    assert node.params["watchdog_timeout_s"] == 1.0 and isinstance(node.params["watchdog_timeout_s"], float)
    assert node.supervisor.watchdog.timeout_s == 1.0 and node.mapper.max_speed_scale == 0.0
    assert node.get_parameter("watchdog_timeout_s").type_ == Parameter.Type.DOUBLE
    result = node.set_parameters([Parameter("max_speed_scale", Parameter.Type.INTEGER, 1)])[0]  # ros2 param set .. 1
    assert result.successful, result.reason
    assert node.mapper.max_speed_scale == 1.0


# --- the node as a process (python -m), on a fake sysfs tree ------------------------------------------

def _run_node(*params, **kwargs):
    cmd = [sys.executable, "-m", "deepracer_control.nodes.control_node", "--ros-args"]
    for p in params:
        cmd += ["-p", p]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=os.environ.copy(),
                            **kwargs)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_sysfs_node_drives_the_fake_chip_and_goes_neutral_and_disabled_on_signal(graph, fake_pwm, tmp_path, sig):
    path = tmp_path / "calibration.json"
    save_calibration(Calibration(servo=ChannelCalibration(1_100_000, 1_400_000, 1_800_000, -1),
                                 motor=Calibration.default().motor), path)
    proc = _run_node("backend:=sysfs", f"sysfs_root:={fake_pwm.root}", f"calibration_file:={path}", "mode:=manual",
                     "watchdog_timeout_s:=5.0")
    try:
        # Started = it publishes /control/applied (subscription counts can include stale discovery data).
        assert graph.wait_for(lambda: any(a["backend"] == "sysfs" for a in graph.applied), timeout=15.0), \
            proc.poll() is None or proc.communicate()[0]
        assert fake_pwm.read(0, "enable") == "1" and fake_pwm.read(0, "period") == "20000000"
        assert fake_pwm.read(1, "duty_cycle") == "1400000"  # this calibration's mid
        deadline = time.monotonic() + 5.0
        while fake_pwm.read(1, "duty_cycle") != "1100000" and time.monotonic() < deadline:
            graph.pub_teleop.publish(twist(2.0, 100.0))  # hard left; servo polarity -1 -> min pulse
            time.sleep(0.05)
        assert fake_pwm.read(1, "duty_cycle") == "1100000"
        assert fake_pwm.read(0, "duty_cycle") == "1378500"  # half throttle, motor polarity -1
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=10.0)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, out
    assert fake_pwm.read(0, "duty_cycle") == "1446000" and fake_pwm.read(1, "duty_cycle") == "1400000"
    assert fake_pwm.read(0, "enable") == "0" and fake_pwm.read(1, "enable") == "0"


@pytest.mark.parametrize("servo,field", [
    ({"min": 1_700_000, "mid": 1_450_000, "max": 1_200_000, "polarity": 1}, "Calibration.Servo.min"),
    ({"min": 1_200_000, "mid": 1_900_000, "max": 1_700_000, "polarity": 1}, "Calibration.Servo.mid"),
    ({"min": 1_200_000, "mid": 1_450_000, "max": 1_700_000, "polarity": 3}, "Calibration.Servo.polarity"),
    ({"min": 1_200_000, "mid": 10_000_000, "max": 1_700_000, "polarity": 1}, "Calibration.Servo.mid"),  # 10 ms
    ({"min": 900_000, "mid": 1_450_000, "max": 1_700_000, "polarity": 1}, "Calibration.Servo.min"),   # < 1 ms
])
def test_sysfs_node_refuses_invalid_calibration_exits_1_and_leaves_the_car_neutral(fake_pwm, tmp_path, servo, field):
    path = tmp_path / "calibration.json"
    path.write_text(json.dumps({"Calibration": {"Servo": servo, "Motor": Calibration.default().motor.to_dict()},
                                "version": 1}))
    # A previous run left channel 0 exported and enabled at full throttle (the stock car has no watchdog).
    fake_pwm.export.write_text("0")
    assert_wait = time.monotonic() + 2.0
    while not (fake_pwm.chip_dir / "pwm0").exists() and time.monotonic() < assert_wait:
        time.sleep(0.01)
    (fake_pwm.chip_dir / "pwm0" / "duty_cycle").write_text("1311000")
    (fake_pwm.chip_dir / "pwm0" / "enable").write_text("1")
    proc = _run_node("backend:=sysfs", f"sysfs_root:={fake_pwm.root}", f"calibration_file:={path}")
    out, _ = proc.communicate(timeout=20.0)
    assert proc.returncode == 1
    assert f"invalid calibration: {path}: {field}" in out
    assert "Traceback" not in out
    assert fake_pwm.read(0, "enable") == "0"            # the pulses stopped
    assert fake_pwm.read(0, "duty_cycle") == "1311000"  # nothing else written
    assert not (fake_pwm.chip_dir / "pwm1").exists()    # nothing exported


def test_sysfs_node_missing_chip_exits_1_naming_the_path(tmp_path):
    proc = _run_node("backend:=sysfs", f"sysfs_root:={tmp_path}", "pwm_chip:=2")
    out, _ = proc.communicate(timeout=20.0)
    assert proc.returncode == 1
    assert f"PWM chip not found: {tmp_path}/pwmchip2 does not exist" in out
    assert "Traceback" not in out


@pytest.mark.parametrize("param,message", [
    ("mode:=race", "parameter mode = 'race' is not one of manual, autonomous, calibration"),
    ("backend:=can", "parameter backend = 'can' is not one of sysfs, sim, dry-run"),
    ("max_speed_scale:=1.5", "parameter max_speed_scale = 1.5 is outside [0.0, 1.0]"),
    ("watchdog_timeout_s:=fast", "parameter watchdog_timeout_s = 'fast' must be a number"),
    ("pwm_chip:=abc", "parameter pwm_chip"),
    ("max_speed_scal:=0.5", "control_node: unknown parameter max_speed_scal (did you mean 'max_speed_scale'?)"),
])
def test_bad_parameters_exit_1_naming_the_parameter(param, message):
    proc = _run_node("backend:=sim", param)
    out, _ = proc.communicate(timeout=20.0)
    assert proc.returncode == 1
    assert message in out
    assert "Traceback" not in out


def test_applied_command_is_typed_on_applied_drive(graph):
    """control/applied_drive (ackermann_msgs/AckermannDriveStamped, built in the workspace): the
    command the backend got, as speed (m/s) and front steering angle (rad), neutral on the watchdog."""
    from ackermann_msgs.msg import AckermannDriveStamped
    from deepracer_description.vehicle import load_vehicle

    drives: list[AckermannDriveStamped] = []

    def on_drive(msg: AckermannDriveStamped) -> None:
        with graph.lock:
            drives.append(msg)

    graph.probe.create_subscription(AckermannDriveStamped, "/control/applied_drive", on_drive, 50)
    graph.add_control(backend="sim", mode="manual", max_speed_scale=0.5, watchdog_timeout_s=1.0)
    vehicle = load_vehicle()
    # 4 m/s asked, max_speed_scale 0.5: throttle 0.5 -> half the URDF max speed; yaw rate 1 rad/s at 4 m/s
    assert graph.publish_until(graph.pub_teleop, twist(4.0, 1.0),
                               lambda: drives and drives[-1].drive.speed > 0.1 and graph.last_applied()["reason"] == "command")
    with graph.lock:
        msg, applied = drives[-1], graph.last_applied()
    assert msg.header.frame_id == "base_link" and (msg.header.stamp.sec or msg.header.stamp.nanosec)
    assert msg.drive.speed == pytest.approx(applied["throttle"] * vehicle.max_speed_m_s, rel=1e-5)
    assert msg.drive.steering_angle == pytest.approx(applied["steering"] * vehicle.max_steering_angle_rad, rel=1e-5)
    assert msg.drive.steering_angle > 0.0                       # positive yaw rate = left = positive angle
    assert graph.wait_for(lambda: drives[-1].drive.speed == 0.0 and graph.last_applied()["reason"] == "watchdog",
                          timeout=5.0)
    with graph.lock:
        assert drives[-1].drive.steering_angle == 0.0
