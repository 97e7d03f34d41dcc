"""The embedded sim node's episode referee for a car that another simulator moves (Gazebo).

Under Gazebo the car's pose comes from gz-sim (OdometryPublisher, bridged to /odom) and its camera
frames from gz-sensors; what the embedded sim node adds on top, the AWS episode rules and the lap
bookkeeping (`/sim/lap_status`, `/sim/reset`), is THE same `SimSession` here, run on an
`ExternalCar` instead of a `BatchSim`:

- `ExternalCar.set_pose(...)` stores the latest odometry; `SimSession.step()` (one per camera frame)
  then applies the rules to it (its own `step` is a no-op: Gazebo moves the car);
- a new episode (`SimSession.reset()`, also after an off-track frame) calls `ExternalCar.reset`,
  which records the start pose as `teleport` for the node to send to Gazebo (`set_pose_request`).

`set_pose_command(world, model, x, y, z, yaw)` is the ``gz service`` command line that moves the model
(gz-sim's UserCommands ``/world/<world>/set_pose``, gz.msgs.Pose -> gz.msgs.Boolean). No rclpy.
"""
from __future__ import annotations

import math

import numpy as np

from deepracer_description.vehicle import VehicleGeometry

__all__ = ["ExternalCar", "set_pose_command"]


class ExternalCar:
    """The subset of `BatchSim` that `SimSession` uses, for one car whose pose is set from outside."""

    n_cars = 1

    def __init__(self, track, vehicle: VehicleGeometry, dt_s: float) -> None:
        self.track = track
        self.vehicle = vehicle
        self.dt_s = float(dt_s)
        self.x, self.y, self.yaw = np.zeros(1), np.zeros(1), np.zeros(1)
        self.speed, self.yaw_rate, self.lateral_speed = np.zeros(1), np.zeros(1), np.zeros(1)
        self.teleport: tuple[float, float, float] | None = None
        """The start pose (x m, y m, yaw rad) of the latest reset, until the caller takes it."""

    def reset(self, car_ids, x, y, yaw) -> None:
        """Place the car at a start pose (BatchSim.reset's signature): recorded as `teleport`."""
        self.x[:] = np.asarray(x, dtype=np.float64).reshape(1)
        self.y[:] = np.asarray(y, dtype=np.float64).reshape(1)
        self.yaw[:] = np.asarray(yaw, dtype=np.float64).reshape(1)
        self.speed[:] = self.yaw_rate[:] = self.lateral_speed[:] = 0.0
        self.teleport = (float(self.x[0]), float(self.y[0]), float(self.yaw[0]))

    def step(self, steering_rad, speed_m_s) -> None:
        """Nothing: the other simulator moves the car."""

    def set_pose(self, x: float, y: float, yaw: float, speed_m_s: float = 0.0, yaw_rate_rad_s: float = 0.0,
                 lateral_speed_m_s: float = 0.0) -> None:
        """The car's measured base_link pose (m, rad) and twist (m/s, rad/s); non-finite raises ValueError."""
        values = (x, y, yaw, speed_m_s, yaw_rate_rad_s, lateral_speed_m_s)
        if not all(math.isfinite(v) for v in values):
            raise ValueError(f"pose must be finite, got {values}")
        self.x[0], self.y[0], self.yaw[0] = x, y, yaw
        self.speed[0], self.yaw_rate[0], self.lateral_speed[0] = speed_m_s, yaw_rate_rad_s, lateral_speed_m_s

    def take_teleport(self) -> tuple[float, float, float] | None:
        """The pending start pose (and forget it), or None."""
        pose, self.teleport = self.teleport, None
        return pose

    def wheel_contacts(self) -> np.ndarray:
        """(1, 4, 2) world x, y of the wheel contact points (as BatchSim.wheel_contacts)."""
        c, s = math.cos(self.yaw[0]), math.sin(self.yaw[0])
        wc = self.vehicle.wheel_contacts_m
        out = np.empty((1, len(wc), 2))
        out[0, :, 0] = self.x[0] + c * wc[:, 0] - s * wc[:, 1]
        out[0, :, 1] = self.y[0] + s * wc[:, 0] + c * wc[:, 1]
        return out

    def wheels_on_track(self) -> np.ndarray:
        """(1, 4) bool: each wheel contact point inside the road."""
        return self.track.on_track(self.wheel_contacts())


def set_pose_command(world: str, model: str, x: float, y: float, z: float, yaw: float,
                     gz: str = "gz", timeout_ms: int = 2000) -> list[str]:
    """argv of ``gz service`` moving ``model`` to (x, y, z, yaw) in ``world`` (gz-sim UserCommands)."""
    qz, qw = math.sin(yaw / 2.0), math.cos(yaw / 2.0)
    request = (f'name: "{model}" position {{ x: {x:.6f} y: {y:.6f} z: {z:.6f} }} '
               f'orientation {{ x: 0 y: 0 z: {qz:.9f} w: {qw:.9f} }}')
    return [gz, "service", "-s", f"/world/{world}/set_pose", "--reqtype", "gz.msgs.Pose",
            "--reptype", "gz.msgs.Boolean", "--timeout", str(int(timeout_ms)), "--req", request]
