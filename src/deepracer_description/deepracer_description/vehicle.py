"""Vehicle and camera geometry of the DeepRacer car, read from its URDF (no ROS needed).

THE single source of vehicle geometry for the workspace: the simulator, the agent, the inference and
the control packages call :func:`load_vehicle` and the two conversions on :class:`VehicleGeometry`
instead of hard-coding numbers.

How the numbers are found (top to bottom in :func:`load_vehicle`):

1. The URDF is parsed as XML and as a kinematic tree: every joint names a parent and a child link
   that exist, every link but one (the root, which must be ``base_link``) has exactly one parent,
   and every link is reachable from the root.
2. Each link's pose in ``base_link`` is the composition of the joint origins (``xyz`` then
   ``rpy`` = fixed-axis roll, pitch, yaw, as URDF defines them) from the root down. Joint positions
   are all zero (wheels straight).
3. From those poses, the required joints and the camera sensors:

   * wheels: ``{left,right}_{front,rear}_wheel_joint``; wheel radius from each wheel link's
     ``<collision><geometry><cylinder radius>`` (all four must agree);
   * wheelbase = mean front wheel x - mean rear wheel x (the front wheels sit on the steering
     hinges, so this is the hinge x minus the rear wheel x); track width = distance between the
     REAR (driven) wheel centres in y;
   * ground: the plane z = min over the wheels of (wheel centre z - wheel radius), in base_link.
     On the shipped URDF that is 8 micrometres above base_link (the front wheels touch base_link's
     plane; the rear wheels clear it by ~4 mm, a quirk of the AWS URDF that we keep and ignore);
   * max steering angle: from the ``{left,right}_steering_hinge_joint`` ``<limit lower upper>``
     (the smallest of ``upper`` and ``-lower`` over both hinges; positive = steer left);
   * max speed: the rear wheel joints' ``<limit velocity>`` (rad/s) times the wheel radius; min
     speed: ``<deepracer:drive min_speed_m_s>`` (extension element; its optional
     ``max_speed_m_s`` must agree with the wheel limit);
   * cameras: the ``<gazebo reference="LINK"><sensor name="camera">`` block (required) and an
     optional ``<sensor name="wide_camera">``; the lens pose is LINK's pose (plus the sensor's
     optional ``<pose>``); Gazebo cameras look along the link's +x axis. Intrinsics from
     ``<camera>`` (``horizontal_fov``, ``image/width``, ``image/height``, ``clip/near``), the rate
     from ``<update_rate>``, and the image the agent sees from ``<deepracer:output width height>``.

Any problem raises :class:`URDFError` whose message starts with the file path and names the element.
"""
from __future__ import annotations

import dataclasses
import functools
import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    "URDFError",
    "CameraGeometry",
    "VehicleGeometry",
    "WHEEL_ORDER",
    "default_urdf_path",
    "load_vehicle",
]

#: XML namespace of the workspace's URDF extension elements (``xmlns:deepracer``).
DEEPRACER_NS = "https://deepracer-workspace.dev/urdf"
#: Order of the rows of :attr:`VehicleGeometry.wheel_contacts_m`.
WHEEL_ORDER = ("left_front", "right_front", "left_rear", "right_rear")
#: Name of the shipped URDF inside the package share (``share/deepracer_description/urdf/``).
URDF_FILENAME = "deepracer.urdf"

_PACKAGE = "deepracer_description"
_ROOT_LINK = "base_link"
_STEERING_JOINTS = ("left_steering_hinge_joint", "right_steering_hinge_joint")
_WHEEL_JOINTS = {name: f"{name}_wheel_joint" for name in WHEEL_ORDER}
_REAR_WHEEL_JOINTS = (_WHEEL_JOINTS["left_rear"], _WHEEL_JOINTS["right_rear"])
_CAMERA_SENSOR = "camera"
_WIDE_CAMERA_SENSOR = "wide_camera"
_FISHEYE_LENSES = {"equidistant", "equisolid_angle", "stereographic", "orthographic", "custom"}
_ZERO_SPEED_M_S = 1e-6


class URDFError(ValueError):
    """A URDF that cannot describe the car. The message names the file and the element."""


