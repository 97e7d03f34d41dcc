"""Vehicle dynamics: closed-form bicycle trajectories, actuators, limits and clipping, dynamic model."""
import math

import numpy as np
import pytest

from deepracer_description.vehicle import load_vehicle
from deepracer_sim.batch_sim import BatchSim
from deepracer_sim.config import SimConfig
from simtest_helpers import straight_track

INSTANT = dict(steering_rate_rad_s=math.inf, throttle_time_constant_s=0.0)


@pytest.fixture(scope="module")
def track():
    return straight_track()


@pytest.fixture(scope="module")
def vehicle():
    return load_vehicle()


def test_geometry_and_frame_time_come_from_the_urdf(track, vehicle):
    sim = BatchSim(track, 2, SimConfig(), seed=0)
    assert sim.dt_s == pytest.approx(1.0 / vehicle.camera.rate_hz)
    assert (sim.width, sim.height) == (vehicle.camera.output_width_px, vehicle.camera.output_height_px)
    assert sim.render().shape == (2, 120, 160)
    with pytest.raises(ValueError):
        sim.x[0] = 1.0                       # read-only views


def test_straight_line_matches_closed_form(track):
    sim = BatchSim(track, 3, SimConfig(**INSTANT), seed=0)
    x0, y0, yaw0 = np.array([0.0, 1.0, -3.0]), np.array([0.0, 2.0, 0.5]), np.array([0.0, 0.3, -2.5])
    sim.reset([0, 1, 2], x0, y0, yaw0)
    v = np.array([0.5, 2.0, 4.0])
    for _ in range(15):
        sim.step(0.0, v)
    t = 15 * sim.dt_s
    np.testing.assert_allclose(sim.x, x0 + v * t * np.cos(yaw0), atol=1e-9)
    np.testing.assert_allclose(sim.y, y0 + v * t * np.sin(yaw0), atol=1e-9)
    np.testing.assert_allclose(sim.yaw, yaw0, atol=1e-12)
    np.testing.assert_allclose(sim.speed, v)


@pytest.mark.parametrize("delta", [0.3, -0.45, 0.05])
def test_constant_steering_matches_closed_form_circle(track, vehicle, delta):
    sim = BatchSim(track, 1, SimConfig(**INSTANT), seed=0)
    L, lr = vehicle.wheelbase_m, -vehicle.rear_axle_x_m
    x0, y0, psi0, v = 1.0, -0.5, 0.7, 1.3
    sim.reset([0], x0, y0, psi0)
    frames = 23
    for _ in range(frames):
        sim.step(delta, v)
    t = frames * sim.dt_s
    # rear axle on a circle of radius R = L / tan(delta) about a fixed centre; base_link lr ahead of it
    R = L / math.tan(delta)
    rear0 = np.array([x0, y0]) - lr * np.array([math.cos(psi0), math.sin(psi0)])
    centre = rear0 + R * np.array([-math.sin(psi0), math.cos(psi0)])
    psi = psi0 + v * math.tan(delta) / L * t
    rear = centre + R * np.array([math.sin(psi), -math.cos(psi)])
    base = rear + lr * np.array([math.cos(psi), math.sin(psi)])
    assert sim.x[0] == pytest.approx(base[0], abs=1e-9)
    assert sim.y[0] == pytest.approx(base[1], abs=1e-9)
    assert math.remainder(sim.yaw[0] - psi, 2 * math.pi) == pytest.approx(0.0, abs=1e-9)
    # base_link circles with radius sqrt(R^2 + lr^2) and its velocity has slip angle beta
    assert math.hypot(sim.x[0] - centre[0], sim.y[0] - centre[1]) == pytest.approx(math.hypot(R, lr), abs=1e-9)
    beta = math.atan(lr / L * math.tan(delta))
    assert sim.lateral_speed[0] / sim.speed[0] == pytest.approx(math.tan(beta), rel=1e-9)
    assert sim.yaw_rate[0] == pytest.approx(vehicle.twist_from_drive(v, delta)[1], rel=1e-12)


