"""The car camera node: OpenCV V4L2 capture -> sensor_msgs/Image on camera/image_raw (relative:
in the node's namespace; sensor-data QoS).

A capture thread reads the device as fast as it delivers (so no stale frames queue up in the
driver) and publishes at most ``rate_hz`` frames per second (default 15, the DeepRacer camera
rate), each stamped with the node clock right after the read returned (capture time). A video
file (``device`` = a file path) is paced to ``rate_hz`` and loops when ``loop`` is true.

A missing or unusable device at start logs ONE error naming it and the process exits with status 1.
A device lost while running (unplugged, file removed: :class:`~deepracer_control.camera.ReopeningCamera`)
logs one error, stops publishing, warns every 2 s while it reopens the path (backoff up to 1 s),
and publishes again as soon as the device (or file) is back.
"""
from __future__ import annotations

import sys
import threading
import time

import rclpy
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image

from deepracer_common.nodes.lifecycle import ignore_further_signals, is_shutdown_error
from deepracer_common.nodes.params import ParameterError, Spec, declare

from ..camera import ENCODINGS, CameraError, CameraSource, ReopeningCamera, format_frame, open_camera

SPECS = [
    Spec("device", "/dev/video0", "V4L2 device, camera index, or a video file"),
    Spec("rate_hz", 15.0, "published frames per second (at most)", range=(1.0, 120.0)),
    Spec("width", 0, "capture width asked from the driver, px (0 = driver default)", range=(0, 4096)),
    Spec("height", 0, "capture height asked from the driver, px (0 = driver default)", range=(0, 4096)),
    Spec("output_width", 0, "resize before publishing, px (0 = as captured; set with output_height)", range=(0, 4096)),
    Spec("output_height", 0, "resize before publishing, px (0 = as captured; set with output_width)",
         range=(0, 4096)),
    Spec("encoding", "bgr8", "bgr8 | mono8", choices=ENCODINGS),
    Spec("frame_id", "camera_optical_frame", "header.frame_id of the images (the URDF optical frame: z forward, x right, y down)"),
    Spec("loop", True, "video files: start again at the end (false: stop publishing and exit 0)"),
]


class CameraStartupError(RuntimeError):
    """The node cannot start; the message names the device or parameter."""


class CameraNode(Node):
    """Publishes camera frames; ``finished`` is set when a non-looping file ends."""

    def __init__(self, **node_kwargs) -> None:
        super().__init__("camera_node", **node_kwargs)
        self.source: CameraSource | None = None
        self.finished = threading.Event()
        self.published = 0
        try:
            self._start()
        except BaseException:
            if self.source is not None:
                self.source.release()
            self.destroy_node()
            raise

    def _start(self) -> None:
        p = self._declare_parameters()
        for w, h in (("width", "height"), ("output_width", "output_height")):
            if (p[w] > 0) != (p[h] > 0):
                raise CameraStartupError(f"parameters {w} = {p[w]} and {h} = {p[h]}: set both or neither (0)")
        self.params = p
        try:
            self.source = open_camera(p["device"], p["width"], p["height"], p["rate_hz"])
        except CameraError as exc:
            raise CameraStartupError(str(exc)) from None
        self.camera = ReopeningCamera(self.source, lambda: open_camera(
            p["device"], p["width"], p["height"], p["rate_hz"], first_frame_timeout_s=1.0), p["device"])
        self.publisher = self.create_publisher(Image, "camera/image_raw", qos_profile_sensor_data)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._capture_loop, name="camera_capture", daemon=True)
        self._thread.start()
        self.get_logger().info(f"camera node ready: {p['device']} -> /camera/image_raw at {p['rate_hz']} Hz, "
                               f"{p['encoding']}" + (f", resized to {p['output_width']}x{p['output_height']}"
                                                      if p["output_width"] else ""))

    def _declare_parameters(self) -> dict:
        try:
            return declare(self, SPECS)
        except ParameterError as exc:
            raise CameraStartupError(str(exc)) from None

    def _capture_loop(self) -> None:
        period = 1.0 / self.params["rate_hz"]
        next_due = time.monotonic()
        camera = self.camera
        log = self.get_logger()
        while not self._stop.is_set():
            frame = camera.read()
            for level, message in camera.take_reports():  # one call site per severity (rclpy rule)
                if level == "error":
                    log.error(message)
                elif level == "warn":
                    log.warning(message)
                else:
                    log.info(message)
            if frame is None:
                if camera.at_end_of_file:
                    if self.params["loop"] and camera.rewind():
                        continue
                    log.info(f"end of video file {camera.device}")
                    self.finished.set()
                    return
                self._stop.wait(camera.wait_s())
                continue
            stamp = self.get_clock().now().to_msg()  # capture time: right after the read returned
            now = time.monotonic()
            if camera.is_file:  # pace a file to the camera rate
                if next_due > now:
                    self._stop.wait(next_due - now)
                    stamp = self.get_clock().now().to_msg()
                next_due = max(next_due + period, time.monotonic() - period)
            elif now < next_due:  # a device faster than rate_hz: drop this frame
                continue
            else:
                next_due = max(next_due + period, now)
            self._publish(frame, stamp)

    def _publish(self, frame, stamp) -> None:
        p = self.params
        image = format_frame(frame, p["encoding"], p["output_width"], p["output_height"])
        msg = Image()
        msg.header.stamp = stamp
        msg.header.frame_id = p["frame_id"]
        msg.height, msg.width = int(image.shape[0]), int(image.shape[1])
        msg.encoding = p["encoding"]
        msg.is_bigendian = 0
        msg.step = int(image.strides[0])
        msg.data = image.tobytes()
        try:
            self.publisher.publish(msg)
        except Exception:  # noqa: BLE001 - the context is shutting down under us
            self._stop.set()
            return
        self.published += 1

    def close(self) -> None:
        """Stop the capture thread and release the device."""
        if self.source is None:
            return
        self._stop.set()
        self._thread.join(timeout=2.0)
        self.camera.release()
        self.source = None


def main(args: list[str] | None = None) -> int:
    """Entry point; returns the exit status (1 when the camera cannot be used)."""
    rclpy.init(args=args)
    try:
        try:
            node = CameraNode()
        except CameraStartupError as exc:
            rclpy.logging.get_logger("camera_node").error(str(exc))
            return 1
        try:
            while rclpy.ok() and not node.finished.is_set():
                rclpy.spin_once(node, timeout_sec=0.1)
        except BaseException as exc:  # noqa: BLE001 - a signal's shutdown is a clean exit, anything else re-raised
            if not is_shutdown_error(exc):
                raise
        finally:
            ignore_further_signals()      # a second Ctrl-C / SIGTERM must not interrupt close()
            node.close()
            node.destroy_node()
        return 0
    finally:
        rclpy.try_shutdown()


if __name__ == "__main__":
    sys.exit(main())