@dataclass(frozen=True)
class CameraGeometry:
    """A camera on the car: lens pose in base_link and intrinsics.

    ``z_m`` is the lens height ABOVE THE GROUND (the wheel contact plane), not base_link's z.
    ``pitch_rad`` > 0 looks down. ``model`` is ``"pinhole"`` or ``"fisheye"`` (then
    ``horizontal_fov_rad`` is the fisheye's field of view, see the sensor's ``<lens><type>``).
    """

    x_m: float
    y_m: float
    z_m: float
    pitch_rad: float
    horizontal_fov_rad: float
    sensor_width_px: int
    sensor_height_px: int
    output_width_px: int
    output_height_px: int
    rate_hz: float
    near_m: float
    model: str


@dataclass(frozen=True)
class VehicleGeometry:
    """Geometry and command limits of the car (metres, radians, m/s).

    ``wheel_contacts_m`` rows follow :data:`WHEEL_ORDER` (left front, right front, left rear, right
    rear), x and y in base_link with the wheels straight; the array is read-only and is left out of
    ``==`` and ``hash``.
    """

    wheelbase_m: float
    track_width_m: float
    wheel_radius_m: float
    max_steering_angle_rad: float
    min_speed_m_s: float
    max_speed_m_s: float
    rear_axle_x_m: float
    wheel_contacts_m: np.ndarray = field(compare=False, repr=False)
    camera: CameraGeometry
    wide_camera: CameraGeometry | None = None
    #: Nose-up angle (rad) of the chassis when all four wheels stand on flat ground: the rear wheel
    #: centres sit higher on the chassis than the front ones (4 mm on the AWS URDF -> 1.39 deg).
    resting_pitch_rad: float = 0.0
    #: ``"level"`` (base_link parallel to the ground, the URDF as written) or ``"resting"``
    #: (:meth:`at_rest`: cameras re-posed for the chassis standing on its wheels).
    attitude: str = "level"
    #: Height (m) of the front wheel centres above the ground (the pivot of :meth:`at_rest`).
    front_wheel_centre_z_m: float = 0.0

    def at_rest(self) -> "VehicleGeometry":
        """The same car standing on its four wheels: chassis pitched ``resting_pitch_rad`` nose-up.

        The chassis rotates about the front wheel centres (they keep touching the ground: a round
        wheel's contact stays under its centre) until the rear wheels touch too, so
        ``tan(resting_pitch_rad) = (rear centre z - front centre z) / wheelbase``. Each camera's lens
        (x, height) turns with it and looks ``resting_pitch_rad`` less far down. On the AWS URDF the
        lens goes from 0.1303 m / 15.0 deg down to 0.1318 m / 13.61 deg down. Idempotent.
        """
        if self.attitude == "resting":
            return self
        theta = self.resting_pitch_rad
        c, s = math.cos(theta), math.sin(theta)
        front_x = self.rear_axle_x_m + self.wheelbase_m
        pz = self.front_wheel_centre_z_m

        def repose(cam: CameraGeometry | None) -> CameraGeometry | None:
            if cam is None:
                return None
            dx, dz = cam.x_m - front_x, cam.z_m - pz
            return dataclasses.replace(cam, x_m=front_x + dx * c - dz * s, z_m=pz + dx * s + dz * c,
                                       pitch_rad=cam.pitch_rad - theta)
        return dataclasses.replace(self, camera=repose(self.camera), wide_camera=repose(self.wide_camera),
                                   attitude="resting")

    def twist_from_drive(self, speed_m_s: float, steering_rad: float) -> tuple[float, float]:
        """(speed, steering angle) -> (linear.x m/s, angular.z rad/s) on cmd_vel semantics.

        Bicycle model about the rear axle: ``angular.z = v * tan(steering) / wheelbase``.
        ``steering_rad`` is clipped to +-``max_steering_angle_rad`` first (the car cannot steer
        further). The speed is passed through unclipped: the 0.1..4 m/s clip is the simulator's
        and the control node's job. Raises ValueError on NaN/inf.
        """
        speed = _finite(speed_m_s, "speed_m_s")
        steering = _clip(_finite(steering_rad, "steering_rad"), self.max_steering_angle_rad)
        return speed, speed * math.tan(steering) / self.wheelbase_m

    def drive_from_twist(self, linear_x: float, angular_z: float) -> tuple[float, float]:
        """(linear.x m/s, angular.z rad/s) -> (speed m/s, steering angle rad), inverse of the above.

        ``steering = atan(angular.z * wheelbase / linear.x)``, clipped to +-max steering angle.
        Gotcha: at zero speed (|linear.x| < 1e-6 m/s) a yaw rate cannot be reached by an Ackermann
        car; the steering then keeps the SIGN of ``angular.z`` at full lock (so a teleop "turn left"
        at standstill turns the wheels left), and is 0 when ``angular.z`` is 0 too. Reversing
        (linear.x < 0) inverts the steering sign for the same yaw rate, as on a real car.
        Raises ValueError on NaN/inf.
        """
        speed = _finite(linear_x, "linear_x")
        yaw_rate = _finite(angular_z, "angular_z")
        if abs(speed) < _ZERO_SPEED_M_S:
            if yaw_rate == 0.0:
                return speed, 0.0
            return speed, math.copysign(self.max_steering_angle_rad, yaw_rate)
        steering = math.atan(yaw_rate * self.wheelbase_m / speed)
        return speed, _clip(steering, self.max_steering_angle_rad)


