"""Simulator configuration: `SimConfig` (dynamics, camera, world, randomization).

Validation rules live with each field (see `options.option`); `SimConfig.from_dict` rejects unknown
keys and bad values with a `SimConfigError` whose message starts with the dotted option name.
Units: metres, seconds, radians, kilograms, newtons (per radian for cornering stiffness).
"""
from __future__ import annotations

import dataclasses

from .options import ConfigBase, SimConfigError, option
from .randomization import RandomizationConfig

__all__ = ["SimConfig", "SimConfigError", "RandomizationConfig"]


@dataclasses.dataclass
class SimConfig(ConfigBase):
    """Everything that shapes one BatchSim besides the track and the vehicle (URDF).

    Defaults reproduce the AWS simulator's contract: kinematic car, 15 Hz frames (from the URDF camera
    rate), 160x120 grayscale, no randomization. The actuator and tyre parameters are estimates for a
    1/18-scale car (the AWS Gazebo model drives the wheels through velocity controllers and reaches
    a command within about 0.1-0.2 s), documented in the package README.
    """

    dynamics: str = option("kinematic", kind=str, choices=("kinematic", "dynamic"),
                           doc="kinematic bicycle, or single-track model with saturating tyre forces")
    substeps: int = option(4, kind=int, lo=1, hi=1000, doc="physics sub-steps per camera frame")
    steering_rate_rad_s: float = option(8.0, lo=0.0, lo_open=True,
                                        doc="steering servo slew rate; inf = instantaneous")
    throttle_time_constant_s: float = option(0.1, lo=0.0,
                                             doc="first-order speed response; 0 = instantaneous")
    camera_model: str = option("pinhole", kind=str, choices=("pinhole", "fisheye"),
                               doc="pinhole = the DeepRacer camera; fisheye = the URDF's wide camera")
    color: bool = option(False, kind=bool, doc="render RGB (N, H, W, 3) instead of gray (N, H, W)")
    output_width_px: int | None = option(None, kind=int, lo=1, hi=4096, allow_none=True,
                                         doc="image width; None = the URDF camera's output width (160)")
    output_height_px: int | None = option(None, kind=int, lo=1, hi=4096, allow_none=True,
                                          doc="image height; None = the URDF camera's output height (120)")
    texture_metres_per_pixel: float | None = option(None, lo=0.001, hi=0.5, allow_none=True,
                                                    doc="ground texture resolution (finest mip level); "
                                                        "None = 5 mm, coarser for big tracks (<= 8 M texels)")
    barrier_margin_m: float = option(2.0, lo=0.0, doc="walls stand this far outside the track bounding box")
    barrier_height_m: float = option(0.5, lo=0.0, doc="wall height; 0 = no walls (floor to the horizon)")
    mass_kg: float = option(1.5, lo=0.0, lo_open=True, doc="dynamic model: vehicle mass")
    yaw_inertia_kg_m2: float = option(0.012, lo=0.0, lo_open=True,
                                      doc="dynamic model: yaw moment of inertia about base_link")
    cornering_stiffness_n_per_rad: float = option(25.0, lo=0.0, lo_open=True,
                                                  doc="dynamic model: per axle, linear tyre region")
    grip_mu: float = option(1.0, lo=0.0, lo_open=True, doc="dynamic model: tyre friction coefficient")
    randomization: RandomizationConfig = option(kind=RandomizationConfig,
                                                default_factory=RandomizationConfig,
                                                doc="domain randomization (all off by default)")

    def _check_consistency(self) -> None:
        if (self.output_width_px is None) != (self.output_height_px is None):
            raise SimConfigError("output_width_px: give output_width_px and output_height_px together")