def test_actuators_rate_limit_and_first_order_lag(track):
    rate, tau = 1.5, 0.2
    sim = BatchSim(track, 1, SimConfig(steering_rate_rad_s=rate, throttle_time_constant_s=tau), seed=0)
    sim.step(0.5, 2.0)
    assert sim.steering[0] == pytest.approx(rate * sim.dt_s, rel=1e-12)
    assert sim.speed[0] == pytest.approx(2.0 * (1 - math.exp(-sim.dt_s / tau)), rel=1e-9)
    for _ in range(60):
        sim.step(0.5, 2.0)
    assert sim.steering[0] == pytest.approx(0.5)
    assert sim.speed[0] == pytest.approx(2.0, rel=1e-3)


def test_out_of_range_and_nan_actions_are_clipped_and_counted(track, vehicle):
    sim = BatchSim(track, 4, SimConfig(**INSTANT), seed=0)
    sim.step([0.1, 2.0, np.nan, -0.1], [1.0, 1.0, 1.0, 9.0])
    assert sim.clipped_action_count == 3
    np.testing.assert_array_equal(sim.clipped_action_counts, [0, 1, 1, 1])
    np.testing.assert_allclose(sim.command_steering, [0.1, vehicle.max_steering_angle_rad, 0.0, -0.1])
    np.testing.assert_allclose(sim.command_speed, [1.0, 1.0, 1.0, vehicle.max_speed_m_s])
    sim.step(np.inf, [np.nan, 0.0, -1.0, 0.05])     # speed below min is clipped up to min_speed
    assert sim.clipped_action_count == 7
    np.testing.assert_allclose(sim.command_speed, vehicle.min_speed_m_s)
    for arr in (sim.x, sim.y, sim.yaw, sim.speed, sim.steering):
        assert np.all(np.isfinite(arr))
    sim.step(0.2, 1.0)                               # in range: not counted
    assert sim.clipped_action_count == 7


def test_wheel_contacts_follow_the_pose(track, vehicle):
    sim = BatchSim(track, 1, SimConfig(), seed=0)
    sim.reset([0], 2.0, 0.0, math.pi / 2)
    wc = sim.wheel_contacts()[0]
    local = vehicle.wheel_contacts_m
    np.testing.assert_allclose(wc[:, 0], 2.0 - local[:, 1], atol=1e-12)
    np.testing.assert_allclose(wc[:, 1], local[:, 0], atol=1e-12)
    assert sim.wheels_on_track().shape == (1, 4)
    assert sim.wheels_on_track().all()          # centred on a 0.76 m road, heading across it is still inside
    sim.reset([0], 2.0, 5.0, 0.0)
    assert not sim.wheels_on_track().any()


def test_dynamic_model_agrees_at_low_lateral_acceleration_and_slides_at_high(track, vehicle):
    cfg_k, cfg_d = SimConfig(**INSTANT), SimConfig(dynamics="dynamic", **INSTANT)
    # gentle: 1 m/s, small steering -> lateral acceleration ~0.3 m/s^2, far below mu g
    kin, dyn = BatchSim(track, 1, cfg_k, seed=0), BatchSim(track, 1, cfg_d, seed=0)
    for _ in range(30):
        kin.step(0.05, 1.0)
        dyn.step(0.05, 1.0)
    # (the tyres need a few tens of ms to build the yaw rate up from rest: a small lag, not a drift)
    assert math.hypot(kin.x[0] - dyn.x[0], kin.y[0] - dyn.y[0]) < 0.06
    assert dyn.yaw_rate[0] == pytest.approx(kin.yaw_rate[0], rel=0.05)
    # hard: 4 m/s at full lock wants 56 m/s^2; the tyres give about mu g: understeer
    dyn = BatchSim(track, 2, SimConfig(dynamics="dynamic", grip_mu=1.0, **INSTANT), seed=0)
    for _ in range(30):
        dyn.step(0.5, 4.0)
    r_kin = 4.0 * math.tan(0.5) / vehicle.wheelbase_m
    assert 0.0 < dyn.yaw_rate[0] < 0.3 * r_kin
    assert abs(dyn.speed[0] * dyn.yaw_rate[0]) < 1.15 * 9.81
    # less grip, wider curve
    low = BatchSim(track, 1, SimConfig(dynamics="dynamic", grip_mu=0.5, **INSTANT), seed=0)
    for _ in range(30):
        low.step(0.5, 4.0)
    assert low.yaw_rate[0] < dyn.yaw_rate[0]
