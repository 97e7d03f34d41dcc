"""The camera model: one precomputed ray per output pixel, and its exact inverse (projection).

Frames (all right-handed):

* car frame = base_link: x forward, y left, z up; the ground is the plane z = 0 (the URDF loader
  gives the lens height above the ground as ``CameraGeometry.z_m``).
* optical frame: x right, y down, z along the optical axis (OpenCV / ROS ``*_optical_frame``).
* the lens is pitched DOWN by ``pitch_rad`` about the car's y axis; no roll, no yaw offset.

Pixels: the image is ``width x height`` (the OUTPUT size, 160x120 by default). Pixel (row i,
column j) covers the continuous image square [j, j+1) x [i, i+1); its ray goes through its centre
(j + 0.5, i + 0.5). The principal point is the image centre (width/2, height/2). Rendering the
640x480 sensor and averaging 4x4 blocks (what the real camera + the agent's resize do) has the same
pixel centres, so the output size can be rendered directly.

Lens models:

* ``pinhole``: focal length f = (width/2) / tan(hfov/2) pixels; a pixel at offset (a, b) from the
  principal point looks along optical (a/f, b/f, 1).
* ``fisheye`` (equidistant): r = f * theta with f = (width/2) / (hfov/2); theta = angle from the
  optical axis. Rays may point backwards when hfov > pi.

The vertical field of view follows from the pixel aspect (square pixels), as in Gazebo.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["CameraRays", "make_rays", "vector_norm"]


def vector_norm(v: np.ndarray) -> np.ndarray:
    """``np.linalg.norm(v, axis=-1)`` bit for bit (the same products, summed in the same order, one
    sqrt), ~3x faster for the short (2- or 3-component) last axes of the ray tables; float arrays."""
    acc = v[..., 0] * v[..., 0]
    for i in range(1, v.shape[-1]):
        acc = acc + v[..., i] * v[..., i]
    return np.sqrt(acc)


@dataclass(frozen=True)
class CameraRays:
    """Per-pixel rays of one camera (pose, lens) at one output resolution.

    dirs: (height*width, 3) float64 unit ray directions in the car frame, row-major pixel order.
    origin: (3,) lens position: x, y in base_link, z = height above the ground (metres).
    """

    width: int
    height: int
    model: str
    focal_px: float
    pitch_rad: float
    horizontal_fov_rad: float
    origin: np.ndarray
    dirs: np.ndarray

    # ----------------------------------------------------------------------------- projection
    def optical_to_car(self, d_opt: np.ndarray) -> np.ndarray:
        """(..., 3) optical-frame vectors -> car frame (rotation only)."""
        fwd, left, up = d_opt[..., 2], -d_opt[..., 0], -d_opt[..., 1]
        c, s = math.cos(self.pitch_rad), math.sin(self.pitch_rad)
        return np.stack([fwd * c + up * s, left, -fwd * s + up * c], axis=-1)

    def car_to_optical(self, d_car: np.ndarray) -> np.ndarray:
        """(..., 3) car-frame vectors -> optical frame (rotation only)."""
        c, s = math.cos(self.pitch_rad), math.sin(self.pitch_rad)
        x, y, z = d_car[..., 0], d_car[..., 1], d_car[..., 2]
        fwd, up = x * c - z * s, x * s + z * c
        return np.stack([-y, -up, fwd], axis=-1)

    def project(self, points_car: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Car-frame points (M, 3) -> continuous image coordinates (M, 2) as (u=column, v=row).

        Pixel (i, j) has its centre at (j + 0.5, i + 0.5). Returns (uv, visible) where visible is
        False behind the lens (pinhole) or straight behind it (fisheye; whether uv then lies inside
        the image is the caller's test: a full-frame fisheye sees beyond hfov/2 in the corners).
        """
        d = self.car_to_optical(np.asarray(points_car, dtype=np.float64) - self.origin)
        cx, cy = self.width / 2.0, self.height / 2.0
        if self.model == "pinhole":
            z = d[:, 2]
            with np.errstate(divide="ignore", invalid="ignore"):
                uv = np.stack([cx + self.focal_px * d[:, 0] / z, cy + self.focal_px * d[:, 1] / z], axis=1)
            return uv, z > 1e-9
        norm = np.linalg.norm(d, axis=1)
        theta = np.arccos(np.clip(d[:, 2] / np.maximum(norm, 1e-300), -1.0, 1.0))
        phi = np.arctan2(d[:, 1], d[:, 0])
        r = self.focal_px * theta
        uv = np.stack([cx + r * np.cos(phi), cy + r * np.sin(phi)], axis=1)
        return uv, theta < math.pi - 1e-9

    def horizon_v(self) -> float:
        """Continuous row coordinate of the horizon on the image's vertical centre line.

        Pinhole: cy - f tan(pitch); fisheye: cy - f * pitch. Rows whose centre lies below it see the
        ground (if nothing stands in the way).
        """
        if self.model == "pinhole":
            return self.height / 2.0 - self.focal_px * math.tan(self.pitch_rad)
        return self.height / 2.0 - self.focal_px * self.pitch_rad