def default_urdf_path() -> Path:
    """The shipped URDF: the installed package share if ament finds it there, else the source tree.

    Order: ``<share of deepracer_description>/urdf/deepracer.urdf`` via ament_index_python (a
    sourced workspace or ROS install), then ``urdf/deepracer.urdf`` next to the Python package
    (source tree, ``setup.py develop`` / colcon ``--symlink-install``). Does not check that the
    file parses; :func:`load_vehicle` does.
    """
    try:
        from ament_index_python.packages import get_package_share_directory

        candidate = Path(get_package_share_directory(_PACKAGE)) / "urdf" / URDF_FILENAME
        if candidate.is_file():
            return candidate
    except Exception:  # noqa: BLE001 - not installed / no ament index: use the source tree
        pass
    return Path(__file__).resolve().parent.parent / "urdf" / URDF_FILENAME


def load_vehicle(urdf_path: str | Path | None = None) -> VehicleGeometry:
    """Parse a URDF into :class:`VehicleGeometry` (the default URDF is parsed once and cached).

    Raises :class:`URDFError` (a ValueError) naming the file and the element on any problem.
    """
    if urdf_path is None:
        return _load_default()
    return _load(Path(urdf_path))


@functools.lru_cache(maxsize=1)
def _load_default() -> VehicleGeometry:
    return _load(default_urdf_path())


# --------------------------------------------------------------------------------------------
# Parsing: XML -> kinematic tree -> link poses
# --------------------------------------------------------------------------------------------


@dataclass
class _Joint:
    name: str
    type: str
    parent: str
    child: str
    origin: np.ndarray  # 4x4 transform parent -> child at joint position 0
    element: ET.Element


