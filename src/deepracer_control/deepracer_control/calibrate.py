"""Interactive calibration of the steering servo and the ESC: ``python -m deepracer_control.calibrate``.

No ROS needed: it drives the PWM channels directly (sysfs on the car, or ``--backend dry-run``) and
writes DeepRacer's ``calibration.json`` atomically. PUT THE CAR ON A STAND (wheels off the ground)
before touching the throttle.

Commands, one per line (from the keyboard, or piped in a script)::

    s <ns> | t <ns>          set the steering / throttle pulse width in ns (clamped to 1.0-2.0 ms)
    s+ [ns] | s- [ns]        nudge steering by ns (default 10000 = 0.01 ms); t+ / t- for throttle
    mark servo|motor min|mid|max   record the CURRENT steering (servo) / throttle (motor) pulse
    polarity servo|motor 1|-1      1: a longer pulse steers LEFT / drives FORWARD; -1: the opposite
    neutral                  both channels back to the working calibration's mid
    show                     the working calibration and the current pulses
    save [path]              validate and write the file (or path); the old file is kept as .bak
    quit                     neutral, outputs disabled, exit (also on end of input or Ctrl-C)

The session starts from the file given with ``--file``; when that file does not exist yet, from the
stock DeepRacer defaults. An existing file that is invalid (bad JSON, a pulse outside 1-2 ms, ...)
is refused with the reason and exit status 2, so a typo never turns into the defaults overwriting
the user's file; ``--start-from-defaults`` starts from the defaults anyway (``save`` then keeps the
old file as ``<file>.bak``). A ``save`` that cannot write (bad folder, permissions) says why and
keeps the session and its marks. The procedure is in the package README ("How to calibrate a car").
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import TextIO

from .calibration import (RAW_MAX_NS, RAW_MIN_NS, Calibration, CalibrationError, ChannelCalibration,
                          load_calibration, save_calibration)
from .pwm import DEFAULT_SYSFS_ROOT, DryRunPWM, PWMBackend, PWMError, SysfsPWM

COMMAND_HELP = "interactive servo and ESC calibration (writes calibration.json; car on a stand)"  # `deepracer --help`

DEFAULT_STEP_NS = 10_000
HELP = __doc__.split("::\n\n")[1].split("\n\n")[0]


class CalibrationSession:
    """The state of an interactive calibration; :meth:`execute` runs one command line, returns the reply."""

    def __init__(self, backend: PWMBackend, start: Calibration, path: str) -> None:
        self.backend = backend
        self.path = path
        self.values = {"servo": start.servo.to_dict(), "motor": start.motor.to_dict()}
        self.steering_ns = _in_window(start.servo.mid_ns)
        self.throttle_ns = _in_window(start.motor.mid_ns)
        self.done = False
        self._output()

    def _output(self) -> None:
        """Send the current pulses; every pulse this tool sends passes the 1-2 ms window here."""
        self.steering_ns, self.throttle_ns = _in_window(self.steering_ns), _in_window(self.throttle_ns)
        self.backend.set_duty_ns(self.throttle_ns, self.steering_ns)

    def working(self) -> Calibration:
        return Calibration(servo=_channel(self.values["servo"]), motor=_channel(self.values["motor"]))

    def execute(self, line: str) -> str:
        words = line.split()
        if not words or words[0].startswith("#"):
            return ""
        cmd, args = words[0].lower(), words[1:]
        if cmd == "help":
            return HELP
        try:
            if cmd in ("s", "t") and len(args) == 1:
                return self._set(cmd, _ns(args[0]))
            if cmd in ("s+", "s-", "t+", "t-") and len(args) <= 1:
                step = _ns(args[0]) if args else DEFAULT_STEP_NS
                current = self.steering_ns if cmd[0] == "s" else self.throttle_ns
                return self._set(cmd[0], current + (step if cmd[1] == "+" else -step))
            if cmd == "mark" and len(args) == 2 and args[0] in self.values and args[1] in ("min", "mid", "max"):
                value = self.steering_ns if args[0] == "servo" else self.throttle_ns
                self.values[args[0]][args[1]] = value
                return f"{args[0]}.{args[1]} = {value} ns"
            if cmd == "polarity" and len(args) == 2 and args[0] in self.values and args[1] in ("1", "-1", "+1"):
                self.values[args[0]]["polarity"] = int(args[1])
                return f"{args[0]}.polarity = {int(args[1])}"
            if cmd == "neutral" and not args:
                self.steering_ns = self.values["servo"]["mid"]
                self.throttle_ns = self.values["motor"]["mid"]
                self._output()
                return self._pulses()
            if cmd == "show" and not args:
                return f"working calibration: {self.values}\n{self._pulses()}"
            if cmd == "save" and len(args) <= 1:
                return self._save(args[0] if args else self.path)
            if cmd in ("quit", "exit", "q") and not args:
                self.done = True
                return "bye (neutral, outputs disabled)"
        except ValueError as exc:  # int() of a bad number, or CalibrationError
            if isinstance(exc, CalibrationError):
                return f"error: not saved: {exc}"
            return f"error: {exc}"
        return f"error: unknown or malformed command {line.strip()!r} (type 'help' for the commands)"

    def _save(self, path: str) -> str:
        try:
            kept = save_calibration(self.working(), path, backup=True)
        except OSError as exc:
            return (f"error: not saved: cannot write {path} ({exc.strerror or exc}); your marks are kept, "
                    "try 'save <other path>'")
        self.path = path
        return f"saved {path}" + (f" (previous file kept as {kept})" if kept else "")

    def _set(self, which: str, duty_ns: int) -> str:
        clamped = max(RAW_MIN_NS, min(RAW_MAX_NS, duty_ns))
        if which == "s":
            self.steering_ns = clamped
        else:
            self.throttle_ns = clamped
        self._output()
        note = f" (clamped from {duty_ns} to the safe window {RAW_MIN_NS}-{RAW_MAX_NS} ns)" if clamped != duty_ns else ""
        return self._pulses() + note

    def _pulses(self) -> str:
        return f"steering {self.steering_ns} ns, throttle {self.throttle_ns} ns"


def _in_window(duty_ns: int) -> int:
    """Clamp a pulse to the servo/ESC window RAW_MIN_NS..RAW_MAX_NS (1-2 ms)."""
    return max(RAW_MIN_NS, min(RAW_MAX_NS, int(duty_ns)))


def _ns(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a whole number of ns") from None


def _channel(d: dict) -> ChannelCalibration:
    return ChannelCalibration(d["min"], d["mid"], d["max"], d["polarity"])


def run_session(session: CalibrationSession, stdin: TextIO, stdout: TextIO, prompt: bool) -> None:
    while not session.done:
        if prompt:
            stdout.write("calibrate> ")
            stdout.flush()
        line = stdin.readline()
        if not line:
            break
        reply = session.execute(line)
        if reply:
            print(reply, file=stdout, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deepracer_control.calibrate",
                                     description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--file", default="calibration.json", help="calibration.json to start from and save to")
    parser.add_argument("--backend", choices=("sysfs", "dry-run"), default="sysfs")
    parser.add_argument("--pwm-chip", type=int, default=0)
    parser.add_argument("--sysfs-root", default=DEFAULT_SYSFS_ROOT)
    parser.add_argument("--throttle-channel", type=int, default=0)
    parser.add_argument("--steering-channel", type=int, default=1)
    parser.add_argument("--start-from-defaults", action="store_true",
                        help="start from the stock defaults even when --file exists (save keeps it as .bak)")
    args = parser.parse_args(argv)

    if args.start_from_defaults:
        start, origin = Calibration.default(), "the stock defaults (--start-from-defaults)"
    elif not os.path.lexists(args.file):
        start, origin = Calibration.default(), f"the stock defaults ({args.file} does not exist yet)"
    else:
        try:
            start, origin = load_calibration(args.file), args.file
        except CalibrationError as exc:
            print(f"calibrate: {exc}\ncalibrate: nothing was changed; fix the file, or start over with "
                  "--start-from-defaults (save then keeps the old file as .bak)", file=sys.stderr)
            return 2
    try:
        if args.backend == "sysfs":
            backend: PWMBackend = SysfsPWM(start, args.pwm_chip, throttle_channel=args.throttle_channel,
                                           steering_channel=args.steering_channel, root=args.sysfs_root)
        else:
            backend = DryRunPWM(start, log=lambda text: print(text, file=sys.stderr))
    except PWMError as exc:
        print(f"calibrate: {exc}", file=sys.stderr)
        return 1
    print(f"calibrating from {origin}; saving to {args.file}. Wheels off the ground! Type 'help'.", flush=True)
    try:
        session = CalibrationSession(backend, start, args.file)
        run_session(session, sys.stdin, sys.stdout, prompt=sys.stdin.isatty())
    except KeyboardInterrupt:
        print()
    finally:
        backend.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