def make_rays(geometry, width: int | None = None, height: int | None = None, *, model: str | None = None,
              dz_m: float = 0.0, dpitch_rad: float = 0.0, dfov_rad: float = 0.0) -> CameraRays:
    """Rays for a ``deepracer_description.vehicle.CameraGeometry`` at ``width x height`` pixels.

    width/height default to the geometry's output size (160x120); model defaults to the geometry's.
    dz_m / dpitch_rad / dfov_rad perturb height, pitch and horizontal FOV (camera-pose randomization).
    """
    width = int(width if width is not None else geometry.output_width_px)
    height = int(height if height is not None else geometry.output_height_px)
    model = model or geometry.model
    if width < 1 or height < 1:
        raise ValueError(f"camera image size must be positive, got {width}x{height}")
    hfov = float(geometry.horizontal_fov_rad) + dfov_rad
    if model == "pinhole" and not 0.0 < hfov < math.pi:
        raise ValueError(f"pinhole horizontal FOV must be in (0, pi) rad, got {hfov}")
    if model == "fisheye" and not 0.0 < hfov <= 2 * math.pi:
        raise ValueError(f"fisheye horizontal FOV must be in (0, 2 pi] rad, got {hfov}")
    if model not in ("pinhole", "fisheye"):
        raise ValueError(f"camera model must be 'pinhole' or 'fisheye', got {model!r}")
    z = float(geometry.z_m) + dz_m
    if z <= 0.0:
        raise ValueError(f"camera height above the ground must be positive, got {z} m")
    focal = (width / 2.0) / (math.tan(hfov / 2.0) if model == "pinhole" else hfov / 2.0)
    jj, ii = np.meshgrid(np.arange(width) + 0.5 - width / 2.0, np.arange(height) + 0.5 - height / 2.0)
    a, b = jj.ravel() / focal, ii.ravel() / focal
    if model == "pinhole":
        d_opt = np.stack([a, b, np.ones_like(a)], axis=1)
    else:
        theta = np.hypot(a, b)                  # equidistant: r/f = theta
        phi = np.arctan2(b, a)
        d_opt = np.stack([np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)], axis=1)
    d_opt /= vector_norm(d_opt)[:, None]
    rays = CameraRays(width=width, height=height, model=model, focal_px=focal,
                      pitch_rad=float(geometry.pitch_rad) + dpitch_rad, horizontal_fov_rad=hfov,
                      origin=np.array([geometry.x_m, geometry.y_m, z], dtype=np.float64),
                      dirs=np.empty((0, 3)))
    object.__setattr__(rays, "dirs", rays.optical_to_car(d_opt))
    return rays
