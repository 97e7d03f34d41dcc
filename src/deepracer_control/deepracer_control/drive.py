"""Drive command (cmd_vel Twist) -> normalised throttle/steering -> duty cycles, and back for the sim.

The chain, one step per line::

    (linear.x m/s, angular.z rad/s)
      -> (speed m/s, steering rad)        VehicleGeometry.drive_from_twist (deepracer_description;
                                          THE conversion: angular.z = v * tan(steering) / wheelbase)
      -> throttle = speed / max_speed_m_s * max_speed_scale      in [-1, 1], > 0 forward
         steering = steering_rad / max_steering_angle_rad        in [-1, 1], > 0 left
      -> duty cycles (ns)                 Calibration (polarity, min/mid/max, clamped)

Gotcha: the throttle is OPEN LOOP. The DeepRacer ESC has no speed feedback (no encoder), so a
throttle of 0.5 means "half of the calibrated ESC range", not "half of max_speed_m_s"; the real
speed depends on battery charge, floor and calibration. ``max_speed_scale`` (0..1) caps what the
car may use: a command of ``max_speed_m_s`` gives throttle = ``max_speed_scale``.

For the simulator the chain runs backwards without the calibration (:meth:`DriveMapper.to_twist`):
speed = throttle * max_speed_m_s, steering = steering * max_steering_angle_rad, then
``twist_from_drive``. So the sim sees the scaled, clamped command the car would get.

No rclpy here (core layer).
"""
from __future__ import annotations

import math
from typing import Protocol

from .calibration import RAW_MAX_NS, RAW_MIN_NS, Calibration
from .pwm import ActuatorCommand, neutral_command


class Vehicle(Protocol):
    """What is used from deepracer_description's VehicleGeometry."""

    max_steering_angle_rad: float
    max_speed_m_s: float

    def drive_from_twist(self, linear_x: float, angular_z: float) -> tuple[float, float]: ...

    def twist_from_drive(self, speed_m_s: float, steering_rad: float) -> tuple[float, float]: ...


def default_vehicle() -> Vehicle:
    """The DeepRacer geometry from the package URDF (deepracer_description.vehicle.load_vehicle)."""
    from deepracer_description.vehicle import load_vehicle
    return load_vehicle()


class DriveMapper:
    """Maps drive commands to :class:`ActuatorCommand` and counts clamped values.

    ``clamp_count`` counts commands in which throttle or steering had to be clamped to [-1, 1]
    (a speed above max_speed_m_s, a steering angle beyond the limit, NaN/inf).
    """

    def __init__(self, calibration: Calibration, vehicle: Vehicle | None = None,
                 max_speed_scale: float = 1.0) -> None:
        self.calibration = calibration
        self.vehicle = vehicle if vehicle is not None else default_vehicle()
        self.max_speed_scale = max_speed_scale
        self.clamp_count = 0

    @property
    def max_speed_scale(self) -> float:
        return self._max_speed_scale

    @max_speed_scale.setter
    def max_speed_scale(self, value: float) -> None:
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"max_speed_scale = {value} must be within [0, 1]")
        self._max_speed_scale = float(value)

    def normalised_from_twist(self, linear_x: float, angular_z: float) -> tuple[float, float]:
        """cmd_vel (m/s, rad/s) -> (throttle, steering), NOT yet clamped to [-1, 1]."""
        if not (math.isfinite(linear_x) and math.isfinite(angular_z)):
            return math.nan, math.nan  # clamped (and counted) to neutral by from_normalised
        speed_m_s, steering_rad = self.vehicle.drive_from_twist(linear_x, angular_z)
        throttle = speed_m_s / self.vehicle.max_speed_m_s * self._max_speed_scale
        steering = steering_rad / self.vehicle.max_steering_angle_rad
        return throttle, steering

    def from_twist(self, linear_x: float, angular_z: float) -> ActuatorCommand:
        """cmd_vel (m/s, rad/s) -> clamped actuator command."""
        return self.from_normalised(*self.normalised_from_twist(linear_x, angular_z))

    def from_normalised(self, throttle: float, steering: float) -> ActuatorCommand:
        """Normalised values -> clamped actuator command (NaN -> 0)."""
        throttle_ns, t_clamped = self.calibration.motor.duty_ns(throttle)
        steering_ns, s_clamped = self.calibration.servo.duty_ns(steering)
        if t_clamped or s_clamped:
            self.clamp_count += 1
        return ActuatorCommand(_clip_unit(throttle), _clip_unit(steering), throttle_ns, steering_ns)

    def from_duty_ns(self, throttle_duty_ns: float, steering_duty_ns: float) -> ActuatorCommand:
        """Raw duty cycles (calibration mode) -> command; clamped to the safe window RAW_MIN_NS..RAW_MAX_NS
        (1.0-2.0 ms, NOT the calibrated range: calibrating means finding that range)."""
        duties = []
        clamped = False
        for value in (throttle_duty_ns, steering_duty_ns):
            if not math.isfinite(value):
                value, clamped = math.nan, True
            elif not RAW_MIN_NS <= value <= RAW_MAX_NS:
                value, clamped = max(RAW_MIN_NS, min(RAW_MAX_NS, value)), True
            duties.append(value)
        throttle_ns = self.calibration.motor.mid_ns if math.isnan(duties[0]) else int(round(duties[0]))
        steering_ns = self.calibration.servo.mid_ns if math.isnan(duties[1]) else int(round(duties[1]))
        if clamped:
            self.clamp_count += 1
        return ActuatorCommand(self.calibration.motor.value_from_duty(throttle_ns),
                               self.calibration.servo.value_from_duty(steering_ns), throttle_ns, steering_ns)

    def neutral(self) -> ActuatorCommand:
        return neutral_command(self.calibration)

    def to_drive(self, command: ActuatorCommand) -> tuple[float, float]:
        """Actuator command -> (speed m/s, front virtual-wheel steering angle rad, > 0 = left): the
        open-loop car command it stands for (URDF max speed and steering limit; no calibration)."""
        return (command.throttle * self.vehicle.max_speed_m_s,
                command.steering * self.vehicle.max_steering_angle_rad)

    def to_twist(self, command: ActuatorCommand) -> tuple[float, float]:
        """Actuator command -> (linear.x m/s, angular.z rad/s) for the simulator (no calibration)."""
        return self.vehicle.twist_from_drive(*self.to_drive(command))


def _clip_unit(value: float) -> float:
    if not math.isfinite(value):
        return 0.0
    return max(-1.0, min(1.0, float(value)))
