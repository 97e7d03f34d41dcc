"""PWM backends: one interface, three implementations (Linux sysfs, the simulator, dry-run).

Every backend takes an :class:`ActuatorCommand` (normalised values and duty cycles, both already
clamped by :mod:`deepracer_control.drive`) and offers ``neutral()`` (throttle mid, steering mid) and
``close()`` (neutral, then release the outputs). ``close()`` is idempotent.

- :class:`SysfsPWM` writes the Linux PWM sysfs interface (``/sys/class/pwm/pwmchipN``) as the
  stock DeepRacer does: period 20 ms, throttle on channel 0, steering on channel 1. The kernel
  wants ``period`` before ``duty_cycle`` (a duty longer than the period is refused) and both before
  ``enable``; a freshly exported ``pwmM`` directory may appear a moment after the ``export`` write.
- :class:`SimPWM` keeps the latest normalised command; the control node turns it back into a
  Twist for the simulator (``/sim/cmd_vel``). No calibration is involved in what the sim sees.
- :class:`DryRunPWM` logs each change of command and drives nothing.

No rclpy here (core layer).
"""
from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .calibration import PWM_PERIOD_NS, Calibration

DEFAULT_SYSFS_ROOT = "/sys/class/pwm"
DEFAULT_THROTTLE_CHANNEL = 0
DEFAULT_STEERING_CHANNEL = 1


class PWMError(RuntimeError):
    """The PWM hardware cannot be used; the message names the sysfs path."""


@dataclass(frozen=True)
class ActuatorCommand:
    """What goes to the servo and the ESC.

    ``throttle``/``steering`` are normalised to [-1, 1] (before polarity; > 0 = forward / left);
    the duty cycles (ns) are what the calibration maps them to.
    """

    throttle: float
    steering: float
    throttle_duty_ns: int
    steering_duty_ns: int


def neutral_command(calibration: Calibration) -> ActuatorCommand:
    """Throttle stopped, steering centred: both channels at their calibrated mid."""
    return ActuatorCommand(0.0, 0.0, calibration.motor.mid_ns, calibration.servo.mid_ns)


class PWMBackend(ABC):
    """The backend interface; subclasses implement :meth:`_write` and optionally :meth:`_release`."""

    name = "abstract"

    def __init__(self, calibration: Calibration) -> None:
        self.calibration = calibration
        self.last: ActuatorCommand | None = None
        self.closed = False

    def apply(self, command: ActuatorCommand) -> None:
        """Drive both channels with ``command`` (ignored once closed)."""
        if self.closed:
            return
        self._write(command)
        self.last = command

    def set_duty_ns(self, throttle_duty_ns: int, steering_duty_ns: int) -> None:
        """Raw duty cycles (ns), e.g. while calibrating; the normalised values are derived."""
        self.apply(ActuatorCommand(self.calibration.motor.value_from_duty(throttle_duty_ns),
                                   self.calibration.servo.value_from_duty(steering_duty_ns),
                                   int(throttle_duty_ns), int(steering_duty_ns)))

    def set_throttle_duty_ns(self, duty_ns: int) -> None:
        steering = self.last.steering_duty_ns if self.last else self.calibration.servo.mid_ns
        self.set_duty_ns(duty_ns, steering)

    def set_steering_duty_ns(self, duty_ns: int) -> None:
        throttle = self.last.throttle_duty_ns if self.last else self.calibration.motor.mid_ns
        self.set_duty_ns(throttle, duty_ns)

    def neutral(self) -> None:
        self.apply(neutral_command(self.calibration))

    def close(self) -> None:
        """Neutral, then release the outputs. Safe to call twice."""
        if self.closed:
            return
        try:
            self.neutral()
        finally:
            self.closed = True
            self._release()

    @abstractmethod
    def _write(self, command: ActuatorCommand) -> None: ...

    def _release(self) -> None:
        pass

    def __enter__(self) -> "PWMBackend":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SysfsPWM(PWMBackend):
    """Linux PWM through sysfs: ``<root>/pwmchip<chip>/{export, pwm<M>/{period,duty_cycle,enable}}``.

    Opening exports both channels (when not yet exported), writes the 20 ms period, the neutral
    duty cycles, then ``enable = 1``. Later commands only rewrite ``duty_cycle`` when it changes.
    ``close()`` writes neutral, then ``enable = 0`` (channels stay exported).

    ``root`` is configurable so tests can use a fake tree; ``writes`` keeps the last 1000
    (path, value) writes in order, for debugging and tests.
    """

    name = "sysfs"

    def __init__(self, calibration: Calibration, chip: int = 0, *,
                 throttle_channel: int = DEFAULT_THROTTLE_CHANNEL,
                 steering_channel: int = DEFAULT_STEERING_CHANNEL,
                 root: str | Path = DEFAULT_SYSFS_ROOT, period_ns: int = PWM_PERIOD_NS,
                 export_timeout_s: float = 2.0) -> None:
        super().__init__(calibration)
        if throttle_channel == steering_channel:
            raise PWMError(f"throttle_channel and steering_channel are both {throttle_channel}")
        self.chip_dir = Path(root) / f"pwmchip{chip}"
        self.period_ns = int(period_ns)
        self.writes: deque[tuple[str, str]] = deque(maxlen=1000)
        self._duty_cache: dict[Path, int] = {}
        if not self.chip_dir.is_dir():
            raise PWMError(f"PWM chip not found: {self.chip_dir} does not exist "
                           f"(wrong pwm_chip, PWM overlay not loaded, or not running on the car)")
        self.throttle_dir = self._export(throttle_channel, export_timeout_s)
        self.steering_dir = self._export(steering_channel, export_timeout_s)
        neutral = neutral_command(calibration)
        for pwm_dir, duty in ((self.throttle_dir, neutral.throttle_duty_ns),
                              (self.steering_dir, neutral.steering_duty_ns)):
            self._write_file(pwm_dir / "period", self.period_ns)
            self._set_duty(pwm_dir, duty)
            self._write_file(pwm_dir / "enable", 1)
        self.last = neutral

    def _export(self, channel: int, timeout_s: float) -> Path:
        pwm_dir = self.chip_dir / f"pwm{channel}"
        if pwm_dir.is_dir():
            return pwm_dir
        self._write_file(self.chip_dir / "export", channel)
        deadline = time.monotonic() + timeout_s
        while not (pwm_dir / "duty_cycle").exists():  # udev may need a moment to create it
            if time.monotonic() > deadline:
                raise PWMError(f"exported channel {channel} but {pwm_dir} did not appear within {timeout_s} s")
            time.sleep(0.005)
        return pwm_dir

    def _write_file(self, path: Path, value: int) -> None:
        try:
            with open(path, "w", encoding="ascii") as fh:
                fh.write(str(int(value)))
        except PermissionError:
            raise PWMError(f"permission denied writing {path} (run as root or add a udev rule for the PWM chip)") from None
        except OSError as exc:
            raise PWMError(f"cannot write {value} to {path}: {exc.strerror}") from None
        self.writes.append((str(path), str(int(value))))

    def _set_duty(self, pwm_dir: Path, duty_ns: int) -> None:
        if not 0 <= duty_ns <= self.period_ns:
            raise PWMError(f"duty cycle {duty_ns} ns for {pwm_dir} is outside the period {self.period_ns} ns")
        if self._duty_cache.get(pwm_dir) != duty_ns:
            self._write_file(pwm_dir / "duty_cycle", duty_ns)
            self._duty_cache[pwm_dir] = duty_ns

    def _write(self, command: ActuatorCommand) -> None:
        self._set_duty(self.throttle_dir, command.throttle_duty_ns)
        self._set_duty(self.steering_dir, command.steering_duty_ns)

    def _release(self) -> None:
        for pwm_dir in (self.throttle_dir, self.steering_dir):
            self._write_file(pwm_dir / "enable", 0)


