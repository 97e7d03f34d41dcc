"""What the web app needs from the car: :class:`ConsoleBackend`, implemented over ROS by the console node.

Every action the page can take goes through here, and the ROS implementation maps each to a topic
or a ROS service other tools can call too (docs/INTERFACES.md lists them):

=====================  ==================================================================
drive / stop           publish ``/cmd_vel`` (Twist); nothing is repeated by the server: the
                       page repeats while a key or the stick is held, so the control node's
                       watchdog stops the car when the page, network or browser goes away
calibration_pulse      publish ``/control/calibration_pwm`` [throttle_ns, steering_ns]
set_mode               ``/control/set_mode/<manual|autonomous|calibration>`` (std_srvs/Trigger)
emergency_stop         ``/control/emergency_stop`` (std_srvs/SetBool)
reload_calibration     ``/control/reload_calibration`` (std_srvs/Trigger)
set_max_speed          ``/control_node/set_parameters`` max_speed_scale
select_model           ``/inference_node/set_parameters`` model_path
autonomous             ``/inference/start_stop`` (std_srvs/SetBool)
=====================  ==================================================================
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Protocol

from .video import FrameHub


class BackendError(RuntimeError):
    """A ROS call failed or timed out; the message names the service."""


class ConsoleBackend(Protocol):
    frames: FrameHub

    def status(self) -> dict[str, Any]: ...

    def drive(self, throttle: float, steering: float) -> None: ...

    def calibration_pulse(self, throttle_ns: int, steering_ns: int) -> None: ...

    def set_mode(self, mode: str) -> str: ...

    def emergency_stop(self, engaged: bool) -> str: ...

    def reload_calibration(self) -> str: ...

    def set_max_speed(self, scale: float) -> str: ...

    def select_model(self, path: Path) -> str: ...

    def loaded_model(self) -> Path | None: ...

    def autonomous(self, run: bool) -> str: ...


def twist_from_stick(vehicle: Any, throttle: float, steering: float) -> tuple[float, float]:
    """Normalised stick (throttle, steering in [-1, 1]; > 0 = forward / left) -> cmd_vel (m/s, rad/s).

    speed = throttle * max_speed_m_s, steering angle = steering * max steering angle, through
    ``VehicleGeometry.twist_from_drive``. At standstill a yaw rate means nothing to an Ackermann car;
    the control node then turns the wheels to full lock in the sign of ``angular.z``
    (``drive_from_twist``), so ``angular.z = steering`` keeps "left" meaning left.
    """
    for name, value in (("throttle", throttle), ("steering", steering)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and -1.0 <= value <= 1.0):
            raise ValueError(f"{name} = {value!r} must be a number within [-1, 1]")
    speed = float(throttle) * vehicle.max_speed_m_s
    if abs(speed) < 1e-6:
        return 0.0, float(steering)
    return vehicle.twist_from_drive(speed, float(steering) * vehicle.max_steering_angle_rad)
