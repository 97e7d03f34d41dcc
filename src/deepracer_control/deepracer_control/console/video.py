"""The live camera feed for the browser: latest frame -> overlay -> JPEG -> MJPEG multipart stream.

:class:`FrameHub` keeps only the newest camera frame (a slow browser never queues frames), draws
the overlay (the inference decision, the steering/throttle the control node applied, frame rate and
latency) and encodes each frame to JPEG once, whatever the number of viewers. Encoding happens in
the viewers' threads, not in the ROS callback.

- frame rate: frames received per second over the last ``FPS_WINDOW`` frames;
- latency: receive time minus the image's header stamp (both wall-clock seconds: the camera node
  and the sim node at real-time rate stamp frames with the wall clock), in ms.

MJPEG (``multipart/x-mixed-replace``) is what an ``<img>`` element shows natively; no JavaScript
decoder is needed and the browser drops the stream when the page goes away.
"""
from __future__ import annotations

import math
import threading
import time
from collections import deque
from typing import Any, Callable, Iterator

import cv2
import numpy as np

BOUNDARY = "frame"
MIMETYPE = f"multipart/x-mixed-replace; boundary={BOUNDARY}"
FPS_WINDOW = 30
MIN_DISPLAY_WIDTH_PX = 480
PLACEHOLDER_PERIOD_S = 1.0
PLACEHOLDER_SHAPE = (240, 640)  # (H, W) of the "no camera yet" image