class _Parser:
    """Holds the file path so every error can name it."""

    def __init__(self, path: Path):
        self.path = path

    def error(self, element: str, problem: str) -> URDFError:
        return URDFError(f"{self.path}: {element}: {problem}")

    # ---- values ----

    def floats(self, text: str | None, count: int, element: str, attribute: str) -> list[float]:
        where = f"{element} attribute {attribute}"
        if text is None:
            raise self.error(where, f"missing (expected {count} number{'s' if count > 1 else ''})")
        parts = text.split()
        if len(parts) != count:
            raise self.error(where, f"expected {count} number{'s' if count > 1 else ''}, got {text!r}")
        try:
            values = [float(p) for p in parts]
        except ValueError:
            raise self.error(where, f"not a number: {text!r}") from None
        if not all(math.isfinite(v) for v in values):
            raise self.error(where, f"not a finite number: {text!r}")
        return values

    def attr_float(self, el: ET.Element, attribute: str, element: str) -> float:
        return self.floats(el.get(attribute), 1, element, attribute)[0]

    def text_float(self, parent: ET.Element, tag: str, element: str) -> float:
        child = parent.find(tag)
        where = f"{element} <{tag}>"
        if child is None or child.text is None or not child.text.strip():
            raise self.error(where, "missing")
        try:
            value = float(child.text.strip())
        except ValueError:
            raise self.error(where, f"not a number: {child.text.strip()!r}") from None
        if not math.isfinite(value):
            raise self.error(where, f"not a finite number: {child.text.strip()!r}")
        return value

    def text_int(self, parent: ET.Element, tag: str, element: str) -> int:
        value = self.text_float(parent, tag, element)
        if value != int(value) or value <= 0:
            raise self.error(f"{element} <{tag}>", f"expected a positive integer, got {value!r}")
        return int(value)

    def positive(self, value: float, element: str) -> float:
        if value <= 0.0:
            raise self.error(element, f"must be > 0, got {value!r}")
        return value

    # ---- structure ----

    def read_xml(self) -> ET.Element:
        try:
            root = ET.parse(self.path).getroot()
        except FileNotFoundError:
            raise URDFError(f"{self.path}: file not found") from None
        except IsADirectoryError:
            raise URDFError(f"{self.path}: is a directory, expected a URDF file") from None
        except ET.ParseError as exc:
            raise URDFError(f"{self.path}: not well-formed XML ({exc})") from None
        except OSError as exc:
            raise URDFError(f"{self.path}: cannot read ({exc.strerror})") from None
        if root.tag != "robot":
            raise self.error(f"<{root.tag}>", "root element must be <robot>")
        return root

    def origin(self, parent: ET.Element, element: str) -> np.ndarray:
        """4x4 transform of an optional ``<origin xyz rpy>`` child (URDF: both default to 0)."""
        el = parent.find("origin")
        if el is None:
            return np.eye(4)
        where = f"{element} <origin>"
        xyz = self.floats(el.get("xyz", "0 0 0"), 3, where, "xyz")
        rpy = self.floats(el.get("rpy", "0 0 0"), 3, where, "rpy")
        return _transform(xyz, rpy)

    def tree(self, robot: ET.Element) -> tuple[set[str], dict[str, _Joint]]:
        links: set[str] = set()
        for el in robot.findall("link"):
            name = el.get("name")
            if not name:
                raise self.error("<link>", "missing name attribute")
            if name in links:
                raise self.error(f"<link name={name!r}>", "defined twice")
            links.add(name)
        if not links:
            raise self.error("<robot>", "no <link> elements")

        joints: dict[str, _Joint] = {}
        parent_of: dict[str, str] = {}
        for el in robot.findall("joint"):
            name = el.get("name")
            if not name:
                raise self.error("<joint>", "missing name attribute")
            where = f"<joint name={name!r}>"
            if name in joints:
                raise self.error(where, "defined twice")
            jtype = el.get("type")
            if jtype not in {"fixed", "revolute", "continuous", "prismatic", "floating", "planar"}:
                raise self.error(where, f"unknown or missing type {jtype!r}")
            ends = {}
            for end in ("parent", "child"):
                end_el = el.find(end)
                link = end_el.get("link") if end_el is not None else None
                if not link:
                    raise self.error(f"{where} <{end}>", "missing (needs a link attribute)")
                if link not in links:
                    raise self.error(f"{where} <{end} link={link!r}>", "names an unknown link")
                ends[end] = link
            if ends["child"] in parent_of:
                raise self.error(
                    f"{where} <child link={ends['child']!r}>",
                    f"link already has a parent (joint {parent_of[ends['child']]!r})",
                )
            if ends["child"] == ends["parent"]:
                raise self.error(where, "parent and child are the same link")
            parent_of[ends["child"]] = name
            joints[name] = _Joint(name, jtype, ends["parent"], ends["child"], self.origin(el, where), el)

        roots = sorted(links - {j.child for j in joints.values()})
        if len(roots) != 1:
            raise self.error(
                "<robot>",
                f"expected exactly one root link, found {len(roots)}: {roots if roots else 'none (a cycle)'}",
            )
        if roots[0] != _ROOT_LINK:
            raise self.error(f"<link name={roots[0]!r}>", f"the root link must be {_ROOT_LINK!r}")
        return links, joints

    def poses(self, links: set[str], joints: dict[str, _Joint]) -> dict[str, np.ndarray]:
        """Pose (4x4) of every link in base_link, joints at zero."""
        children: dict[str, list[_Joint]] = {}
        for j in joints.values():
            children.setdefault(j.parent, []).append(j)
        poses = {_ROOT_LINK: np.eye(4)}
        stack = [_ROOT_LINK]
        while stack:
            link = stack.pop()
            for j in children.get(link, []):
                poses[j.child] = poses[link] @ j.origin
                stack.append(j.child)
        unreachable = sorted(links - poses.keys())
        if unreachable:
            raise self.error(
                f"<link name={unreachable[0]!r}>", f"not connected to {_ROOT_LINK!r} (a cycle of joints?)"
            )
        return poses

    def joint(self, joints: dict[str, _Joint], name: str, purpose: str) -> _Joint:
        if name not in joints:
            raise self.error(f"<joint name={name!r}>", f"missing ({purpose})")
        return joints[name]


