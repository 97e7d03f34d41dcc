"""TF tree and camera intrinsics computed from the URDF (what robot_state_publisher and camera_info carry)."""
import math

import numpy as np
import pytest

from deepracer_description.frames import (CAMERA_OPTICAL_FRAME, camera_intrinsics, joint_transforms, pose_in_base,
                                          quaternion_from_matrix)
from deepracer_description.vehicle import URDFError, load_vehicle


def test_every_link_reachable_and_fixed_joints_static():
    tfs = joint_transforms()
    children = {t.child for t in tfs}
    assert {"chassis", "camera_link", CAMERA_OPTICAL_FRAME, "left_rear_wheel"} <= children
    by_joint = {t.joint: t for t in tfs}
    assert by_joint["camera_optical_joint"].static and by_joint["zed_camera_joint"].static
    assert not by_joint["left_rear_wheel_joint"].static and not by_joint["left_steering_hinge_joint"].static
    for t in tfs:
        assert math.isclose(np.linalg.norm(t.rotation), 1.0, rel_tol=1e-12)


def test_chained_camera_pose_matches_the_loader():
    vehicle, tfs = load_vehicle(), joint_transforms()
    cam = pose_in_base(tfs, "camera_link")
    ground_z = vehicle.camera.z_m - cam[2, 3]     # loader's z is above the ground, TF's above base_link
    assert cam[0, 3] == pytest.approx(vehicle.camera.x_m, abs=1e-9)
    assert cam[1, 3] == pytest.approx(vehicle.camera.y_m, abs=1e-9)
    assert abs(ground_z) < 1e-3                  # base_link sits (8 um) on the wheel contact plane
    forward = cam[:3, :3] @ np.array([1.0, 0.0, 0.0])
    assert math.atan2(-forward[2], forward[0]) == pytest.approx(vehicle.camera.pitch_rad, abs=1e-9)


def test_optical_frame_is_z_forward_x_right_y_down():
    tfs = joint_transforms()
    cam, opt = pose_in_base(tfs, "camera_link"), pose_in_base(tfs, CAMERA_OPTICAL_FRAME)
    rel = np.linalg.inv(cam) @ opt
    np.testing.assert_allclose(rel[:3, :3] @ [0, 0, 1], [1, 0, 0], atol=1e-12)    # optical z = link +x
    np.testing.assert_allclose(rel[:3, :3] @ [1, 0, 0], [0, -1, 0], atol=1e-12)   # optical x = right
    np.testing.assert_allclose(rel[:3, :3] @ [0, 1, 0], [0, 0, -1], atol=1e-12)   # optical y = down


def test_quaternion_round_trip_on_awkward_rotations():
    from deepracer_description.frames import FrameTransform
    for axis, angle in [((1, 0, 0), math.pi), ((0, 1, 0), math.pi), ((0, 0, 1), math.pi), ((1, 1, 0), 2.5),
                        ((0.3, -0.2, 0.9), 0.7)]:
        a = np.array(axis, dtype=float) / np.linalg.norm(axis)
        k = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
        r = np.eye(3) + math.sin(angle) * k + (1 - math.cos(angle)) * k @ k
        q = quaternion_from_matrix(r)
        np.testing.assert_allclose(FrameTransform("a", "b", (0, 0, 0), q, True, "j").matrix()[:3, :3], r, atol=1e-12)


def test_pinhole_intrinsics_project_pixel_centres_to_integer_pixels():
    hfov = load_vehicle().camera.horizontal_fov_rad
    k = camera_intrinsics(160, 120, hfov)
    assert k.distortion_model == "plumb_bob" and k.d == (0.0,) * 5
    f = 80.0 / math.tan(hfov / 2)
    K = np.array(k.k).reshape(3, 3)
    # the renderer's ray of pixel (row i, column j) passes through (j + 0.5 - w/2, i + 0.5 - h/2) / f
    for i, j in [(0, 0), (119, 159), (60, 80), (7, 131)]:
        d = np.array([(j + 0.5 - 80) / f, (i + 0.5 - 60) / f, 1.0])
        u, v, w = K @ d
        assert (u / w, v / w) == pytest.approx((j, i), abs=1e-9)
    assert np.array(k.p).reshape(3, 4)[:, :3].tolist() == K.tolist()


def test_fisheye_and_bad_inputs():
    k = camera_intrinsics(640, 480, math.radians(170), "fisheye")
    assert k.distortion_model == "equidistant" and k.focal_px == pytest.approx(320 / math.radians(85))
    with pytest.raises(ValueError, match="pinhole horizontal FOV"):
        camera_intrinsics(160, 120, math.pi)
    with pytest.raises(ValueError, match="camera model"):
        camera_intrinsics(160, 120, 1.0, "orthographic")
    with pytest.raises(ValueError, match="image size"):
        camera_intrinsics(0, 120, 1.0)


