"""load_vehicle() returns the DeepRacer's numbers, computed from the URDF's kinematic tree."""
import math
from pathlib import Path

import numpy as np
import pytest

import deepracer_description.vehicle as vehicle_mod
from deepracer_description import WHEEL_ORDER, CameraGeometry, VehicleGeometry, default_urdf_path, load_vehicle


@pytest.fixture(scope="module")
def car() -> VehicleGeometry:
    return load_vehicle()


def test_wheel_geometry(car):
    assert car.wheel_radius_m == pytest.approx(0.035)
    assert car.wheelbase_m == pytest.approx(0.082311 + 0.081663, abs=1e-9)  # ~0.164
    assert car.track_width_m == pytest.approx(2 * 0.08105, abs=1e-9)  # ~0.16 (rear axle)
    assert car.rear_axle_x_m == pytest.approx(-0.081663, abs=1e-9)


def test_wheel_contacts_follow_wheel_order(car):
    assert WHEEL_ORDER == ("left_front", "right_front", "left_rear", "right_rear")
    expected = np.array([[0.082311, 0.079601], [0.082311, -0.079601], [-0.081663, 0.08105], [-0.081663, -0.08105]])
    assert car.wheel_contacts_m.shape == (4, 2)
    np.testing.assert_allclose(car.wheel_contacts_m, expected, atol=1e-9)
    with pytest.raises(ValueError):
        car.wheel_contacts_m[0, 0] = 1.0  # read-only: the cached geometry is shared


def test_command_limits(car):
    # Exactly math.radians(30): a +-30 deg action converted to radians is never clipped.
    assert car.max_steering_angle_rad == math.radians(30)
    assert math.degrees(car.max_steering_angle_rad) == pytest.approx(30.0)
    assert car.min_speed_m_s == pytest.approx(0.1)
    assert car.max_speed_m_s == pytest.approx(4.0)


def test_camera_pose_from_tree(car):
    cam = car.camera
    # Independent hand computation from the REFERENCE numbers: the camera_joint offset lives in the
    # mount frame, which is pitched down by 0.2618 rad about +y.
    pitch = 0.2618
    lens_x = 0.091711 + 0.044755 * math.cos(pitch) + 0.04 * math.sin(pitch)
    lens_z_base = 0.023249 + 0.080023 - 0.044755 * math.sin(pitch) + 0.04 * math.cos(pitch)
    ground_z = 0.023249 + 0.011759 - 0.035  # the lowest wheel bottom (front wheels)
    assert cam.x_m == pytest.approx(lens_x, abs=1e-9)
    assert cam.y_m == pytest.approx(0.0, abs=1e-12)
    assert cam.z_m == pytest.approx(lens_z_base - ground_z, abs=1e-9)
    assert 0.12 < cam.z_m < 0.15  # "about 0.14 m above the ground"
    assert cam.pitch_rad == pytest.approx(0.2618, abs=1e-9)


def test_camera_intrinsics(car):
    cam = car.camera
    assert isinstance(cam, CameraGeometry)
    assert cam.horizontal_fov_rad == pytest.approx(1.13)
    assert (cam.sensor_width_px, cam.sensor_height_px) == (640, 480)
    assert (cam.output_width_px, cam.output_height_px) == (160, 120)
    assert cam.rate_hz == pytest.approx(15.0)
    assert cam.near_m == pytest.approx(0.02)
    assert cam.model == "pinhole"


def test_wide_camera(car):
    wide = car.wide_camera
    assert wide is not None
    assert wide.model == "fisheye"
    assert wide.horizontal_fov_rad == pytest.approx(2.0)
    assert (wide.x_m, wide.z_m, wide.pitch_rad) == pytest.approx((car.camera.x_m, car.camera.z_m, car.camera.pitch_rad))
    assert (wide.output_width_px, wide.output_height_px) == (160, 120)


def test_default_is_cached_and_explicit_path_is_equal(car):
    assert load_vehicle() is car
    again = load_vehicle(default_urdf_path())
    assert again is not car
    assert again == car  # dataclass equality (wheel_contacts_m excluded), so also hashable
    assert hash(again) == hash(car)
    np.testing.assert_array_equal(again.wheel_contacts_m, car.wheel_contacts_m)


