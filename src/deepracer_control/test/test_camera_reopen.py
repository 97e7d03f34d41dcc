"""Camera unplug / re-plug: the ReopeningCamera state machine alone (fake opener and clock, then a
real video file removed and restored) and the camera node process over real rclpy."""
import os
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image

from deepracer_control.camera import LOST, STREAMING, CameraError, ReopeningCamera, open_camera


def _write_video(path, n=8):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 15.0, (64, 48))
    assert writer.isOpened()
    for i in range(n):
        writer.write(np.full((48, 64, 3), 20 + 25 * i, np.uint8))
    writer.release()


class FakeSource:
    """A V4L2-like source: frames while ``alive``, None after (a dead handle stays dead)."""

    is_file = False

    def __init__(self):
        self.alive = True
        self.released = False

    def read(self):
        return np.zeros((2, 2, 3), np.uint8) if self.alive and not self.released else None

    def rewind(self):
        return False

    def release(self):
        self.released = True


class World:
    """The fake device: a clock, whether /dev/video0 exists, and an opener that fails while it is absent."""

    def __init__(self):
        self.t = 100.0
        self.present = True
        self.opens: list[float] = []
        self.sources: list[FakeSource] = []

    def opener(self):
        self.opens.append(self.t)
        if not self.present:
            raise CameraError("camera device /dev/video0 does not exist (camera unplugged, or wrong device parameter)")
        self.sources.append(FakeSource())
        return self.sources[-1]

    def camera(self, **kw):
        first = FakeSource()
        self.sources.append(first)
        return ReopeningCamera(first, self.opener, "/dev/video0", clock=lambda: self.t,
                               exists=lambda p: self.present, **kw)

    def run(self, cam, seconds, dt=0.05):
        """Call read() every dt for ``seconds``; returns how many frames came."""
        frames = 0
        end = self.t + seconds
        while self.t < end - 1e-9:
            frames += cam.read() is not None
            self.t += dt
        return frames


def test_unplugged_device_path_is_reopened_with_capped_backoff_and_reported():
    w = World()
    cam = w.camera()
    assert w.run(cam, 1.0) == 20 and cam.state == STREAMING
    w.present = False  # unplug: /dev/video0 vanishes
    w.t += 0.01
    t_lost = w.t
    assert cam.read() is None and cam.state == LOST
    assert w.sources[0].released  # the dead handle is let go
    reports = cam.take_reports()
    assert [lv for lv, _ in reports] == ["error"] and "/dev/video0 disappeared" in reports[0][1]
    w.run(cam, 10.0)
    gaps = np.diff(w.opens)
    assert gaps[0] == pytest.approx(0.5, abs=0.06) and np.all(gaps <= 1.0 + 0.06) and gaps[-1] >= 0.95  # 0.25, 0.5, 1, 1...
    assert w.opens[0] == pytest.approx(t_lost + 0.25, abs=0.06)  # first retry soon
    warns = cam.take_reports()
    assert [lv for lv, _ in warns] == ["warn"] * len(warns) and 4 <= len(warns) <= 5  # every 2 s, not every retry
    assert "still lost" in warns[0][1] and "does not exist" in warns[0][1]
    assert 0.0 < cam.wait_s() <= 1.0
    w.present = True  # re-plug
    frames = w.run(cam, 2.0)
    assert cam.state == STREAMING and frames >= 2.0 / 0.05 - 1.0 / 0.05 - 2  # back within the 1 s cap
    assert [lv for lv, _ in cam.take_reports()] == ["info"]
    assert cam.losses == 1


def test_a_device_that_stops_delivering_is_released_after_lost_after_s_then_reopened():
    w = World()
    cam = w.camera(lost_after_s=1.0)
    w.run(cam, 0.5)
    w.sources[0].alive = False  # the path is still there but the handle is dead (driver hiccup)
    w.run(cam, 0.9)
    assert cam.state == STREAMING  # a short gap is not a loss
    w.run(cam, 0.2)
    assert cam.state == LOST and "delivered no frame for 1.0 s" in cam.take_reports()[0][1]
    assert w.run(cam, 1.0) > 0 and cam.state == STREAMING and len(w.sources) == 2  # a fresh handle