def disable_sysfs_outputs(chip: int = 0, channels: tuple[int, ...] = (DEFAULT_THROTTLE_CHANNEL, DEFAULT_STEERING_CHANNEL),
                          root: str | Path = DEFAULT_SYSFS_ROOT) -> list[Path]:
    """Stop the pulses on already-enabled channels (no export, no other write); return what was disabled.

    Used when the node refuses to start (e.g. invalid calibration): without a valid calibration the
    neutral duty is unknown, and no pulse at all is the state in which the ESC does not drive. The
    stock car has no watchdog, so an earlier process may have left a channel enabled and moving.
    Best effort: errors are ignored (the caller is already reporting a failure).
    """
    disabled = []
    for channel in channels:
        enable = Path(root) / f"pwmchip{chip}" / f"pwm{channel}" / "enable"
        try:
            if enable.read_text().strip() == "1":
                enable.write_text("0")
                disabled.append(enable.parent)
        except OSError:
            pass
    return disabled


class SimPWM(PWMBackend):
    """Records the latest command for the simulator; the control node publishes it on /sim/cmd_vel."""

    name = "sim"

    def __init__(self, calibration: Calibration | None = None) -> None:
        super().__init__(calibration or Calibration.default())
        self.last = neutral_command(self.calibration)

    def _write(self, command: ActuatorCommand) -> None:
        pass  # `self.last` (set by apply) is the whole state


class DryRunPWM(PWMBackend):
    """Logs every change of command (duty cycles in ns) and drives nothing."""

    name = "dry-run"

    def __init__(self, calibration: Calibration, log: Callable[[str], None] | None = None) -> None:
        super().__init__(calibration)
        self._log = log or logging.getLogger("deepracer_control.pwm").info
        self.log_count = 0

    def _write(self, command: ActuatorCommand) -> None:
        if command != self.last:
            self.log_count += 1
            self._log(f"dry-run PWM: throttle {command.throttle:+.3f} -> {command.throttle_duty_ns} ns, "
                      f"steering {command.steering:+.3f} -> {command.steering_duty_ns} ns")

    def _release(self) -> None:
        self._log("dry-run PWM: closed (neutral)")