def test_default_path_is_installed_share_when_ament_finds_it():
    ament = pytest.importorskip("ament_index_python.packages")
    try:
        share = Path(ament.get_package_share_directory("deepracer_description"))
    except Exception:  # noqa: BLE001
        pytest.skip("deepracer_description is not in the ament index (workspace not sourced)")
    installed = share / "urdf" / "deepracer.urdf"
    assert installed.is_file(), f"colcon build did not install the URDF into {installed}"
    assert default_urdf_path() == installed


def test_default_path_falls_back_to_source_tree(monkeypatch):
    import ament_index_python.packages as ament

    def not_found(name):
        raise ament.PackageNotFoundError(name)

    monkeypatch.setattr(ament, "get_package_share_directory", not_found)
    path = default_urdf_path()
    assert path == Path(vehicle_mod.__file__).resolve().parent.parent / "urdf" / "deepracer.urdf"
    assert path.is_file()


# ---- twist <-> drive -------------------------------------------------------------------------

@pytest.mark.parametrize("speed", [0.1, 0.6, 1.0, 4.0, -0.5])
@pytest.mark.parametrize("steering_deg", [-30.0, -15.0, -1.0, 0.0, 7.5, 15.0, 30.0])
def test_drive_twist_round_trip(car, speed, steering_deg):
    steering = math.radians(steering_deg)
    steering = max(-car.max_steering_angle_rad, min(car.max_steering_angle_rad, steering))
    linear_x, angular_z = car.twist_from_drive(speed, steering)
    assert linear_x == speed
    assert angular_z == pytest.approx(speed * math.tan(steering) / car.wheelbase_m)
    back_speed, back_steering = car.drive_from_twist(linear_x, angular_z)
    assert back_speed == pytest.approx(speed)
    assert back_steering == pytest.approx(steering, abs=1e-12)


@pytest.mark.parametrize("linear_x,angular_z", [(1.0, 0.5), (0.3, -0.8), (2.0, 0.0), (-1.0, 1.0)])
def test_twist_drive_round_trip_within_limits(car, linear_x, angular_z):
    speed, steering = car.drive_from_twist(linear_x, angular_z)
    assert abs(steering) < car.max_steering_angle_rad
    assert car.twist_from_drive(speed, steering) == pytest.approx((linear_x, angular_z))


def test_turning_radius_matches_bicycle_model(car):
    # Full lock: R = wheelbase / tan(30 deg) ~ 0.284 m.
    v = 1.0
    _, w = car.twist_from_drive(v, car.max_steering_angle_rad)
    assert v / w == pytest.approx(car.wheelbase_m / math.tan(math.radians(30)), rel=1e-4)


def test_steering_is_clipped(car):
    max_steer = car.max_steering_angle_rad
    assert car.drive_from_twist(0.5, 100.0) == (0.5, pytest.approx(max_steer))
    assert car.drive_from_twist(0.5, -100.0) == (0.5, pytest.approx(-max_steer))
    assert car.twist_from_drive(1.0, 1.2) == pytest.approx(car.twist_from_drive(1.0, max_steer))


def test_zero_speed_keeps_sign_of_yaw_rate(car):
    assert car.drive_from_twist(0.0, 0.0) == (0.0, 0.0)
    assert car.drive_from_twist(0.0, 0.7) == (0.0, car.max_steering_angle_rad)
    assert car.drive_from_twist(0.0, -0.7) == (0.0, -car.max_steering_angle_rad)
    assert car.twist_from_drive(0.0, 0.3) == (0.0, 0.0)


def test_reversing_inverts_steering_for_same_yaw_rate(car):
    _, forward = car.drive_from_twist(1.0, 1.0)
    _, backward = car.drive_from_twist(-1.0, 1.0)
    assert forward > 0 > backward
    assert backward == pytest.approx(-forward)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_commands_are_rejected(car, bad):
    with pytest.raises(ValueError, match="finite"):
        car.twist_from_drive(bad, 0.0)
    with pytest.raises(ValueError, match="finite"):
        car.drive_from_twist(1.0, bad)