# --------------------------------------------------------------------------------------------
# Geometry from the tree
# --------------------------------------------------------------------------------------------


def _load(path: Path) -> VehicleGeometry:
    p = _Parser(path)
    robot = p.read_xml()
    links, joints = p.tree(robot)
    poses = p.poses(links, joints)

    # Wheels: centres in base_link and the radius of each wheel's collision cylinder.
    centres: dict[str, np.ndarray] = {}
    radii: list[float] = []
    for wheel in WHEEL_ORDER:
        joint = p.joint(joints, _WHEEL_JOINTS[wheel], f"the {wheel.replace('_', ' ')} wheel")
        if joint.type not in {"continuous", "revolute"}:
            raise p.error(f"<joint name={joint.name!r}>", f"a wheel joint must be continuous, not {joint.type!r}")
        centres[wheel] = poses[joint.child][:3, 3]
        radii.append(_wheel_radius(p, robot, joint.child))
    wheel_radius = radii[0]
    if max(radii) - min(radii) > 1e-9:
        raise p.error("<link> wheels", f"the four wheel radii differ: {radii}")

    ground_z = min(float(c[2]) for c in centres.values()) - wheel_radius
    rear_x = 0.5 * (centres["left_rear"][0] + centres["right_rear"][0])
    front_x = 0.5 * (centres["left_front"][0] + centres["right_front"][0])
    wheelbase = float(front_x - rear_x)
    if wheelbase <= 0:
        raise p.error("<joint> wheels", f"front wheels must be ahead of the rear wheels (wheelbase {wheelbase:.4f} m)")
    track = float(abs(centres["left_rear"][1] - centres["right_rear"][1]))
    if track <= 0:
        raise p.error("<joint> rear wheels", "left and right rear wheels are at the same y")
    contacts = np.array([[centres[w][0], centres[w][1]] for w in WHEEL_ORDER], dtype=np.float64)
    contacts.setflags(write=False)

    max_steer = min(_steering_limit(p, p.joint(joints, name, "front steering hinge")) for name in _STEERING_JOINTS)
    min_speed, max_speed = _speed_limits(p, robot, joints, wheel_radius)

    camera = _camera(p, robot, links, poses, _CAMERA_SENSOR, ground_z, required=True)
    wide = _camera(p, robot, links, poses, _WIDE_CAMERA_SENSOR, ground_z, required=False)
    return VehicleGeometry(
        wheelbase_m=wheelbase,
        track_width_m=track,
        wheel_radius_m=wheel_radius,
        max_steering_angle_rad=max_steer,
        min_speed_m_s=min_speed,
        max_speed_m_s=max_speed,
        rear_axle_x_m=float(rear_x),
        wheel_contacts_m=contacts,
        camera=camera,
        wide_camera=wide,
        resting_pitch_rad=_resting_pitch(centres, wheelbase),
        front_wheel_centre_z_m=float(0.5 * (centres["left_front"][2] + centres["right_front"][2]) - ground_z),
    )


