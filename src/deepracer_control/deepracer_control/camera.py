"""Camera capture for the car camera node: open a V4L2 device (or a video file), read, format frames.

Core layer (OpenCV + numpy, no rclpy). ``device`` is a V4L2 path (``/dev/video0``), a camera index
(``"0"``), or a video file path: OpenCV reads files through the same ``VideoCapture`` API, which
is how the node is tested without a camera (a real capture path, not a mock).

Frames come out of OpenCV as BGR ``uint8`` (H, W, 3). :func:`format_frame` optionally resizes them
(``cv2.INTER_AREA``: the camera's own downscale, not the agent's preprocessing, which the
inference node applies to whatever it receives) and converts to ``mono8``.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass

import cv2
import numpy as np

ENCODINGS = ("bgr8", "mono8")


class CameraError(RuntimeError):
    """The camera cannot be used; the message names the device."""


@dataclass
class CameraSource:
    """An opened capture; ``is_file`` is True for video files (they are paced and may loop)."""

    device: str
    capture: cv2.VideoCapture
    is_file: bool

    def read(self) -> np.ndarray | None:
        """The next BGR frame, or None (end of file, or the device delivered nothing)."""
        ok, frame = self.capture.read()
        return frame if ok and frame is not None else None

    def rewind(self) -> bool:
        return bool(self.capture.set(cv2.CAP_PROP_POS_FRAMES, 0))

    def release(self) -> None:
        self.capture.release()


def open_camera(device: str, capture_width: int = 0, capture_height: int = 0, fps: float = 0.0,
                first_frame_timeout_s: float = 3.0) -> CameraSource:
    """Open ``device`` and check that it delivers a first frame; CameraError naming it otherwise.

    ``capture_width``/``capture_height``/``fps`` (0 = driver default) are requests to a V4L2
    device; drivers may pick the nearest supported mode. They are ignored for files.
    """
    device = str(device).strip()
    if not device:
        raise CameraError("camera device is empty (expected e.g. /dev/video0, 0, or a video file)")
    if device.isdigit():
        capture, is_file = cv2.VideoCapture(int(device), cv2.CAP_V4L2), False
    else:
        if not os.path.exists(device):
            raise CameraError(f"camera device {device} does not exist (camera unplugged, or wrong device parameter)")
        is_file = os.path.isfile(device)
        capture = cv2.VideoCapture(device) if is_file else cv2.VideoCapture(device, cv2.CAP_V4L2)
    if not capture.isOpened():
        capture.release()
        what = "video file" if device and os.path.isfile(device) else "camera device"
        raise CameraError(f"{what} {device} could not be opened (busy, no permission, or not a video source)")
    if not is_file:
        if capture_width > 0 and capture_height > 0:
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, capture_width)
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, capture_height)
        if fps > 0:
            capture.set(cv2.CAP_PROP_FPS, fps)
        capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # keep latency low: no queue of stale frames
    source = CameraSource(device, capture, is_file)
    deadline = time.monotonic() + first_frame_timeout_s
    while True:
        frame = source.read()
        if frame is not None:
            break
        if is_file or time.monotonic() > deadline:
            source.release()
            raise CameraError(f"{device} opened but delivered no frame"
                              + ("" if is_file else f" within {first_frame_timeout_s} s"))
    if is_file:
        source.rewind()
    return source


def format_frame(frame: np.ndarray, encoding: str = "bgr8", width: int = 0, height: int = 0) -> np.ndarray:
    """BGR frame -> (H, W, 3) bgr8 or (H, W) mono8, resized to width x height when both are > 0."""
    if encoding not in ENCODINGS:
        raise ValueError(f"encoding {encoding!r} is not one of {', '.join(ENCODINGS)}")
    if width > 0 and height > 0 and (frame.shape[1], frame.shape[0]) != (width, height):
        frame = cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
    if encoding == "mono8":
        frame = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    return np.ascontiguousarray(frame)
