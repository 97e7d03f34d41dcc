"""Simulator configuration: `SimConfig` (dynamics, camera, world, randomization).

Validation rules live with each field (see `deepracer_common.options.option`); `SimConfig.from_dict` rejects unknown
keys and bad values with a `SimConfigError` whose message starts with the dotted option name.
Units: metres, seconds, radians, kilograms, newtons (per radian for cornering stiffness).
"""
from __future__ import annotations

import dataclasses
import re

from deepracer_common.options import option

from .randomization import PALETTE_NAMES, ConfigBase, RandomizationConfig, SimConfigError

__all__ = ["SimConfig", "SimConfigError", "RandomizationConfig", "CameraMount", "ImagingConditions",
           "ActuationConditions", "SceneColors"]

_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")


@dataclasses.dataclass
class CameraMount(ConfigBase):
    """The nominal camera pose (the same for every car; randomization.camera_pose jitters around it).

    attitude: ``level`` = base_link parallel to the ground (the URDF as written: lens 0.130 m up,
    15 deg down); ``resting`` = the chassis standing on its wheels, 1.39 deg nose-up
    (``VehicleGeometry.at_rest``: lens 0.132 m up, 13.6 deg down), as the real car and Gazebo have it.
    """
    attitude: str = option("level", kind=str, choices=("level", "resting"))
    pitch_offset_deg: float = option(0.0, lo=-30.0, hi=30.0, doc="added to the pitch; + looks further down")
    height_offset_m: float = option(0.0, lo=-0.1, hi=0.1, doc="added to the lens height above the ground")
    fov_scale: float = option(1.0, lo=0.5, hi=1.5, doc="horizontal FOV multiplied by this")


@dataclasses.dataclass
class ImagingConditions(ConfigBase):
    """Fixed imaging conditions for every car (randomization draws on top of these).

    Order per frame: render -> brightness/contrast lookup (v' = 255 b ((v/255 - 0.5) c + 0.5), after
    any randomized lighting curve) -> vertical motion blur -> sensor noise.
    """
    brightness: float = option(1.0, lo=0.0, hi=4.0, doc="gain factor")
    contrast: float = option(1.0, lo=0.0, hi=4.0, doc="contrast factor about mid-gray")
    noise_sigma: float = option(0.0, lo=0.0, hi=64.0, doc="Gaussian pixel noise (gray levels), per frame")
    motion_blur_px: float = option(0.0, lo=0.0, hi=32.0,
                                   doc="box blur along image rows' vertical (length rounded to whole rows): "
                                       "forward motion smears the ground downwards")


@dataclasses.dataclass
class ActuationConditions(ConfigBase):
    """Fixed actuation conditions for every car (after action noise; the reported command is unchanged)."""
    latency_frames: int = option(0, kind=int, lo=0, hi=10, doc="commands act this many frames late")
    speed_scale: float = option(1.0, lo=0.1, hi=3.0, doc="actual speed = commanded speed x this")
    steering_bias_deg: float = option(0.0, lo=-15.0, hi=15.0, doc="added to the steering angle (+ = left)")


@dataclasses.dataclass
class SceneColors(ConfigBase):
    """Scene colours replacing the track style's (``#rrggbb`` or null = keep): other line colours,
    floors and backgrounds than training saw."""
    floor: str | None = option(None, kind=str, allow_none=True)
    road: str | None = option(None, kind=str, allow_none=True)
    border: str | None = option(None, kind=str, allow_none=True)
    centre: str | None = option(None, kind=str, allow_none=True)
    wall_a: str | None = option(None, kind=str, allow_none=True)
    wall_b: str | None = option(None, kind=str, allow_none=True)
    background_a: str | None = option(None, kind=str, allow_none=True)
    background_b: str | None = option(None, kind=str, allow_none=True)

    def check(self) -> None:
        for name in PALETTE_NAMES:
            value = getattr(self, name)
            if value is not None and not _HEX.match(value):
                raise SimConfigError(f"{name}: expected a colour '#rrggbb', got {value!r}")

    def apply(self, palette):
        """A copy of an (8, 3) RGB palette with the given rows replaced."""
        out = palette.copy()
        for i, name in enumerate(PALETTE_NAMES):
            value = getattr(self, name)
            if value is not None:
                out[i] = [int(value[k:k + 2], 16) for k in (1, 3, 5)]
        return out


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
    camera_mount: CameraMount = option(kind=CameraMount, default_factory=CameraMount,
                                       doc="nominal camera pose: attitude, pitch/height offsets, FOV scale")
    imaging: ImagingConditions = option(kind=ImagingConditions, default_factory=ImagingConditions,
                                        doc="fixed brightness, contrast, noise, motion blur")
    actuation: ActuationConditions = option(kind=ActuationConditions, default_factory=ActuationConditions,
                                            doc="fixed latency, speed scale, steering bias")
    scene: SceneColors = option(kind=SceneColors, default_factory=SceneColors, doc="scene colour overrides")
    randomization: RandomizationConfig = option(kind=RandomizationConfig,
                                                default_factory=RandomizationConfig,
                                                doc="domain randomization (all off by default)")

    def check(self) -> None:
        if (self.output_width_px is None) != (self.output_height_px is None):
            raise SimConfigError("output_width_px: give output_width_px and output_height_px together")
