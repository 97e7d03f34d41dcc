"""Camera mount, imaging and actuation conditions (fixed and randomized): analytic checks."""
import math

import numpy as np
import pytest

from deepracer_description.vehicle import load_vehicle
from deepracer_sim.batch_sim import BatchSim, vertical_blur
from deepracer_sim.config import SimConfig, SimConfigError
from deepracer_sim.randomization import RandomizationConfig, lighting_lut
from simtest_helpers import palette, straight_track


@pytest.fixture(scope="module")
def track():
    return straight_track()


def first_ground_row(img: np.ndarray, col: int = 80) -> int:
    return int(np.argmax(img[:, col] == 255))


def horizon_sim(track, **cfg):
    sim = BatchSim(track, 1, SimConfig(barrier_height_m=0.0, **cfg), seed=0)
    sim.set_base_palette(palette(floor=255, road=255, border=255, centre=255, background=0))
    return sim


@pytest.mark.parametrize("offset_deg", [-5.0, 2.5, 5.0])
def test_pitch_offset_moves_the_horizon_by_the_analytic_amount(track, offset_deg):
    base = horizon_sim(track)
    moved = horizon_sim(track, camera_mount={"pitch_offset_deg": offset_deg})
    f = 80.0 / math.tan(1.13 / 2)
    p0 = base.vehicle.camera.pitch_rad
    expected = 60.0 - f * math.tan(p0 + math.radians(offset_deg))
    assert moved.base_rays.horizon_v() == pytest.approx(expected)
    assert expected - base.base_rays.horizon_v() == pytest.approx(-f * (math.tan(p0 + math.radians(offset_deg))
                                                                          - math.tan(p0)))
    # the rendered image agrees: the first ground row is the first pixel centre below the horizon
    assert first_ground_row(moved.render()[0]) == math.floor(expected - 0.5) + 1


def test_resting_attitude_is_the_urdf_chassis_on_its_wheels(track):
    v = load_vehicle()
    # rear wheel centres 0.01575 m, front hinges 0.011759 m above the chassis origin; wheelbase 0.164 m
    theta = math.atan2(0.01575 - 0.011759, v.wheelbase_m)
    assert v.resting_pitch_rad == pytest.approx(theta)
    assert math.degrees(theta) == pytest.approx(1.394, abs=1e-3)
    rest = v.at_rest()
    assert math.degrees(rest.camera.pitch_rad) == pytest.approx(15.0 - math.degrees(theta), abs=1e-3)
    assert rest.camera.z_m == pytest.approx(0.1318, abs=2e-4)       # REFERENCE.md: ~0.132 m
    assert rest.wide_camera.pitch_rad == pytest.approx(rest.camera.pitch_rad)
    assert rest.at_rest() is rest
    sim = horizon_sim(track, camera_mount={"attitude": "resting"})
    assert sim.base_rays.pitch_rad == pytest.approx(rest.camera.pitch_rad)
    assert sim.base_rays.origin[2] == pytest.approx(rest.camera.z_m)


def test_height_offset_and_fov_scale(track):
    sim = horizon_sim(track, camera_mount={"height_offset_m": 0.02, "fov_scale": 1.1})
    rays = sim.base_rays
    assert rays.origin[2] == pytest.approx(sim.vehicle.camera.z_m + 0.02)
    assert rays.horizontal_fov_rad == pytest.approx(1.13 * 1.1)
    assert rays.focal_px == pytest.approx(80.0 / math.tan(1.13 * 1.1 / 2))
    # a ground point straight ahead at distance d appears at row cy + f tan(pitch - atan(h / d))... inverse:
    # the centre column's ground pixel at row v sees the ground at distance h / tan(pitch + atan((v - cy) / f))
    d = rays.dirs.reshape(120, 160, 3)[100, 80]
    t = rays.origin[2] / -d[2]
    expected = rays.origin[2] / math.tan(rays.pitch_rad + math.atan((100.5 - 60.0) / rays.focal_px))
    assert rays.origin[0] + t * d[0] - rays.origin[0] == pytest.approx(expected, rel=1e-3)


def test_brightness_contrast_follow_the_lookup(track):
    sim = horizon_sim(track, imaging={"brightness": 1.4, "contrast": 0.6})
    sim.set_base_palette(palette(floor=200, road=200, border=200, centre=200, background=40))
    img = sim.render()[0]
    lut = lighting_lut(1.4, 0.6, 1.0)
    assert img[-1, 80] == lut[200] == round(255 * 1.4 * ((200 / 255 - 0.5) * 0.6 + 0.5))
    assert img[0, 80] == lut[40]


def test_motion_blur_turns_an_edge_into_a_ramp():
    img = np.zeros((20, 4), np.uint8)
    img[10:] = 200
    out = vertical_blur(img, 4)
    # output row i averages rows i-2 .. i+1: rows 9, 10, 11 see 1, 2, 3 of the 4 rows at 200
    np.testing.assert_array_equal(out[:, 0], [0] * 9 + [50, 100, 150] + [200] * 8)
    assert vertical_blur(img, 1) is img