def _resting_pitch(centres: dict[str, np.ndarray], wheelbase: float) -> float:
    """Nose-up angle (rad) of the chassis standing on its wheels (equal radii): the slope of the
    line through the mean front and mean rear wheel centres, from the rear's point of view."""
    front_z = 0.5 * (centres["left_front"][2] + centres["right_front"][2])
    rear_z = 0.5 * (centres["left_rear"][2] + centres["right_rear"][2])
    return float(math.atan2(rear_z - front_z, wheelbase))


def _wheel_radius(p: _Parser, robot: ET.Element, link: str) -> float:
    link_el = robot.find(f"link[@name='{link}']")
    where = f"<link name={link!r}> <collision><geometry><cylinder>"
    cyl = link_el.find("collision/geometry/cylinder") if link_el is not None else None
    if cyl is None:
        raise p.error(where, "missing (the wheel radius comes from it)")
    return p.positive(p.attr_float(cyl, "radius", where), f"{where} radius")


def _steering_limit(p: _Parser, joint: _Joint) -> float:
    where = f"<joint name={joint.name!r}>"
    if joint.type != "revolute":
        raise p.error(where, f"a steering hinge must be revolute (with limits), not {joint.type!r}")
    limit = joint.element.find("limit")
    if limit is None:
        raise p.error(f"{where} <limit>", "missing (needs lower and upper, radians)")
    lower = p.attr_float(limit, "lower", f"{where} <limit>")
    upper = p.attr_float(limit, "upper", f"{where} <limit>")
    if not (lower < 0.0 < upper):
        raise p.error(f"{where} <limit>", f"need lower < 0 < upper, got lower={lower} upper={upper}")
    if upper >= math.pi / 2 or -lower >= math.pi / 2:
        raise p.error(f"{where} <limit>", "steering limits must be below pi/2 rad")
    return min(upper, -lower)


def _speed_limits(
    p: _Parser, robot: ET.Element, joints: dict[str, _Joint], wheel_radius: float
) -> tuple[float, float]:
    wheel_speeds = []
    for name in _REAR_WHEEL_JOINTS:
        where = f"<joint name={name!r}> <limit>"
        limit = joints[name].element.find("limit")
        if limit is None:
            raise p.error(where, "missing (its velocity, rad/s, times the wheel radius is the max speed)")
        wheel_speeds.append(p.positive(p.attr_float(limit, "velocity", where), f"{where} velocity"))
    max_speed = round(min(wheel_speeds) * wheel_radius, 9)

    where = "<deepracer:drive>"
    drive = robot.find(f"{{{DEEPRACER_NS}}}drive")
    if drive is None:
        raise p.error(where, f"missing (xmlns:deepracer={DEEPRACER_NS!r}; holds min_speed_m_s)")
    min_speed = p.positive(p.attr_float(drive, "min_speed_m_s", where), f"{where} min_speed_m_s")
    if drive.get("max_speed_m_s") is not None:
        declared = p.attr_float(drive, "max_speed_m_s", where)
        if abs(declared - max_speed) > 1e-6:
            raise p.error(
                f"{where} max_speed_m_s",
                f"{declared} disagrees with the rear wheel velocity limit x radius = {max_speed} m/s",
            )
    if min_speed >= max_speed:
        raise p.error(f"{where} min_speed_m_s", f"{min_speed} must be below the max speed {max_speed} m/s")
    return min_speed, max_speed


