"""Servo and ESC calibration in DeepRacer's ``calibration.json`` format, and the value -> duty mapping.

The file (as the stock car's servo package writes it, durations in nanoseconds)::

    {"Calibration": {"Servo": {"min": 1200000, "mid": 1450000, "max": 1700000, "polarity": 1},
                     "Motor": {"min": 1311000, "mid": 1446000, "max": 1603500, "polarity": -1}},
     "version": 1}

"Servo" is the steering servo, "Motor" the ESC (electronic speed controller). Both are driven by a
PWM signal with a 20 ms period; the pulse width (duty cycle, ns) encodes the command.

Mapping (the stock car's formula): a normalised value ``v`` in [-1, 1] is multiplied by the
polarity, ``w = v * polarity``, then::

    duty_ns = mid + w * (mid - min)   if w < 0
    duty_ns = mid + w * (max - mid)   otherwise

and the result is clamped to [min, max]. Values outside [-1, 1] (or NaN) are clamped and counted,
so a caller can report how often a command asked for more than the calibration allows.

Gotcha: ``min``/``max`` are pulse widths, not directions. Which way the wheels turn or the car
drives for a longer pulse depends on the servo/ESC; ``polarity`` (+1 or -1) fixes that so that
``v > 0`` always means "left" for steering and "forward" for throttle.

No rclpy here: this module is the core layer, used by the control node and the calibrate CLI.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deepracer_common.fileio import atomic_write_bytes, atomic_write_json

PWM_PERIOD_NS = 20_000_000
"""The PWM period of both channels: 20 ms (50 Hz), as the DeepRacer servo and ESC expect."""

CALIBRATION_VERSION = 1

#: The servo/ESC pulse range, the hobby-RC convention: 1.0-2.0 ms. Every calibrated min/mid/max and
#: every raw pulse (calibration mode, the calibrate tool, the console's sliders) must lie within it;
#: a calibration.json outside it is refused everywhere (a 10 ms "mid" would be sent to the ESC).
RAW_MIN_NS = 1_000_000
RAW_MAX_NS = 2_000_000
BACKUP_SUFFIX = ".bak"
""":func:`save_calibration` with ``backup=True`` keeps the previous file as ``<name>.bak``."""


class CalibrationError(ValueError):
    """An invalid calibration; the message names the file (when known) and the field."""


@dataclass(frozen=True)
class ChannelCalibration:
    """Calibration of one PWM channel: pulse widths in ns and the polarity (+1 or -1)."""

    min_ns: int
    mid_ns: int
    max_ns: int
    polarity: int

    def validate(self, name: str, source: str = "calibration") -> None:
        """Raise CalibrationError naming ``<source>: Calibration.<name>.<field>`` when invalid."""
        where = f"{source}: Calibration.{name}"
        for field, value in (("min", self.min_ns), ("mid", self.mid_ns), ("max", self.max_ns)):
            if not RAW_MIN_NS <= value <= RAW_MAX_NS:
                raise CalibrationError(
                    f"{where}.{field} = {value} ns is outside the servo/ESC pulse range "
                    f"{RAW_MIN_NS}-{RAW_MAX_NS} ns (1-2 ms)")
        if self.min_ns >= self.max_ns:
            raise CalibrationError(
                f"{where}.min = {self.min_ns} ns must be below {name}.max = {self.max_ns} ns")
        if not self.min_ns <= self.mid_ns <= self.max_ns:
            raise CalibrationError(
                f"{where}.mid = {self.mid_ns} ns is outside [min, max] = [{self.min_ns}, {self.max_ns}] ns")
        if self.polarity not in (1, -1):
            raise CalibrationError(f"{where}.polarity = {self.polarity!r} must be 1 or -1")

    def duty_ns(self, value: float) -> tuple[int, bool]:
        """Normalised ``value`` in [-1, 1] -> (duty cycle in ns, clamped?).

        ``clamped`` is True when ``value`` was outside [-1, 1] or not finite (NaN maps to mid).
        """
        if not math.isfinite(value):
            return self.mid_ns, True
        clamped = abs(value) > 1.0
        w = max(-1.0, min(1.0, value)) * self.polarity
        if w < 0:
            duty = self.mid_ns + w * (self.mid_ns - self.min_ns)
        else:
            duty = self.mid_ns + w * (self.max_ns - self.mid_ns)
        duty_int = int(round(duty))
        return max(self.min_ns, min(self.max_ns, duty_int)), clamped

    def value_from_duty(self, duty_ns: float) -> float:
        """Inverse of :meth:`duty_ns`: a duty cycle (ns, clamped to [min, max]) -> value in [-1, 1]."""
        d = max(self.min_ns, min(self.max_ns, float(duty_ns)))
        if d < self.mid_ns:
            w = (d - self.mid_ns) / (self.mid_ns - self.min_ns)
        elif d > self.mid_ns:
            w = (d - self.mid_ns) / (self.max_ns - self.mid_ns)
        else:
            w = 0.0
        return w * self.polarity + 0.0  # + 0.0: no "-0.0" for polarity -1

    def to_dict(self) -> dict[str, int]:
        return {"min": self.min_ns, "mid": self.mid_ns, "max": self.max_ns, "polarity": self.polarity}


@dataclass(frozen=True)
class Calibration:
    """Steering servo and ESC ("Motor") calibration."""

    servo: ChannelCalibration
    motor: ChannelCalibration

    @classmethod
    def default(cls) -> "Calibration":
        """The stock DeepRacer defaults (servo polarity +1, motor polarity -1)."""
        return cls(servo=ChannelCalibration(1_200_000, 1_450_000, 1_700_000, 1),
                   motor=ChannelCalibration(1_311_000, 1_446_000, 1_603_500, -1))

    def validate(self, source: str = "calibration") -> None:
        self.servo.validate("Servo", source)
        self.motor.validate("Motor", source)

    @classmethod
    def from_dict(cls, data: Any, source: str = "calibration") -> "Calibration":
        """Parse and validate the calibration.json structure; raise CalibrationError naming the field."""
        if not isinstance(data, dict):
            raise CalibrationError(f"{source}: the top level must be a JSON object, got {type(data).__name__}")
        if "Calibration" not in data:
            raise CalibrationError(f"{source}: missing key 'Calibration'")
        version = data.get("version", CALIBRATION_VERSION)
        if version != CALIBRATION_VERSION:
            raise CalibrationError(f"{source}: version = {version!r} is not supported (expected {CALIBRATION_VERSION})")
        body = data["Calibration"]
        if not isinstance(body, dict):
            raise CalibrationError(f"{source}: Calibration must be an object")
        channels = {name: _parse_channel(body, name, source) for name in ("Servo", "Motor")}
        cal = cls(servo=channels["Servo"], motor=channels["Motor"])
        cal.validate(source)
        return cal

    def to_dict(self) -> dict[str, Any]:
        return {"Calibration": {"Servo": self.servo.to_dict(), "Motor": self.motor.to_dict()},
                "version": CALIBRATION_VERSION}


def _parse_channel(body: dict, name: str, source: str) -> ChannelCalibration:
    if name not in body:
        raise CalibrationError(f"{source}: missing key Calibration.{name}")
    ch = body[name]
    if not isinstance(ch, dict):
        raise CalibrationError(f"{source}: Calibration.{name} must be an object")
    values: dict[str, int] = {}
    for field in ("min", "mid", "max", "polarity"):
        if field not in ch:
            raise CalibrationError(f"{source}: missing key Calibration.{name}.{field}")
        raw = ch[field]
        # bool is an int in Python; "true" is never a pulse width. Floats must be whole numbers of ns.
        if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw) \
                or float(raw) != int(raw):
            raise CalibrationError(
                f"{source}: Calibration.{name}.{field} = {raw!r} must be an integer (ns, or +-1 for polarity)")
        values[field] = int(raw)
    return ChannelCalibration(values["min"], values["mid"], values["max"], values["polarity"])


def load_calibration(path: str | os.PathLike[str]) -> Calibration:
    """Read and validate a calibration.json; CalibrationError names the file and the field."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CalibrationError(f"{p}: calibration file not found") from None
    except OSError as exc:
        raise CalibrationError(f"{p}: cannot read the calibration file ({exc.strerror})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CalibrationError(f"{p}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    return Calibration.from_dict(data, source=str(p))


def save_calibration(calibration: Calibration, path: str | os.PathLike[str], backup: bool = False) -> Path | None:
    """Validate, then write atomically (``deepracer_common.fileio``: temp file beside it, fsync, rename).

    ``backup=True``: an existing file is first copied (atomically too) to ``<path>.bak``, replacing
    an older backup. Returns the backup path, or None when there was nothing to keep.
    Raises CalibrationError (invalid calibration: nothing written) or OSError (the folder cannot be
    written: the old file is untouched).
    """
    p = Path(path)
    calibration.validate(str(p))
    kept = None
    if backup and p.is_file():
        kept = p.with_name(p.name + BACKUP_SUFFIX)
        atomic_write_bytes(kept, p.read_bytes())
    atomic_write_json(p, calibration.to_dict())
    return kept