def test_broken_urdf_names_the_file(tmp_path):
    bad = tmp_path / "two_roots.urdf"
    bad.write_text('<robot name="r"><link name="base_link"/><link name="stray"/></robot>')
    with pytest.raises(URDFError, match="two_roots.urdf.*exactly one root"):
        joint_transforms(bad)


def _axis_rotation(axis, angle):
    """Rodrigues' rotation matrix about a unit axis (the URDF meaning of a joint position)."""
    x, y, z = axis
    k = np.array([[0, -z, y], [z, 0, -x], [-y, x, 0]], dtype=float)
    return np.eye(3) + math.sin(angle) * k + (1 - math.cos(angle)) * k @ k


def test_moving_joints_at_a_position_follow_their_urdf_axis():
    by_joint = {t.joint: t for t in joint_transforms()}
    hinge, wheel = by_joint["left_steering_hinge_joint"], by_joint["left_rear_wheel_joint"]
    assert hinge.axis == (0.0, 0.0, 1.0) and wheel.axis == (0.0, 1.0, 0.0)
    assert by_joint["camera_joint"].axis is None
    for t, angle in ((hinge, 0.3), (hinge, -0.52), (wheel, 2.0), (wheel, -7.0)):
        moved = t.at(angle)
        expected = t.matrix()[:3, :3] @ _axis_rotation(t.axis, angle)        # origin, then the joint rotation
        np.testing.assert_allclose(moved.matrix()[:3, :3], expected, atol=1e-12)
        assert moved.translation == t.translation and moved.parent == t.parent and moved.child == t.child
        assert math.isclose(np.linalg.norm(moved.rotation), 1.0, rel_tol=1e-12)
    assert hinge.at(0.0).rotation == pytest.approx(hinge.rotation)
    # a steered hinge turns the front wheel's axle: +0.3 rad = the wheel's forward direction yaws left
    front = pose_in_base((*[t for t in joint_transforms() if t.joint != hinge.joint], hinge.at(0.3)), "left_front_wheel")
    straight = pose_in_base(joint_transforms(), "left_front_wheel")
    fwd, fwd0 = front[:3, :3] @ [1, 0, 0], straight[:3, :3] @ [1, 0, 0]
    assert math.atan2(fwd[1], fwd[0]) - math.atan2(fwd0[1], fwd0[0]) == pytest.approx(0.3, abs=1e-9)
    with pytest.raises(ValueError, match="camera_joint"):
        by_joint["camera_joint"].at(0.1)


def test_ackermann_hinge_angles_share_one_turning_centre():
    from deepracer_description.frames import ackermann_hinge_angles

    vehicle = load_vehicle()
    wb, track = vehicle.wheelbase_m, vehicle.track_width_m
    assert ackermann_hinge_angles(0.0, wb, track) == (0.0, 0.0)
    for steer in (0.1, 0.3, -0.25, vehicle.max_steering_angle_rad):
        left, right = ackermann_hinge_angles(steer, wb, track)
        radius = wb / math.tan(steer)                   # turning centre on the rear axle, left of the car if > 0
        assert math.tan(left) == pytest.approx(wb / (radius - track / 2), rel=1e-12)
        assert math.tan(right) == pytest.approx(wb / (radius + track / 2), rel=1e-12)
        inner, outer = (left, right) if steer > 0 else (right, left)
        assert abs(inner) > abs(steer) > abs(outer) and math.copysign(1, inner) == math.copysign(1, steer)
    left, right = ackermann_hinge_angles(0.3, wb, track)
    assert (right, left) == pytest.approx(tuple(-a for a in ackermann_hinge_angles(-0.3, wb, track)))
    with pytest.raises(ValueError, match="positive"):
        ackermann_hinge_angles(0.1, 0.0, track)


def test_drive_state_moves_hinges_and_wheels_only():
    from deepracer_description.frames import ackermann_hinge_angles, drive_joint_transforms

    vehicle, tfs = load_vehicle(), joint_transforms()
    moved = {t.joint: t for t in drive_joint_transforms(tfs, vehicle, 0.25, 1.0)}
    assert set(moved) == {t.joint for t in tfs if not t.static}
    left, right = ackermann_hinge_angles(0.25, vehicle.wheelbase_m, vehicle.track_width_m)
    by_joint = {t.joint: t for t in tfs}
    assert moved["left_steering_hinge_joint"] == by_joint["left_steering_hinge_joint"].at(left)
    assert moved["right_steering_hinge_joint"] == by_joint["right_steering_hinge_joint"].at(right)
    for wheel in ("left_front", "right_front", "left_rear", "right_rear"):
        assert moved[f"{wheel}_wheel_joint"] == by_joint[f"{wheel}_wheel_joint"].at(1.0)
    at_rest = {t.joint: t for t in drive_joint_transforms(tfs, vehicle, 0.0, 0.0)}
    for name, t in at_rest.items():
        assert t.rotation == pytest.approx(by_joint[name].rotation, abs=1e-15)
