"""Camera capture for the car camera node: open a V4L2 device (or a video file), read, format frames.

Core layer (OpenCV + numpy, no rclpy). ``device`` is a V4L2 path (``/dev/video0``), a camera index
(``"0"``), or a video file path: OpenCV reads files through the same ``VideoCapture`` API, which
is how the node is tested without a camera (a real capture path, not a mock).

Frames come out of OpenCV as BGR ``uint8`` (H, W, 3). :func:`format_frame` optionally resizes them
(``cv2.INTER_AREA``: the camera's own downscale, not the agent's preprocessing, which the
inference node applies to whatever it receives) and converts to ``mono8``.

:class:`ReopeningCamera` survives an unplug: when the device path vanishes (a V4L2 node
``/dev/videoN`` disappears on unplug; a video file is removed or renamed) or a device delivers
nothing for ``lost_after_s``, it releases the dead handle and reopens the path with a capped
backoff until the device (or file) is back, then streams again.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Callable

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


STREAMING, LOST = "streaming", "lost"


@dataclass
class ReopeningCamera:
    """A capture that reopens its device after an unplug (state machine; no threads, no rclpy).

    Call :meth:`read` in the capture loop: it returns a frame, or None (no frame now: see
    :attr:`at_end_of_file` and :attr:`state`), and sleeps for nothing; wait :meth:`wait_s`
    seconds before calling again after a None. Reports for the operator are queued as
    ``(level, message)`` with level ``"error"`` (lost, once per loss), ``"warn"`` (still lost,
    at most every ``warn_every_s``) or ``"info"`` (back); take them with :meth:`take_reports`.

    Times in seconds on ``clock`` (monotonic). ``opener`` opens the device (``open_camera``
    with the node's settings) and raises :class:`CameraError` while it is not usable.
    """

    source: CameraSource | None
    opener: Callable[[], CameraSource]
    device: str
    lost_after_s: float = 1.0      # a device delivering nothing this long is released and reopened
    retry_initial_s: float = 0.25  # first reopen attempt after a loss
    retry_max_s: float = 1.0       # backoff doubles up to this between reopen attempts
    warn_every_s: float = 2.0      # "still lost" warnings at most this often
    clock: Callable[[], float] = time.monotonic
    exists: Callable[[str], bool] = os.path.exists
    state: str = STREAMING
    at_end_of_file: bool = False
    losses: int = 0                # how many times the device was lost (and reopens started)
    _reports: list = field(default_factory=list)
    _first_failure: float | None = None
    _lost_since: float = 0.0
    _retry_delay: float = 0.0
    _next_retry: float = 0.0
    _next_warn: float = 0.0
    _last_error: str = ""

    def __post_init__(self) -> None:
        if self.source is None:
            self.state = LOST
            self._lost_since = self._next_retry = self.clock()
            self._retry_delay = self.retry_initial_s

    @property
    def is_file(self) -> bool:
        return self.source is not None and self.source.is_file

    @property
    def _has_path(self) -> bool:
        return not self.device.isdigit()  # a camera index has no path to watch

    def read(self) -> np.ndarray | None:
        """The next frame, or None (end of file, a missed frame, or the device is lost)."""
        self.at_end_of_file = False
        now = self.clock()
        if self.state == LOST:
            if now < self._next_retry or not self._try_reopen(now):
                return None
        if self._has_path and not self.exists(self.device):
            self._lose(now, f"{self.device} disappeared (camera unplugged, or file removed)")
            return None
        frame = self.source.read()
        if frame is not None:
            self._first_failure = None
            return frame
        if self.source.is_file:
            self.at_end_of_file = True
            return None
        if self._first_failure is None:
            self._first_failure = now
        elif now - self._first_failure >= self.lost_after_s:
            self._lose(now, f"{self.device} delivered no frame for {now - self._first_failure:.1f} s")
        return None

    def rewind(self) -> bool:
        """Video files: back to the first frame (False when the source cannot seek or is lost)."""
        return self.source is not None and self.source.rewind()

    def wait_s(self) -> float:
        """How long to wait after a None before reading again, s."""
        if self.state == LOST:
            return min(max(self._next_retry - self.clock(), 0.0), self.retry_max_s)
        return 0.05

    def take_reports(self) -> list[tuple[str, str]]:
        reports, self._reports = self._reports, []
        return reports

    def release(self) -> None:
        if self.source is not None:
            self.source.release()
            self.source = None

    def _lose(self, now: float, why: str) -> None:
        self.release()
        self.state = LOST
        self.losses += 1
        self._first_failure = None
        self._lost_since = now
        self._retry_delay = self.retry_initial_s
        self._next_retry = now + self._retry_delay
        self._next_warn = now + self.warn_every_s
        self._reports.append(("error", f"camera lost: {why}; no images until it is back "
                                       f"(reopening every <= {self.retry_max_s:g} s)"))

    def _try_reopen(self, now: float) -> bool:
        try:
            self.source = self.opener()
        except CameraError as exc:
            self._last_error = str(exc)
            self._retry_delay = min(self._retry_delay * 2.0, self.retry_max_s)
            self._next_retry = self.clock() + self._retry_delay
            if now >= self._next_warn:
                self._next_warn = now + self.warn_every_s
                self._reports.append(("warn", f"camera {self.device} still lost after "
                                              f"{now - self._lost_since:.0f} s: {self._last_error}"))
            return False
        self.state = STREAMING
        self._first_failure = None
        self._reports.append(("info", f"camera {self.device} is back after {now - self._lost_since:.1f} s: "
                                      f"publishing again"))
        return True
