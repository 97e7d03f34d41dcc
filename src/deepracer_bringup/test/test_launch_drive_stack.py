"""The shared drive stack (launch/drive_stack.launch.xml) run by `deepracer launch` with the real
inference and control nodes: a camera image in, a PWM command out (dry-run backend), and a clean
shutdown on Ctrl-C. This is the half of the graph that sim_drive and car have in common."""
from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")

REPO = Path(__file__).resolve().parents[3]
INFERENCE_TESTS = REPO / "src" / "deepracer_inference" / "test"


def _modules_ready() -> list[str]:
    missing = []
    for module in ("deepracer_inference.nodes.inference_node", "deepracer_control.nodes.control_node"):
        try:
            if importlib.util.find_spec(module) is None:
                missing.append(module)
        except ImportError:
            missing.append(module)
    return missing


@pytest.fixture(scope="module")
def artifact(tmp_path_factory) -> Path:
    if _modules_ready():
        pytest.skip(f"node modules not written yet: {', '.join(_modules_ready())}")
    if not (INFERENCE_TESTS / "tiny_artifact.py").is_file():
        pytest.skip("deepracer_inference/test/tiny_artifact.py (the artifact builder) is absent")
    sys.path.insert(0, str(INFERENCE_TESTS))
    try:
        from tiny_artifact import make_artifact
    finally:
        sys.path.remove(str(INFERENCE_TESTS))
    folder, _, _ = make_artifact(tmp_path_factory.mktemp("model") / "model")
    return folder


def test_drive_stack_image_to_pwm_and_clean_shutdown(artifact):
    from rclpy.node import Node
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Image
    from std_msgs.msg import String

    runner = subprocess.Popen(
        [sys.executable, "-m", "deepracer_common.launch_runner", str(REPO / "launch" / "drive_stack.launch.xml"),
         f"model:={artifact}", "backend:=dry-run"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(l.rstrip("\n") for l in runner.stdout), daemon=True)
    reader.start()

    rclpy.init()
    node = Node("drive_stack_probe")
    applied: list[dict] = []
    node.create_subscription(String, "/control/applied", lambda m: applied.append(json.loads(m.data)), 10)
    camera = node.create_publisher(Image, "/camera/image_raw", qos_profile_sensor_data)
    image = Image(height=120, width=160, encoding="mono8", step=160)
    image.data = np.full((120, 160), 128, np.uint8).tobytes()
    try:
        deadline = time.monotonic() + 60.0
        driven = []
        while time.monotonic() < deadline and not driven and runner.poll() is None:
            image.header.stamp = node.get_clock().now().to_msg()
            camera.publish(image)
            rclpy.spin_once(node, timeout_sec=1.0 / 15.0)
            driven = [a for a in applied if a["reason"] == "command" and a["mode"] == "autonomous"]
        output = "\n".join(lines)
        assert driven, f"no autonomous command reached the control node:\n{output}"
        assert driven[0]["backend"] == "dry-run"
        assert driven[0]["throttle_duty_ns"] > 0 and driven[0]["steering_duty_ns"] > 0
        assert any(l.startswith("[inference_node] ") for l in lines)
        assert any(l.startswith("[control_node] ") for l in lines)
        runner.send_signal(signal.SIGINT)
        code = runner.wait(timeout=15)
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
        if runner.poll() is None:
            runner.kill()
            runner.wait()
        reader.join(timeout=5)
    output = "\n".join(lines)
    assert code == 0, output
    assert "process 'inference_node'" in output and "process 'control_node'" in output


def test_camera_unplug_stops_the_car_and_replug_drives_again(artifact, tmp_path):
    """The car's camera node on a video file + the drive stack: renaming the file away (the unplug)
    makes the control node's watchdog go neutral; renaming it back makes the model drive again."""
    import cv2
    from rclpy.node import Node
    from std_msgs.msg import String

    video = tmp_path / "cam.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 15.0, (160, 120))
    for i in range(8):
        writer.write(np.full((120, 160, 3), 60 + 20 * i, np.uint8))
    writer.release()
    procs = [subprocess.Popen(
        [sys.executable, "-m", "deepracer_common.launch_runner", str(REPO / "launch" / "drive_stack.launch.xml"),
         f"model:={artifact}", "backend:=dry-run"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True),
        subprocess.Popen([sys.executable, "-m", "deepracer_control.nodes.camera_node", "--ros-args",
                          "-p", f"device:={video}", "-p", "rate_hz:=15.0"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)]
    lines: list[str] = []
    readers = [threading.Thread(target=lambda p=p: lines.extend(l.rstrip("\n") for l in p.stdout), daemon=True)
               for p in procs]
    for r in readers:
        r.start()
    rclpy.init()
    node = Node("camera_unplug_probe")
    applied: list[tuple[float, dict]] = []
    node.create_subscription(String, "/control/applied",
                             lambda m: applied.append((time.monotonic(), json.loads(m.data))), 10)

    def spin_until(cond, timeout):
        end = time.monotonic() + timeout
        while not cond() and time.monotonic() < end and all(p.poll() is None for p in procs):
            rclpy.spin_once(node, timeout_sec=0.05)
        return cond()

    def driving_since(t0):
        return [a for t, a in applied if t > t0 and a["reason"] == "command" and a["mode"] == "autonomous"]

    try:
        assert spin_until(lambda: driving_since(0.0), 60.0), "the model never drove:\n" + "\n".join(lines)
        hidden = tmp_path / "unplugged.avi"
        os.rename(video, hidden)  # unplug
        t_unplug = time.monotonic()
        assert spin_until(lambda: any(t > t_unplug and a["reason"] == "watchdog" for t, a in applied), 3.0), \
            "the watchdog did not stop the car:\n" + "\n".join(lines)
        spin_until(lambda: False, 1.0)
        assert not driving_since(t_unplug + 0.5), "commands kept coming with the camera unplugged"
        assert applied[-1][1]["reason"] == "watchdog" and applied[-1][1]["throttle"] == 0.0
        os.rename(hidden, video)  # re-plug
        t_back = time.monotonic()
        assert spin_until(lambda: driving_since(t_back), 10.0), "the car did not drive again:\n" + "\n".join(lines)
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for r in readers:
            r.join(timeout=5)
    output = "\n".join(lines)
    assert "camera lost:" in output and "is back after" in output, output
    assert "Traceback" not in output, output