def test_a_camera_index_has_no_path_to_watch():
    w = World()
    first = FakeSource()
    cam = ReopeningCamera(first, w.opener, "0", clock=lambda: w.t, exists=lambda p: False)
    assert cam.read() is not None  # exists() is not consulted for an index


def test_real_video_file_removed_and_restored(tmp_path):
    path = tmp_path / "cam.avi"
    _write_video(path)
    cam = ReopeningCamera(open_camera(str(path)), lambda: open_camera(str(path)), str(path),
                          retry_initial_s=0.05, retry_max_s=0.2)
    assert cam.read() is not None and cam.is_file
    hidden = tmp_path / "unplugged.avi"
    os.rename(path, hidden)  # the open handle would read on: the path check is what notices
    assert cam.read() is None and cam.state == LOST and not cam.at_end_of_file
    time.sleep(0.3)
    assert cam.read() is None and cam.state == LOST
    os.rename(hidden, path)
    deadline = time.monotonic() + 3.0
    frame = None
    while frame is None and time.monotonic() < deadline:
        time.sleep(cam.wait_s())
        frame = cam.read()
    assert frame is not None and cam.state == STREAMING
    assert int(np.median(frame)) == pytest.approx(20, abs=6)  # reopened at the first frame
    levels = []
    while (f := cam.read()) is not None:
        levels.append(int(np.median(f)))
    assert cam.at_end_of_file and len(levels) == 7
    assert cam.rewind() and cam.read() is not None
    cam.release()


def test_camera_node_process_stops_publishing_when_the_file_vanishes_and_resumes_when_it_returns(tmp_path):
    path = tmp_path / "cam.avi"
    _write_video(path)
    cmd = [sys.executable, "-m", "deepracer_control.nodes.camera_node", "--ros-args",
           "-p", f"device:={path}", "-p", "rate_hz:=30.0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=os.environ.copy())
    context = rclpy.Context()
    rclpy.init(context=context)
    executor = SingleThreadedExecutor(context=context)
    arrivals: list[float] = []
    probe = rclpy.create_node("camera_reopen_probe", context=context)
    probe.create_subscription(Image, "/camera/image_raw", lambda m: arrivals.append(time.monotonic()),
                              qos_profile_sensor_data)
    executor.add_node(probe)

    def spin_until(cond, timeout):
        end = time.monotonic() + timeout
        while not cond() and time.monotonic() < end:
            executor.spin_once(timeout_sec=0.05)
        return cond()

    try:
        assert spin_until(lambda: len(arrivals) >= 10, 20.0), "no frames from the camera node"
        hidden = tmp_path / "unplugged.avi"
        os.rename(path, hidden)  # unplug
        t_unplug = time.monotonic()
        spin_until(lambda: False, 2.0)
        late = [t for t in arrivals if t > t_unplug + 0.3]
        assert late == [], f"{len(late)} frames after the file vanished"
        n_before = len(arrivals)
        os.rename(hidden, path)  # re-plug
        t_back = time.monotonic()
        assert spin_until(lambda: len(arrivals) >= n_before + 10, 5.0), "frames did not resume"
        resumed_after = [t for t in arrivals if t > t_back][0] - t_back
        assert resumed_after < 3.0
        assert proc.poll() is None  # the node kept running through the unplug
    finally:
        executor.shutdown()
        rclpy.try_shutdown(context=context)
        proc.send_signal(signal.SIGINT)
        try:
            out, _ = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    assert "camera lost:" in out and "disappeared" in out, out
    assert "is back after" in out, out
    assert "Traceback" not in out, out
