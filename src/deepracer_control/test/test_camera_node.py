"""The car camera node reading a real video file through cv2.VideoCapture, published over real rclpy."""
import os
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image

from deepracer_control.camera import CameraError, format_frame, open_camera
from deepracer_control.nodes.camera_node import CameraNode, CameraStartupError

N_FRAMES = 8


@pytest.fixture
def video(tmp_path):
    """An 8-frame 320x240 MJPG video; frame i is uniformly gray at 20 + 25 * i, with a white left half-column."""
    path = tmp_path / "drive.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 15.0, (320, 240))
    assert writer.isOpened()
    for i in range(N_FRAMES):
        frame = np.full((240, 320, 3), 20 + 25 * i, np.uint8)
        frame[:, :40] = 255
        writer.write(frame)
    writer.release()
    return path


def test_open_camera_reports_missing_and_unusable_sources(tmp_path):
    with pytest.raises(CameraError, match="camera device /dev/video_missing_42 does not exist"):
        open_camera("/dev/video_missing_42")
    junk = tmp_path / "junk.avi"
    junk.write_bytes(b"not a video")
    with pytest.raises(CameraError, match="junk.avi"):
        open_camera(str(junk))


def test_format_frame_resizes_and_converts():
    frame = np.zeros((480, 640, 3), np.uint8)
    frame[..., 2] = 255  # red in BGR
    mono = format_frame(frame, "mono8", 160, 120)
    assert mono.shape == (120, 160) and mono.dtype == np.uint8
    assert int(mono[0, 0]) == 76  # ITU-R 601 luma of pure red
    assert format_frame(frame, "bgr8").shape == (480, 640, 3)
    with pytest.raises(ValueError, match="rgb16"):
        format_frame(frame, "rgb16")


def test_camera_node_publishes_video_frames_resized_and_stamped(video):
    context = rclpy.Context()
    rclpy.init(context=context)
    executor = SingleThreadedExecutor(context=context)
    received: list[Image] = []
    probe = rclpy.create_node("probe", context=context)
    probe.create_subscription(Image, "/camera/image_raw", received.append, qos_profile_sensor_data)
    executor.add_node(probe)
    node = None
    try:
        node = CameraNode(context=context, parameter_overrides=[
            Parameter("device", value=str(video)), Parameter("rate_hz", value=30.0),
            Parameter("output_width", value=160), Parameter("output_height", value=120), Parameter("encoding", value="mono8")])
        executor.add_node(node)
        deadline = time.monotonic() + 10.0
        while len(received) < 2 * N_FRAMES + 2 and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.05)
    finally:
        if node is not None:
            node.close()
        executor.shutdown()
        rclpy.try_shutdown(context=context)
    assert len(received) >= 2 * N_FRAMES + 2, f"only {len(received)} frames"
    msg = received[0]
    assert (msg.width, msg.height, msg.encoding, msg.step, msg.header.frame_id) == (160, 120, "mono8", 160, "camera_optical_frame")
    images = [np.frombuffer(bytes(m.data), np.uint8).reshape(120, 160) for m in received]
    # content survives: the white stripe on the left, gray elsewhere, increasing per frame and looping
    levels = [int(np.median(img[:, 40:])) for img in images]
    assert all(int(np.median(img[:, :15])) > 245 for img in images)
    i0 = int(np.argmin([abs(lv - 20) for lv in levels[:N_FRAMES]]))
    expected = [20 + 25 * ((i0 + k) % N_FRAMES) for k in range(N_FRAMES + 2)]
    assert np.allclose(levels[i0:i0 + N_FRAMES + 2], expected, atol=6), levels
    # stamps: capture time, strictly increasing, paced near 30 Hz (loose bounds: shared 2-core machine)
    stamps = np.array([m.header.stamp.sec + 1e-9 * m.header.stamp.nanosec for m in received])
    intervals = np.diff(stamps)
    assert np.all(intervals > 0)
    assert 1 / 30 * 0.7 < float(np.median(intervals)) < 1 / 30 * 1.5


def _run(*params):
    cmd = [sys.executable, "-m", "deepracer_control.nodes.camera_node", "--ros-args"]
    for p in params:
        cmd += ["-p", p]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30, env=os.environ.copy())


def test_camera_node_process_plays_a_file_once_and_exits_0(video):
    result = _run(f"device:={video}", "loop:=false", "rate_hz:=60")  # an integer for a float: accepted
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "end of video file" in out


@pytest.mark.parametrize("params,message", [
    (["device:=/dev/video_missing_42"], "camera device /dev/video_missing_42 does not exist"),
    (["encoding:=rgba16"], "parameter encoding = 'rgba16' is not one of bgr8, mono8"),
    (["rate_hz:=500.0"], "parameter rate_hz = 500.0 is outside [1.0, 120.0]"),
    (["output_width:=160"], "output_width = 160 and output_height = 0: set both or neither"),
])
def test_camera_node_process_refuses_bad_input_with_exit_1(params, message):
    result = _run(*params)
    out = result.stdout + result.stderr
    assert result.returncode == 1
    assert message in out
    assert "Traceback" not in out


def test_camera_node_in_process_missing_device_raises_named_error():
    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        with pytest.raises(CameraStartupError, match="/dev/video_missing_42"):
            CameraNode(context=context, parameter_overrides=[Parameter("device", value="/dev/video_missing_42")])
    finally:
        rclpy.try_shutdown(context=context)