def _camera(
    p: _Parser,
    robot: ET.Element,
    links: set[str],
    poses: dict[str, np.ndarray],
    sensor_name: str,
    ground_z: float,
    required: bool,
) -> CameraGeometry | None:
    found = [
        (g, s)
        for g in robot.findall("gazebo")
        for s in g.findall("sensor")
        if s.get("name") == sensor_name
    ]
    where = f"<gazebo><sensor name={sensor_name!r}>"
    if not found:
        if required:
            raise p.error(where, "missing (the camera's pose and intrinsics come from it)")
        return None
    if len(found) > 1:
        raise p.error(where, "defined more than once")
    gazebo, sensor = found[0]
    link = gazebo.get("reference")
    if not link:
        raise p.error(f"<gazebo> holding {where}", "missing reference attribute (the camera link)")
    if link not in links:
        raise p.error(f"<gazebo reference={link!r}>", f"camera link {link!r} is not a <link> of the robot")
    where = f"<gazebo reference={link!r}><sensor name={sensor_name!r}>"

    stype = sensor.get("type")
    cam = sensor.find("camera")
    if cam is None:
        raise p.error(f"{where} <camera>", "missing")
    if stype == "camera":
        model = "pinhole"
    elif stype == "wideanglecamera":
        lens = cam.findtext("lens/type", default="gnomonical").strip()
        model = "fisheye" if lens in _FISHEYE_LENSES else "pinhole"
    else:
        raise p.error(where, f"type must be 'camera' or 'wideanglecamera', got {stype!r}")

    pose = poses[link]
    pose_el = sensor.find("pose")
    if pose_el is not None and (pose_el.text or "").strip():
        values = p.floats(pose_el.text, 6, f"{where} <pose>", "text")
        pose = pose @ _transform(values[:3], values[3:])
    forward = pose[:3, 0]  # Gazebo cameras look along +x of their frame
    pitch = math.atan2(-forward[2], math.hypot(forward[0], forward[1]))

    image = cam.find("image")
    if image is None:
        raise p.error(f"{where} <camera><image>", "missing")
    output = sensor.find(f"{{{DEEPRACER_NS}}}output")
    out_where = f"{where} <deepracer:output>"
    if output is None:
        raise p.error(out_where, "missing (width and height of the image the agent sees)")
    out_w, out_h = (p.attr_float(output, a, out_where) for a in ("width", "height"))
    if out_w != int(out_w) or out_h != int(out_h) or out_w <= 0 or out_h <= 0:
        raise p.error(out_where, f"width and height must be positive integers, got {out_w} x {out_h}")

    clip = cam.find("clip")
    if clip is None:
        raise p.error(f"{where} <camera><clip>", "missing (needs <near>, metres)")
    hfov = p.text_float(cam, "horizontal_fov", f"{where} <camera>")
    if not 0.0 < hfov < 2.0 * math.pi:
        raise p.error(f"{where} <camera><horizontal_fov>", f"must be in (0, 2 pi) rad, got {hfov}")
    return CameraGeometry(
        x_m=float(pose[0, 3]),
        y_m=float(pose[1, 3]),
        z_m=float(pose[2, 3] - ground_z),
        pitch_rad=float(pitch),
        horizontal_fov_rad=hfov,
        sensor_width_px=p.text_int(image, "width", f"{where} <camera><image>"),
        sensor_height_px=p.text_int(image, "height", f"{where} <camera><image>"),
        output_width_px=int(out_w),
        output_height_px=int(out_h),
        rate_hz=p.positive(p.text_float(sensor, "update_rate", where), f"{where} <update_rate>"),
        near_m=p.positive(p.text_float(clip, "near", f"{where} <camera><clip>"), f"{where} <camera><clip><near>"),
        model=model,
    )


# --------------------------------------------------------------------------------------------
# Small maths
# --------------------------------------------------------------------------------------------


def _transform(xyz: list[float], rpy: list[float]) -> np.ndarray:
    """4x4 homogeneous transform of a URDF origin: R = Rz(yaw) @ Ry(pitch) @ Rx(roll), then xyz."""
    roll, pitch, yaw = rpy
    cr, sr = math.cos(roll), math.sin(roll)
    cp, sp = math.cos(pitch), math.sin(pitch)
    cy, sy = math.cos(yaw), math.sin(yaw)
    rx = np.array([[1, 0, 0], [0, cr, -sr], [0, sr, cr]])
    ry = np.array([[cp, 0, sp], [0, 1, 0], [-sp, 0, cp]])
    rz = np.array([[cy, -sy, 0], [sy, cy, 0], [0, 0, 1]])
    t = np.eye(4)
    t[:3, :3] = rz @ ry @ rx
    t[:3, 3] = xyz
    return t


def _finite(value: float, name: str) -> float:
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return value


def _clip(value: float, limit: float) -> float:
    return max(-limit, min(limit, value))
