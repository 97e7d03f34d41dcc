"""TF frames of the car from its URDF, and camera_info intrinsics of the simulated camera (no ROS).

What robot_state_publisher would publish for the shipped URDF, computed here so that a graph
without robot_state_publisher (this workspace's pip-only ROS) can still publish the tree, and so
the numbers are tested without ROS:

* :func:`joint_transforms` — one :class:`FrameTransform` per URDF joint (parent -> child) at joint
  position 0: translation (m) and rotation quaternion (x, y, z, w) of the joint ``<origin>``.
  ``static`` is True for fixed joints (robot_state_publisher puts those on /tf_static); the moving
  joints (wheels, steering hinges) are reported at position 0, which is what
  robot_state_publisher publishes on /tf before any /joint_states arrives.
* :func:`pose_in_base` — composed 4x4 pose of any link in ``base_link`` (checks a chain of
  transforms against the loader's numbers).
* :func:`camera_intrinsics` — the 3x3 K and 3x4 P matrices and distortion model of a
  ``sensor_msgs/CameraInfo`` for the renderer's lens (``deepracer_sim.camera``): focal length
  f = (width/2) / tan(hfov/2) (pinhole) or (width/2) / (hfov/2) (equidistant fisheye); principal
  point at the image centre. The renderer puts pixel j's centre at continuous x = j + 0.5 with the
  principal point at width/2; ROS/OpenCV put pixel centres at integers, so the ROS principal
  point is ``width/2 - 0.5`` (and ``height/2 - 0.5``).

The image ``frame_id`` is :data:`CAMERA_OPTICAL_FRAME` (REP 103 optical frame: z forward, x right,
y down), a link of the shipped URDF.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .vehicle import _Parser, default_urdf_path

__all__ = ["FrameTransform", "CameraIntrinsics", "CAMERA_OPTICAL_FRAME", "joint_transforms", "pose_in_base",
           "camera_intrinsics", "quaternion_from_matrix"]

#: frame_id of the camera images (a link of the shipped URDF).
CAMERA_OPTICAL_FRAME = "camera_optical_frame"


@dataclass(frozen=True)
class FrameTransform:
    """parent -> child transform of one URDF joint at position 0 (metres; unit quaternion x, y, z, w)."""

    parent: str
    child: str
    translation: tuple[float, float, float]
    rotation: tuple[float, float, float, float]
    static: bool
    joint: str

    def matrix(self) -> np.ndarray:
        """The 4x4 homogeneous transform (child coordinates -> parent coordinates)."""
        x, y, z, w = self.rotation
        t = np.eye(4)
        t[:3, :3] = [[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]]
        t[:3, 3] = self.translation
        return t


def quaternion_from_matrix(r: np.ndarray) -> tuple[float, float, float, float]:
    """Unit quaternion (x, y, z, w), w >= 0, of a 3x3 rotation matrix (Shepperd's method)."""
    m = np.asarray(r, dtype=np.float64)[:3, :3]
    tr = m[0, 0] + m[1, 1] + m[2, 2]
    if tr > 0:
        s = 2.0 * math.sqrt(tr + 1.0)
        q = (m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s, 0.25 * s
    elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
        s = 2.0 * math.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2])
        q = 0.25 * s, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s, (m[2, 1] - m[1, 2]) / s
    elif m[1, 1] > m[2, 2]:
        s = 2.0 * math.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2])
        q = (m[0, 1] + m[1, 0]) / s, 0.25 * s, (m[1, 2] + m[2, 1]) / s, (m[0, 2] - m[2, 0]) / s
    else:
        s = 2.0 * math.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1])
        q = (m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, 0.25 * s, (m[1, 0] - m[0, 1]) / s
    v = np.array(q, dtype=np.float64)
    v /= np.linalg.norm(v)
    if v[3] < 0:
        v = -v
    return float(v[0]), float(v[1]), float(v[2]), float(v[3])


def joint_transforms(urdf_path: str | Path | None = None) -> tuple[FrameTransform, ...]:
    """Every joint of the URDF as a parent -> child transform at position 0, sorted by joint name.

    Raises ``URDFError`` (a ValueError naming the file and element) for a URDF the loader refuses
    structurally (unknown links, several roots, a cycle, bad numbers).
    """
    p = _Parser(Path(urdf_path) if urdf_path is not None else default_urdf_path())
    robot = p.read_xml()
    links, joints = p.tree(robot)
    p.poses(links, joints)      # every link reachable from base_link
    out = []
    for name in sorted(joints):
        j = joints[name]
        out.append(FrameTransform(parent=j.parent, child=j.child,
                                  translation=(float(j.origin[0, 3]), float(j.origin[1, 3]), float(j.origin[2, 3])),
                                  rotation=quaternion_from_matrix(j.origin[:3, :3]),
                                  static=j.type == "fixed", joint=name))
    return tuple(out)


def pose_in_base(transforms: tuple[FrameTransform, ...], link: str, root: str = "base_link") -> np.ndarray:
    """4x4 pose of ``link`` in ``root`` by chaining ``transforms`` up the tree (KeyError if unknown)."""
    parent_of = {t.child: t for t in transforms}
    pose = np.eye(4)
    while link != root:
        t = parent_of[link]
        pose = t.matrix() @ pose
        link = t.parent
    return pose


@dataclass(frozen=True)
class CameraIntrinsics:
    """Fields of a sensor_msgs/CameraInfo: size (px), distortion model and D, row-major K (9) and P (12)."""

    width: int
    height: int
    distortion_model: str
    d: tuple[float, ...]
    k: tuple[float, ...]
    p: tuple[float, ...]
    r: tuple[float, ...] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)

    @property
    def focal_px(self) -> float:
        return self.k[0]


def camera_intrinsics(width: int, height: int, horizontal_fov_rad: float, model: str = "pinhole") -> CameraIntrinsics:
    """CameraInfo intrinsics of the renderer's lens at ``width x height`` px (see the module docstring).

    pinhole -> ``plumb_bob`` with zero distortion; fisheye (equidistant) -> ``equidistant`` with
    zero coefficients (OpenCV's fisheye model with k1..k4 = 0 is r = f * theta).
    """
    if width < 1 or height < 1:
        raise ValueError(f"camera image size must be positive, got {width}x{height}")
    if model == "pinhole":
        if not 0.0 < horizontal_fov_rad < math.pi:
            raise ValueError(f"pinhole horizontal FOV must be in (0, pi) rad, got {horizontal_fov_rad}")
        f = (width / 2.0) / math.tan(horizontal_fov_rad / 2.0)
        dist_model, d = "plumb_bob", (0.0, 0.0, 0.0, 0.0, 0.0)
    elif model == "fisheye":
        if not 0.0 < horizontal_fov_rad <= 2 * math.pi:
            raise ValueError(f"fisheye horizontal FOV must be in (0, 2 pi] rad, got {horizontal_fov_rad}")
        f = (width / 2.0) / (horizontal_fov_rad / 2.0)
        dist_model, d = "equidistant", (0.0, 0.0, 0.0, 0.0)
    else:
        raise ValueError(f"camera model must be 'pinhole' or 'fisheye', got {model!r}")
    cx, cy = width / 2.0 - 0.5, height / 2.0 - 0.5
    return CameraIntrinsics(width=int(width), height=int(height), distortion_model=dist_model, d=d,
                            k=(f, 0.0, cx, 0.0, f, cy, 0.0, 0.0, 1.0),
                            p=(f, 0.0, cx, 0.0, 0.0, f, cy, 0.0, 0.0, 0.0, 1.0, 0.0))