class FrameHub:
    """Newest frame + overlay state, shared by the ROS callbacks (writers) and the viewers (readers)."""

    def __init__(self, jpeg_quality: int = 80, clock: Callable[[], float] = time.time) -> None:
        if not 10 <= jpeg_quality <= 100:
            raise ValueError(f"jpeg_quality = {jpeg_quality} must be within [10, 100]")
        self.jpeg_quality = int(jpeg_quality)
        self._clock = clock
        self._cond = threading.Condition()
        self._frame: np.ndarray | None = None
        self._seq = 0
        self._jpeg: tuple[int, bytes] | None = None
        self._arrivals: deque[float] = deque(maxlen=FPS_WINDOW)
        self.latency_ms: float | None = None
        self.decision: dict[str, Any] | None = None
        self.applied: dict[str, Any] | None = None
        self.frames_streamed = 0

    # -- writers (ROS callbacks) --------------------------------------------------------------------
    def push(self, image: np.ndarray, stamp_s: float | None = None) -> None:
        """A camera frame: (H, W) gray or (H, W, 3) RGB uint8 (uint16 gray is scaled); stamp in wall s."""
        now = self._clock()
        if image.dtype == np.uint16:
            image = (image >> 8).astype(np.uint8)
        with self._cond:
            self._frame = image
            self._seq += 1
            self._arrivals.append(now)
            if stamp_s is not None and stamp_s > 0:
                self.latency_ms = (now - stamp_s) * 1000.0
            self._cond.notify_all()

    def set_decision(self, decision: dict[str, Any]) -> None:
        self.decision = decision

    def set_applied(self, applied: dict[str, Any]) -> None:
        self.applied = applied

    # -- readers ------------------------------------------------------------------------------------
    @property
    def frames_received(self) -> int:
        return self._seq

    def fps(self) -> float | None:
        with self._cond:
            if len(self._arrivals) < 2 or self._clock() - self._arrivals[-1] > 2.0:
                return None
            span = self._arrivals[-1] - self._arrivals[0]
            return (len(self._arrivals) - 1) / span if span > 0 else None

    def stats(self) -> dict[str, Any]:
        fps = self.fps()
        return {"frames_received": self._seq, "frames_streamed": self.frames_streamed,
                "fps": None if fps is None else round(fps, 2),
                "latency_ms": None if self.latency_ms is None or fps is None else round(self.latency_ms, 1)}

    def wait_jpeg(self, after_seq: int, timeout_s: float) -> tuple[int, bytes] | None:
        """The JPEG of the first frame newer than ``after_seq`` (waits up to ``timeout_s``), or None."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._seq > after_seq, timeout=timeout_s):
                return None
            if self._jpeg is not None and self._jpeg[0] == self._seq:
                return self._jpeg
            seq, frame = self._seq, self._frame
        jpeg = encode_jpeg(draw_overlay(frame, self.overlay_lines()), self.jpeg_quality)
        with self._cond:
            if self._jpeg is None or self._jpeg[0] < seq:
                self._jpeg = (seq, jpeg)
        return seq, jpeg

    def overlay_lines(self) -> list[str]:
        lines = []
        d = self.decision
        if d:
            lines.append(f"model: steer {_num(d.get('steering_deg'), '+.1f')} deg  "
                         f"speed {_num(d.get('speed_m_s'), '.2f')} m/s  ({_num(d.get('latency_ms'), '.1f')} ms)")
        a = self.applied
        if a:
            lines.append(f"{a.get('mode', '?')}/{a.get('reason', '?')}: steering {_num(a.get('steering'), '+.2f')}  "
                         f"throttle {_num(a.get('throttle'), '+.2f')}" + ("  E-STOP" if a.get("emergency_stop") else ""))
        s = self.stats()
        lines.append(f"{_num(s['fps'], '.1f')} fps  latency {_num(s['latency_ms'], '.0f')} ms")
        return lines

    def mjpeg(self, stop: threading.Event | None = None, max_fps: float = 30.0) -> Iterator[bytes]:
        """MJPEG parts, newest frame each; a placeholder image every second while no frame arrives."""
        seq, min_period = 0, 1.0 / max_fps if max_fps > 0 else 0.0
        last = 0.0
        while stop is None or not stop.is_set():
            got = self.wait_jpeg(seq, PLACEHOLDER_PERIOD_S)
            if got is None:
                jpeg = encode_jpeg(draw_overlay(np.zeros(PLACEHOLDER_SHAPE, np.uint8),
                                                ["waiting for /camera/image_raw"]), self.jpeg_quality)
            else:
                seq, jpeg = got
            wait = last + min_period - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            last = time.monotonic()
            self.frames_streamed += 1
            yield (f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n".encode("ascii")
                   + jpeg + b"\r\n")


def rgb_view(image: np.ndarray, encoding: str) -> np.ndarray:
    """An image from ``deepracer_inference.preprocess.image_from_buffer`` as gray (H, W) or RGB (H, W, 3)."""
    if image.ndim == 2:
        return image
    if encoding.startswith("bgr"):
        return image[..., 2::-1]
    return image[..., :3]


def _num(value: Any, fmt: str) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return format(value, fmt)
    return "-"


def draw_overlay(frame: np.ndarray, lines: list[str]) -> np.ndarray:
    """An RGB copy of ``frame`` scaled up to at least MIN_DISPLAY_WIDTH_PX wide, text lines at the top."""
    rgb = cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB) if frame.ndim == 2 else np.ascontiguousarray(frame[..., :3])
    h, w = rgb.shape[:2]
    if w < MIN_DISPLAY_WIDTH_PX:
        scale = int(math.ceil(MIN_DISPLAY_WIDTH_PX / w))
        rgb = cv2.resize(rgb, (w * scale, h * scale), interpolation=cv2.INTER_NEAREST)
    else:
        rgb = rgb.copy()
    y = 18
    for line in lines:
        (tw, th), _ = cv2.getTextSize(line, cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)
        box = rgb[max(0, y - th - 4):y + 5, 2:min(rgb.shape[1], tw + 10)]
        box[...] = box // 3                      # darken behind the text so it reads on any image
        cv2.putText(rgb, line, (6, y), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 0), 1, cv2.LINE_AA)
        y += 20
    return rgb


def encode_jpeg(rgb: np.ndarray, quality: int) -> bytes:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()
