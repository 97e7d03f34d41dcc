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
