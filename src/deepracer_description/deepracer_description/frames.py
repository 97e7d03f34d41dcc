"""TF frames of the car from its URDF, and camera_info intrinsics of the simulated camera (no ROS).

What robot_state_publisher would publish for the shipped URDF, computed here so that a graph
without robot_state_publisher (this workspace's pip-only ROS) can still publish the tree, and so
the numbers are tested without ROS:

* :func:`joint_transforms` — one :class:`FrameTransform` per URDF joint (parent -> child) at joint
  position 0: translation (m) and rotation quaternion (x, y, z, w) of the joint ``<origin>``.
  ``static`` is True for fixed joints (robot_state_publisher puts those on /tf_static); the moving
  joints (wheels, steering hinges) are reported at position 0, which is what
  robot_state_publisher publishes on /tf before any /joint_states arrives.
* :meth:`FrameTransform.at` — a moving joint at a position (rad): the ``<origin>`` rotation, then
  the rotation by the position about the joint ``<axis>`` (URDF semantics; revolute and continuous
  joints), and :func:`ackermann_hinge_angles` — the left and right steering hinge angles of a
  front virtual-wheel angle (Ackermann geometry: the inner wheel steers more), so the sim can
  publish the moving joints as robot_state_publisher would from ``/joint_states``;
  :func:`drive_joint_transforms` puts both together for a drive state.
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

from .vehicle import _STEERING_JOINTS, _WHEEL_JOINTS, VehicleGeometry, _Parser, default_urdf_path

__all__ = ["FrameTransform", "CameraIntrinsics", "CAMERA_OPTICAL_FRAME", "joint_transforms", "pose_in_base",
           "camera_intrinsics", "quaternion_from_matrix", "quaternion_multiply", "ackermann_hinge_angles",
           "drive_joint_transforms"]

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
    #: unit rotation axis (child frame) of a revolute / continuous joint; None for the others
    axis: tuple[float, float, float] | None = None

    def at(self, position_rad: float) -> FrameTransform:
        """This joint at ``position_rad``: origin rotation, then ``position_rad`` about :attr:`axis`."""
        if self.axis is None:
            raise ValueError(f"joint {self.joint!r} has no rotation axis (only revolute/continuous joints move here)")
        half = 0.5 * float(position_rad)
        turn = (*(math.sin(half) * a for a in self.axis), math.cos(half))
        return FrameTransform(self.parent, self.child, self.translation,
                              quaternion_multiply(self.rotation, turn), self.static, self.joint, self.axis)

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


def quaternion_multiply(a: tuple[float, float, float, float],
                        b: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """Hamilton product a * b of (x, y, z, w) quaternions: rotation b first, then a (as matrices A @ B)."""
    ax, ay, az, aw = a
    bx, by, bz, bw = b
    return (aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
            aw * bw - ax * bx - ay * by - az * bz)


def ackermann_hinge_angles(steering_rad: float, wheelbase_m: float, track_m: float) -> tuple[float, float]:
    """(left, right) front hinge angles (rad, > 0 = left) of the virtual centre wheel angle ``steering_rad``.

    Both front wheels roll about the rear axle's turning centre: tan(left) = L tan(d) / (L - t/2 tan(d)),
    tan(right) = L tan(d) / (L + t/2 tan(d)) for wheelbase L and track t; 0 gives 0, 0.
    """
    if wheelbase_m <= 0 or track_m <= 0:
        raise ValueError(f"wheelbase and track must be positive, got {wheelbase_m}, {track_m}")
    k = wheelbase_m * math.tan(steering_rad)
    half = 0.5 * track_m * math.tan(steering_rad)
    return math.atan2(k, wheelbase_m - half), math.atan2(k, wheelbase_m + half)


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
        axis = None
        if j.type in ("revolute", "continuous"):
            axis_el = j.element.find("axis")
            xyz = p.floats(axis_el.get("xyz") if axis_el is not None else "1 0 0", 3, f"<joint name={name!r}> <axis>",
                           "xyz")
            norm = math.sqrt(sum(v * v for v in xyz))
            if not norm > 0:
                raise p.error(f"<joint name={name!r}> <axis>", "xyz must not be zero")
            axis = (xyz[0] / norm, xyz[1] / norm, xyz[2] / norm)
        out.append(FrameTransform(parent=j.parent, child=j.child,
                                  translation=(float(j.origin[0, 3]), float(j.origin[1, 3]), float(j.origin[2, 3])),
                                  rotation=quaternion_from_matrix(j.origin[:3, :3]),
                                  static=j.type == "fixed", joint=name, axis=axis))
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


def drive_joint_transforms(transforms: tuple[FrameTransform, ...], vehicle: VehicleGeometry, steering_rad: float,
                           wheel_angle_rad: float) -> list[FrameTransform]:
    """The URDF's moving joints at a drive state: the left / right steering hinges at their
    :func:`ackermann_hinge_angles` for the virtual front-wheel angle ``steering_rad`` (rad, > 0 =
    left), every wheel turned by ``wheel_angle_rad`` (rolled distance / wheel radius), any other
    moving joint at 0. Fixed joints are left out (they go on /tf_static)."""
    left, right = ackermann_hinge_angles(steering_rad, vehicle.wheelbase_m, vehicle.track_width_m)
    position = {_STEERING_JOINTS[0]: left, _STEERING_JOINTS[1]: right,
                **{name: wheel_angle_rad for name in _WHEEL_JOINTS.values()}}
    return [t.at(position.get(t.joint, 0.0)) for t in transforms if not t.static]
