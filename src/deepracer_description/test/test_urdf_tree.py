"""The shipped URDF is well-formed XML and a valid kinematic tree (checked independently of the loader)."""
import math
import xml.etree.ElementTree as ET

import pytest

from deepracer_description import default_urdf_path
from deepracer_description.vehicle import DEEPRACER_NS

JOINT_TYPES = {"fixed", "revolute", "continuous", "prismatic", "floating", "planar"}


@pytest.fixture(scope="module")
def robot() -> ET.Element:
    path = default_urdf_path()
    assert path.is_file(), path
    return ET.parse(path).getroot()


def test_root_element_is_robot(robot):
    assert robot.tag == "robot"
    assert robot.get("name") == "deepracer"


def test_links_and_joints_are_uniquely_named(robot):
    links = [el.get("name") for el in robot.findall("link")]
    joints = [el.get("name") for el in robot.findall("joint")]
    assert all(links) and all(joints)
    assert len(links) == len(set(links))
    assert len(joints) == len(set(joints))


def test_kinematic_tree_one_root_one_parent_each_all_reachable(robot):
    links = {el.get("name") for el in robot.findall("link")}
    parent_of: dict[str, str] = {}
    for joint in robot.findall("joint"):
        assert joint.get("type") in JOINT_TYPES, joint.get("name")
        parent = joint.find("parent").get("link")
        child = joint.find("child").get("link")
        assert parent in links, (joint.get("name"), parent)
        assert child in links, (joint.get("name"), child)
        assert child not in parent_of, f"{child} has two parents"
        parent_of[child] = parent
    roots = links - parent_of.keys()
    assert roots == {"base_link"}
    for link in links:  # walking up from any link reaches the root without a cycle
        seen = set()
        while link in parent_of:
            assert link not in seen, f"cycle through {link}"
            seen.add(link)
            link = parent_of[link]
        assert link == "base_link"


def test_expected_links_exist(robot):
    links = {el.get("name") for el in robot.findall("link")}
    expected = {
        "base_link", "chassis", "left_rear_wheel", "right_rear_wheel", "left_front_wheel",
        "right_front_wheel", "left_steering_hinge", "right_steering_hinge", "camera_link",
        "camera_optical_frame", "wide_camera_link", "wide_camera_optical_frame",
    }
    assert expected <= links


def test_steering_hinges_are_revolute_with_30_degree_limits(robot):
    for side in ("left", "right"):
        joint = robot.find(f"joint[@name='{side}_steering_hinge_joint']")
        assert joint.get("type") == "revolute"
        limit = joint.find("limit")
        assert float(limit.get("lower")) == -math.radians(30)  # exactly 30 deg (~0.5236 rad)
        assert float(limit.get("upper")) == math.radians(30)
        assert joint.find("axis").get("xyz").split() == ["0", "0", "1"]


def test_every_non_root_link_with_geometry_has_an_inertial(robot):
    for link in robot.findall("link"):
        if link.find("visual") is not None or link.find("collision") is not None:
            inertial = link.find("inertial")
            assert inertial is not None, link.get("name")
            assert float(inertial.find("mass").get("value")) > 0


def test_camera_sensor_block_and_extension_elements(robot):
    sensors = {s.get("name"): (g.get("reference"), s) for g in robot.findall("gazebo") for s in g.findall("sensor")}
    ref, cam = sensors["camera"]
    assert ref == "camera_link" and cam.get("type") == "camera"
    assert cam.findtext("camera/image/format") == "R8G8B8"
    assert cam.find(f"{{{DEEPRACER_NS}}}output") is not None
    ref, wide = sensors["wide_camera"]
    assert ref == "wide_camera_link" and wide.get("type") == "wideanglecamera"
    assert wide.findtext("camera/lens/type") == "equidistant"
    assert robot.find(f"{{{DEEPRACER_NS}}}drive") is not None
