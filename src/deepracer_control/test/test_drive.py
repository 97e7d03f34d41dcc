"""Twist -> normalised throttle/steering -> duty cycles, through the real URDF geometry."""
import math

import pytest

from deepracer_control.calibration import Calibration
from deepracer_control.drive import DriveMapper
from deepracer_description.vehicle import load_vehicle

VEHICLE = load_vehicle()
CAL = Calibration.default()


def test_straight_half_speed():
    mapper = DriveMapper(CAL, VEHICLE)
    cmd = mapper.from_twist(VEHICLE.max_speed_m_s / 2, 0.0)
    assert cmd.throttle == pytest.approx(0.5) and cmd.steering == 0.0
    assert cmd.throttle_duty_ns == 1_378_500  # motor polarity -1: forward shortens the pulse
    assert cmd.steering_duty_ns == 1_450_000
    assert mapper.clamp_count == 0


def test_turn_uses_the_urdf_wheelbase_and_roundtrips_to_the_same_twist():
    mapper = DriveMapper(CAL, VEHICLE)
    steering = 0.2  # rad, left
    linear_x, angular_z = VEHICLE.twist_from_drive(1.0, steering)
    cmd = mapper.from_twist(linear_x, angular_z)
    assert cmd.steering == pytest.approx(steering / VEHICLE.max_steering_angle_rad)
    assert cmd.steering_duty_ns == round(1_450_000 + cmd.steering * 250_000)
    back = mapper.to_twist(cmd)
    assert back == pytest.approx((linear_x, angular_z))


def test_max_speed_scale_caps_the_throttle_and_the_sim_speed():
    mapper = DriveMapper(CAL, VEHICLE, max_speed_scale=0.5)
    cmd = mapper.from_twist(VEHICLE.max_speed_m_s, 0.0)
    assert cmd.throttle == pytest.approx(0.5)
    assert mapper.to_twist(cmd)[0] == pytest.approx(VEHICLE.max_speed_m_s / 2)
    with pytest.raises(ValueError, match="max_speed_scale"):
        mapper.max_speed_scale = 1.5


@pytest.mark.parametrize("linear_x,angular_z,throttle_ns,steering_ns", [
    (10.0, 0.0, 1_311_000, 1_450_000),           # too fast: full forward, clamped
    (-10.0, 0.0, 1_603_500, 1_450_000),          # too fast backwards
    (1.0, 100.0, 1_412_250, 1_700_000),          # steering limited to the lock by the geometry
    (math.nan, 0.0, 1_446_000, 1_450_000),       # NaN -> neutral
])
def test_out_of_range_commands_are_clamped_to_the_calibration(linear_x, angular_z, throttle_ns, steering_ns):
    mapper = DriveMapper(CAL, VEHICLE)
    cmd = mapper.from_twist(linear_x, angular_z)
    assert (cmd.throttle_duty_ns, cmd.steering_duty_ns) == (throttle_ns, steering_ns)
    assert -1.0 <= cmd.throttle <= 1.0 and -1.0 <= cmd.steering <= 1.0


def test_clamps_are_counted():
    mapper = DriveMapper(CAL, VEHICLE)
    mapper.from_twist(10.0, 0.0)
    mapper.from_twist(1.0, 0.0)
    mapper.from_twist(math.inf, 0.0)
    assert mapper.clamp_count == 2
