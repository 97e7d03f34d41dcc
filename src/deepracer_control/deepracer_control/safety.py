"""Safety: command watchdog, emergency-stop latch, mode arbiter, and the supervisor combining them.

Plain classes with an injected clock (a ``() -> seconds`` callable, monotonic) so they are unit
tested without sleeping and without ROS.

- :class:`Watchdog`: expired when no command was fed for ``timeout_s`` (default 0.25 s), and
  before the first command.
- :class:`EmergencyStop`: a latch; once engaged it stays engaged until released explicitly.
- :class:`ModeArbiter`: ``manual`` passes only teleop commands (``/cmd_vel``), ``autonomous`` only
  inference commands (``/cmd_vel_auto``), ``calibration`` only raw calibration commands. So a
  teleop tool and the inference node never fight over the car.
- :class:`SafetySupervisor`: keeps the latest accepted command and decides what the PWM gets:
  neutral (throttle stopped, steering centred) on emergency stop, on watchdog timeout, and until
  the first command; the command otherwise. Changing the mode or engaging the emergency stop
  forgets the held command, so nothing old resumes: a fresh command is needed.

The stock DeepRacer has no watchdog: its servo node keeps the last duty cycle until a new
message arrives, so a crashed inference node leaves the car driving. This package does not.
"""
from __future__ import annotations

import time
from enum import Enum
from typing import Callable, Generic, TypeVar

Clock = Callable[[], float]
DEFAULT_WATCHDOG_TIMEOUT_S = 0.25


class Mode(str, Enum):
    MANUAL = "manual"
    AUTONOMOUS = "autonomous"
    CALIBRATION = "calibration"


class Source(str, Enum):
    """Where a command comes from."""

    TELEOP = "/cmd_vel"
    INFERENCE = "/cmd_vel_auto"
    CALIBRATION = "calibration"


MODE_SOURCE: dict[Mode, Source] = {
    Mode.MANUAL: Source.TELEOP,
    Mode.AUTONOMOUS: Source.INFERENCE,
    Mode.CALIBRATION: Source.CALIBRATION,
}

MODES = tuple(m.value for m in Mode)


def parse_mode(value: str) -> Mode:
    """'manual' | 'autonomous' | 'calibration' -> Mode; ValueError naming the choices otherwise."""
    try:
        return Mode(value)
    except ValueError:
        raise ValueError(f"mode = {value!r} is not one of {', '.join(MODES)}") from None


class Watchdog:
    """Expires ``timeout_s`` seconds after the last :meth:`feed` (and is expired before the first)."""

    def __init__(self, timeout_s: float = DEFAULT_WATCHDOG_TIMEOUT_S, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self.timeout_s = timeout_s
        self._last_feed: float | None = None
        self.expiry_count = 0  # transitions from fed to expired
        self._was_alive = False

    @property
    def timeout_s(self) -> float:
        return self._timeout_s

    @timeout_s.setter
    def timeout_s(self, value: float) -> None:
        if not value > 0:
            raise ValueError(f"watchdog timeout_s = {value} must be > 0 s")
        self._timeout_s = float(value)

    def feed(self) -> None:
        self._last_feed = self._clock()

    def reset(self) -> None:
        """Back to the "no command yet" state (expired)."""
        self._last_feed = None
        self._was_alive = False

    def expired(self) -> bool:
        alive = self._last_feed is not None and self._clock() - self._last_feed <= self._timeout_s
        if self._was_alive and not alive:
            self.expiry_count += 1
        self._was_alive = alive
        return not alive


class EmergencyStop:
    """A latch: engaged until released."""

    def __init__(self) -> None:
        self.engaged = False
        self.engage_count = 0

    def engage(self) -> None:
        if not self.engaged:
            self.engage_count += 1
        self.engaged = True

    def release(self) -> None:
        self.engaged = False


class ModeArbiter:
    """Lets through only the commands of the source that belongs to the current mode."""

    def __init__(self, mode: Mode | str = Mode.MANUAL) -> None:
        self.mode = parse_mode(mode) if isinstance(mode, str) else mode
        self.rejected_count = 0

    def set_mode(self, mode: Mode | str) -> Mode:
        self.mode = parse_mode(mode) if isinstance(mode, str) else mode
        return self.mode

    def accepts(self, source: Source) -> bool:
        ok = MODE_SOURCE[self.mode] is source
        if not ok:
            self.rejected_count += 1
        return ok


C = TypeVar("C")


class SafetySupervisor(Generic[C]):
    """Decides, at any moment, which command the actuators get, and why.

    ``output()`` returns ``(command, reason)`` with reason one of ``"command"``, ``"idle"`` (no
    command yet in this mode), ``"watchdog"`` (commands stopped), ``"emergency_stop"``.
    """

    def __init__(self, neutral: C, mode: Mode | str = Mode.MANUAL,
                 timeout_s: float = DEFAULT_WATCHDOG_TIMEOUT_S, clock: Clock = time.monotonic) -> None:
        self.neutral = neutral
        self.arbiter = ModeArbiter(mode)
        self.watchdog = Watchdog(timeout_s, clock)
        self.estop = EmergencyStop()
        self._command: C | None = None

    @property
    def mode(self) -> Mode:
        return self.arbiter.mode

    def set_mode(self, mode: Mode | str) -> Mode:
        """Switch mode; the held command is forgotten (neutral until the new source speaks)."""
        new = self.arbiter.set_mode(mode)
        self._forget()
        return new

    def submit(self, source: Source, command: C) -> bool:
        """Offer a command; returns False (and ignores it) if the mode does not accept ``source``."""
        if not self.arbiter.accepts(source):
            return False
        self._command = command
        self.watchdog.feed()
        return True

    def emergency_stop(self, engage: bool) -> None:
        if engage:
            self.estop.engage()
            self._forget()
        else:
            self.estop.release()

    def output(self) -> tuple[C, str]:
        expired = self.watchdog.expired()
        if self.estop.engaged:
            return self.neutral, "emergency_stop"
        if self._command is None:
            return self.neutral, "idle"
        if expired:
            return self.neutral, "watchdog"
        return self._command, "command"

    def _forget(self) -> None:
        self._command = None
        self.watchdog.reset()