def test_noise_sigma_is_the_pixel_standard_deviation(track):
    clean = horizon_sim(track)
    noisy = horizon_sim(track, imaging={"noise_sigma": 8.0})
    for s in (clean, noisy):
        s.set_base_palette(palette(floor=128, road=128, border=128, centre=128, background=128))
    diff = noisy.render()[0].astype(float) - clean.render()[0]
    assert diff.std() == pytest.approx(8.0, rel=0.05) and abs(diff.mean()) < 0.5


def drive(track, frames, steering=0.0, speed=1.0, **cfg):
    sim = BatchSim(track, 1, SimConfig(steering_rate_rad_s=math.inf, throttle_time_constant_s=0.0, **cfg), seed=0)
    sim.reset([0], 0.0, 0.0, 0.0)
    xs = []
    for _ in range(frames):
        sim.step(steering, speed)
        xs.append((float(sim.x[0]), float(sim.yaw[0]), float(sim.command_speed[0])))
    return sim, xs


@pytest.mark.parametrize("frames", [1, 2])
def test_latency_delays_the_command_by_whole_frames(track, frames):
    sim, xs = drive(track, frames + 2, actuation={"latency_frames": frames})
    dt = sim.dt_s
    for k in range(frames):
        assert xs[k][0] == 0.0                                   # the queue starts empty (standing still)
    assert xs[frames][0] - xs[frames - 1][0] == pytest.approx(1.0 * dt)


def test_speed_scale_and_steering_bias(track):
    sim, xs = drive(track, 3, speed=1.0, actuation={"speed_scale": 0.8})
    assert xs[-1][0] == pytest.approx(0.8 * 3 * sim.dt_s)
    assert xs[-1][2] == 1.0                                    # the reported command is what was asked
    sim, xs = drive(track, 3, speed=1.0, actuation={"steering_bias_deg": 3.0})
    yaw_rate = 1.0 * math.tan(math.radians(3.0)) / sim.vehicle.wheelbase_m
    assert xs[-1][1] == pytest.approx(yaw_rate * 3 * sim.dt_s)


def test_randomized_conditions_are_seeded_per_car_and_episode_and_in_range(track):
    cfg = RandomizationConfig.from_dict({
        "camera_pose": {"enabled": True, "pitch_rad": 0.0873, "fisheye_probability": 0.5},
        "latency": {"enabled": True, "frames": 2, "min_frames": 0},
        "motion_blur": {"enabled": True, "max_px": 3.0},
        "actuation": {"enabled": True, "speed_scale": 0.2, "steering_bias_rad": 0.05}})
    a = BatchSim(track, 8, SimConfig(randomization=cfg), seed=5)
    b = BatchSim(track, 3, SimConfig(randomization=cfg), seed=5)
    for car in range(3):
        da, db = a._draws[car], b._draws[car]
        assert (da.camera_dpitch_rad, da.fisheye, da.latency_frames, da.blur_px, da.speed_scale) == \
               (db.camera_dpitch_rad, db.fisheye, db.latency_frames, db.blur_px, db.speed_scale)
    draws = [a._draws[c] for c in range(8)]
    assert {d.latency_frames for d in draws} <= {0, 1, 2} and len({d.latency_frames for d in draws}) > 1
    assert len({d.fisheye for d in draws}) == 2
    assert all(abs(d.camera_dpitch_rad) <= 0.0873 and 0.8 <= d.speed_scale <= 1.2 and 0 <= d.blur_px <= 3
               and abs(d.steering_bias_rad) <= 0.05 for d in draws)
    fish = next(c for c in range(8) if a._draws[c].fisheye)
    assert a.camera_rays(fish).model == "fisheye"
    before = a._draws[0].camera_dpitch_rad
    a.reset([0], 0.0, 0.0, 0.0)
    assert a._draws[0].camera_dpitch_rad != before                # a new episode, a new draw


def test_bad_conditions_name_the_option():
    with pytest.raises(SimConfigError, match=r"^camera_mount.fov_scale: must be <= 1.5"):
        SimConfig.from_dict({"camera_mount": {"fov_scale": 2.0}})
    with pytest.raises(SimConfigError, match=r"^scene.border: expected a colour '#rrggbb'"):
        SimConfig.from_dict({"scene": {"border": "white"}})
    with pytest.raises(SimConfigError, match=r"randomization.latency.min_frames: must be <= frames"):
        SimConfig.from_dict({"randomization": {"latency": {"enabled": True, "frames": 1, "min_frames": 2}}})


def test_scene_colours_replace_the_palette(track):
    sim = BatchSim(track, 1, SimConfig(scene={"border": "#0000ff"}), seed=0)
    np.testing.assert_array_equal(sim.base_palette[2], [0, 0, 255])
