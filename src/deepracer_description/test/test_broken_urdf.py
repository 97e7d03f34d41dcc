"""Broken URDFs are rejected with a URDFError that names the file and the offending element."""
import re

import pytest

from deepracer_description import URDFError, default_urdf_path, load_vehicle

GOOD = default_urdf_path().read_text()


def _element_block(tag: str, name: str) -> str:
    """The full text of <tag name="name"> ... </tag> (or the self-closing form) in the shipped URDF."""
    match = re.search(rf'\n  <{tag} name="{name}"(?:/>|.*?</{tag}>)', GOOD, flags=re.S)
    assert match, f"{tag} {name} not in the shipped URDF"
    return match.group(0)


def _sub(old: str, new: str, count: int = 1):
    def edit(text: str) -> str:
        assert text.count(old) >= count, f"variant no longer applies: {old!r} not in the URDF"
        return text.replace(old, new, count)

    return edit


def _remove_blocks(*blocks: tuple[str, str]):
    def edit(text: str) -> str:
        for tag, name in blocks:
            text = text.replace(_element_block(tag, name), "", 1)
        return text

    return edit


# (id, edit of the URDF text, substrings the message must contain besides the file path)
VARIANTS = [
    ("malformed_xml", lambda t: t[: len(t) // 2], ["not well-formed XML", "line"]),
    ("empty_file", lambda t: "", ["not well-formed XML"]),
    ("not_a_robot", lambda t: "<model/>", ["<model>", "<robot>"]),
    ("missing_camera_link", _remove_blocks(("link", "camera_link")),
     ["<joint name='camera_joint'>", "camera_link", "unknown link"]),
    ("camera_sensor_on_unknown_link", _sub('<gazebo reference="camera_link">', '<gazebo reference="lens">'),
     ["<gazebo reference='lens'>", "not a <link>"]),
    ("missing_camera_sensor", _sub('<sensor type="camera" name="camera">', '<sensor type="camera" name="front">'),
     ["<sensor name='camera'>", "missing"]),
    ("missing_steering_limit",
     _sub('<limit lower="-0.5235987755982988" upper="0.5235987755982988" effort="10" velocity="5.0"/>', ""),
     ["<joint name='left_steering_hinge_joint'> <limit>", "missing"]),
    ("steering_limit_without_upper", _sub('upper="0.5235987755982988" ', ""),
     ["<joint name='left_steering_hinge_joint'> <limit> attribute upper", "missing"]),
    ("steering_hinge_continuous", _sub('<joint name="right_steering_hinge_joint" type="revolute">',
                                       '<joint name="right_steering_hinge_joint" type="continuous">'),
     ["<joint name='right_steering_hinge_joint'>", "revolute"]),
    ("non_numeric_origin", _sub('xyz="-0.081663 0.08105 0.01575"', 'xyz="-0.081663 abc 0.01575"'),
     ["<joint name='left_rear_wheel_joint'> <origin> attribute xyz", "not a number"]),
    ("origin_two_numbers", _sub('xyz="0 0 0.023249"', 'xyz="0 0.023249"'),
     ["<joint name='chassis_joint'> <origin> attribute xyz", "expected 3 numbers"]),
    ("non_numeric_radius", _sub('<cylinder radius="0.035" length="0.025"/></geometry>\n    </collision>',
                                '<cylinder radius="big" length="0.025"/></geometry>\n    </collision>'),
     ["<link name='left_rear_wheel'> <collision><geometry><cylinder> attribute radius", "not a number"]),
    ("non_numeric_fov", _sub("<horizontal_fov>1.13</horizontal_fov>", "<horizontal_fov>wide</horizontal_fov>"),
     ["<sensor name='camera'>", "<horizontal_fov>", "not a number"]),
    ("nan_steering_limit", _sub('lower="-0.5235987755982988"', 'lower="nan"'),
     ["<joint name='left_steering_hinge_joint'> <limit> attribute lower", "finite"]),
    ("fractional_image_width", _sub("<width>640</width>", "<width>640.5</width>"),
     ["<sensor name='camera'>", "<width>", "positive integer"]),
    ("missing_wheel_joint", _remove_blocks(("joint", "right_rear_wheel_joint"), ("link", "right_rear_wheel")),
     ["<joint name='right_rear_wheel_joint'>", "missing"]),
    ("two_roots", _sub('<link name="base_link"/>', '<link name="base_link"/>\n  <link name="orphan"/>'),
     ["<robot>", "exactly one root", "orphan"]),
    ("joint_names_unknown_link", _sub('<parent link="left_steering_hinge"/>', '<parent link="left_hinge"/>'),
     ["<joint name='left_front_wheel_joint'> <parent link='left_hinge'>", "unknown link"]),
    ("link_with_two_parents", _sub('<child link="wide_camera_link"/>', '<child link="camera_optical_frame"/>'),
     ["<joint name='wide_camera_joint'> <child link='camera_optical_frame'>", "already has a parent"]),
    ("duplicate_link", _sub('<link name="camera_optical_frame"/>', '<link name="camera_optical_frame"/>\n  <link name="chassis"/>'),
     ["<link name='chassis'>", "defined twice"]),
    ("missing_min_speed", _sub('min_speed_m_s="0.1" ', ""),
     ["<deepracer:drive> attribute min_speed_m_s", "missing"]),
    ("missing_drive_element", _sub('<deepracer:drive min_speed_m_s="0.1" max_speed_m_s="4.0"/>', ""),
     ["<deepracer:drive>", "missing"]),
    ("max_speed_disagrees", _sub('max_speed_m_s="4.0"', 'max_speed_m_s="3.0"'),
     ["<deepracer:drive> max_speed_m_s", "disagrees"]),
    ("missing_wheel_velocity_limit",
     _sub('<origin xyz="-0.081663 -0.08105 0.01575" rpy="0 0 0"/>\n    <axis xyz="0 1 0"/>\n'
          '    <limit effort="10" velocity="114.28571428571429"/>',
          '<origin xyz="-0.081663 -0.08105 0.01575" rpy="0 0 0"/>\n    <axis xyz="0 1 0"/>'),
     ["<joint name='right_rear_wheel_joint'> <limit>", "missing"]),
    ("missing_output_size", _sub('<deepracer:output width="160" height="120" encoding="mono8" interpolation="bilinear"/>', ""),
     ["<sensor name='camera'> <deepracer:output>", "missing"]),
]


@pytest.mark.parametrize("edit,expected", [pytest.param(e, x, id=i) for i, e, x in VARIANTS])
def test_broken_variant_is_rejected_naming_file_and_element(tmp_path, edit, expected):
    path = tmp_path / "broken.urdf"
    path.write_text(edit(GOOD))
    with pytest.raises(URDFError) as info:
        load_vehicle(path)
    message = str(info.value)
    assert message.startswith(str(path)), message
    for part in expected:
        assert part in message, f"{part!r} not in {message!r}"
    # A clean, short error: no chained exception for the user to dig through.
    err = info.value
    assert err.__cause__ is None and (err.__context__ is None or err.__suppress_context__)


def test_wheel_without_collision_cylinder(tmp_path):
    text = GOOD.replace(
        _element_block("link", "left_front_wheel"),
        '\n  <link name="left_front_wheel"/>',
    )
    path = tmp_path / "no_collision.urdf"
    path.write_text(text)
    with pytest.raises(URDFError, match=r"<link name='left_front_wheel'> <collision><geometry><cylinder>: missing"):
        load_vehicle(path)


def test_missing_file_is_named(tmp_path):
    path = tmp_path / "nope.urdf"
    with pytest.raises(URDFError, match=re.escape(f"{path}: file not found")):
        load_vehicle(path)


def test_wide_camera_is_optional(tmp_path):
    start = GOOD.index('  <gazebo reference="wide_camera_link">')
    end = GOOD.index("</gazebo>", start) + len("</gazebo>")
    path = tmp_path / "no_wide.urdf"
    path.write_text(GOOD[:start] + GOOD[end:])
    car = load_vehicle(path)
    assert car.wide_camera is None
    assert car.camera.horizontal_fov_rad == pytest.approx(1.13)


def test_urdf_error_is_a_value_error():
    assert issubclass(URDFError, ValueError)


def test_edited_geometry_flows_through(tmp_path):
    """The numbers really come from the file: moving the rear wheels back lengthens the wheelbase."""
    text = GOOD.replace('xyz="-0.081663 0.08105 0.01575"', 'xyz="-0.101663 0.08105 0.01575"')
    text = text.replace('xyz="-0.081663 -0.08105 0.01575"', 'xyz="-0.101663 -0.08105 0.01575"')
    text = text.replace('rpy="0 0.2618 0"', 'rpy="0 0.5 0"')
    path = tmp_path / "longer.urdf"
    path.write_text(text)
    car = load_vehicle(path)
    assert car.wheelbase_m == pytest.approx(0.082311 + 0.101663)
    assert car.rear_axle_x_m == pytest.approx(-0.101663)
    assert car.camera.pitch_rad == pytest.approx(0.5)
