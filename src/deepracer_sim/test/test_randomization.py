"""Domain randomization: reproducible per seed, per car and per episode; each option changes what it
names and nothing else."""
import dataclasses

import numpy as np
import pytest

from deepracer_sim.batch_sim import BatchSim
from deepracer_sim.config import SimConfig
from deepracer_sim.randomization import RandomizationConfig, apply_augmentations, AugmentationOption
from simtest_helpers import straight_track

VISUAL = ["lighting", "shadow", "colors", "texture", "camera_pose", "sensor_noise", "augmentation", "motion_blur"]
MOTION = ["action_noise", "latency", "dynamics", "actuation"]
N = 6


@pytest.fixture(scope="module")
def track():
    return straight_track()


def run(track, randomization, seed=7, n=N, frames=6, dynamics="kinematic"):
    """(images at t=0, images after `frames` steps, final poses (n, 3))."""
    sim = BatchSim(track, n, SimConfig(randomization=randomization, dynamics=dynamics), seed=seed)
    sim.reset(np.arange(n), np.linspace(0.0, 5.0, n), 0.05, 0.02)
    first = sim.render()
    for k in range(frames):
        sim.step(0.2 * np.sin(k + np.arange(n)), 1.5)
    return first, sim.render(), np.column_stack([sim.x, sim.y, sim.yaw])


@pytest.fixture(scope="module")
def baseline(track):
    return run(track, RandomizationConfig())


def test_everything_is_reproducible_from_the_seed(track):
    everything = RandomizationConfig.everything()
    a, b = run(track, everything, seed=11), run(track, everything, seed=11)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    c = run(track, everything, seed=12)
    assert not np.array_equal(a[0], c[0])


def test_a_car_does_not_depend_on_its_batch(track):
    everything = RandomizationConfig.everything()
    small = BatchSim(track, 2, SimConfig(randomization=everything), seed=3)
    big = BatchSim(track, 5, SimConfig(randomization=everything), seed=3)
    for sim in (small, big):
        sim.reset([1], 2.0, 0.0, 0.0)
        sim.step(0.1, 1.0)
    np.testing.assert_array_equal(small.render()[1], big.render()[1])
    assert small.x[1] == big.x[1]


@pytest.mark.parametrize("name", VISUAL)
def test_visual_options_change_images_but_not_motion(track, baseline, name):
    cfg = RandomizationConfig.everything().only(name)
    first, last, poses = run(track, cfg)
    assert not np.array_equal(first, baseline[0]) or not np.array_equal(last, baseline[1])
    np.testing.assert_array_equal(poses, baseline[2])


@pytest.mark.parametrize("name", MOTION)
def test_motion_options_change_motion_but_not_the_first_image(track, baseline, name):
    cfg = RandomizationConfig.everything().only(name)
    first, _, poses = run(track, cfg)
    np.testing.assert_array_equal(first, baseline[0])
    assert not np.allclose(poses, baseline[2])


def test_grip_variation_acts_on_the_dynamic_model(track):
    base = run(track, RandomizationConfig(), dynamics="dynamic", frames=10)
    cfg = RandomizationConfig.everything().only("dynamics")
    cfg = dataclasses.replace(cfg, dynamics=dataclasses.replace(cfg.dynamics, actuator_lag=0.0, grip=0.9))
    varied = run(track, cfg, dynamics="dynamic", frames=10)
    np.testing.assert_array_equal(varied[0], base[0])
    assert not np.allclose(varied[2], base[2])


def test_options_draw_from_independent_streams(track):
    colors = RandomizationConfig.everything().only("colors")
    with_lighting = dataclasses.replace(colors, lighting=dataclasses.replace(colors.lighting, enabled=True))
    a = BatchSim(track, 3, SimConfig(randomization=colors), seed=5)
    b = BatchSim(track, 3, SimConfig(randomization=with_lighting), seed=5)
    np.testing.assert_array_equal(a._palette_rgb, b._palette_rgb)
    assert not np.array_equal(a._lut, b._lut)


def test_new_episode_new_draw_same_episode_same_draw(track):
    cfg = RandomizationConfig.everything().only("colors")
    sim = BatchSim(track, 1, SimConfig(randomization=cfg), seed=5)
    sim.reset([0], 0.0, 0.0, 0.0)
    ep1 = sim.render().copy()
    sim.reset([0], 0.0, 0.0, 0.0)
    ep2 = sim.render().copy()
    assert not np.array_equal(ep1, ep2)
    again = BatchSim(track, 1, SimConfig(randomization=cfg), seed=5)
    again.reset([0], 0.0, 0.0, 0.0)
    np.testing.assert_array_equal(again.render(), ep1)


def test_action_noise_stays_within_its_bounds(track):
    cfg = RandomizationConfig.everything().only("action_noise")
    sim = BatchSim(track, 200, SimConfig(randomization=cfg, steering_rate_rad_s=np.inf,
                                         throttle_time_constant_s=0.0), seed=1)
    sim.step(0.2, 2.0)
    assert np.all(np.abs(sim.steering / 0.2 - 1.0) <= 0.1 + 1e-12)
    assert np.all(np.abs(sim.speed / 2.0 - 1.0) <= 0.1 + 1e-12)
    assert np.std(sim.speed) > 0.02
    np.testing.assert_array_equal(sim.command_speed, 2.0)     # the reported command is the clean one


def test_latency_delays_the_command_by_its_frames(track):
    cfg = RandomizationConfig.everything().only("latency")
    cfg = dataclasses.replace(cfg, latency=dataclasses.replace(cfg.latency, frames=2))
    sim = BatchSim(track, 1, SimConfig(randomization=cfg, steering_rate_rad_s=np.inf,
                                       throttle_time_constant_s=0.0), seed=1)
    sim.step(0.3, 1.0)
    sim.step(0.1, 2.0)
    assert sim.steering[0] == 0.0 and sim.speed[0] == 0.0       # still the zero queued at reset
    sim.step(0.0, 1.0)
    assert sim.steering[0] == pytest.approx(0.3) and sim.speed[0] == pytest.approx(1.0)


def test_each_augmentation_changes_the_image_and_keeps_its_shape():
    rng = np.random.default_rng(0)
    img = np.tile(np.linspace(40, 220, 160).astype(np.uint8), (120, 1))
    img[60:, 70:90] = 250
    cfg = AugmentationOption(enabled=True)
    for name in ("random_color", "translation", "shadow", "sharpen", "salt_and_pepper"):
        out = apply_augmentations(img, {name: True}, cfg, np.random.default_rng(1))
        assert out.shape == img.shape and out.dtype == np.uint8
        assert not np.array_equal(out, img), name
    rgb = np.stack([img] * 3, axis=-1)
    out = apply_augmentations(rgb, dict.fromkeys(("random_color", "translation", "shadow", "sharpen",
                                                   "salt_and_pepper"), True), cfg, rng)
    assert out.shape == rgb.shape


def test_augmentations_fire_with_their_probability():
    from deepracer_sim.randomization import augmentation_flags

    rng = np.random.default_rng(0)
    cfg = AugmentationOption(enabled=True)
    hits = np.array([list(augmentation_flags(cfg, rng).values()) for _ in range(3000)])
    np.testing.assert_allclose(hits.mean(axis=0), 0.2, atol=0.03)
    off = AugmentationOption(enabled=True, sharpen=False)
    assert not any(augmentation_flags(off, rng)["sharpen"] for _ in range(200))


def test_render_subset_equals_the_full_render(track):
    cfg = RandomizationConfig.everything()
    full = BatchSim(track, 4, SimConfig(randomization=cfg), seed=9)
    part = BatchSim(track, 4, SimConfig(randomization=cfg), seed=9)
    for sim in (full, part):
        sim.reset([0, 1, 2, 3], [0.0, 1.0, 2.0, 3.0], 0.0, 0.0)
    images = full.render()
    sub = part.render(car_ids=[3, 1])
    assert sub.shape == (2, 120, 160)
    np.testing.assert_array_equal(sub[0], images[3])
    np.testing.assert_array_equal(sub[1], images[1])
    assert part.render(car_ids=[]).shape == (0, 120, 160)
    with pytest.raises(ValueError, match="car ids"):
        part.render(car_ids=[4])


def test_lighting_inversion_flips_the_curve_of_some_cars_and_keeps_the_others():
    """invert_probability: dark lines on a light road for a share of the cars; the curve's own draws
    (brightness, contrast, gamma) are those of the same car without inversion."""
    from deepracer_sim.randomization import LightingOption, draw_car

    base = np.full((8, 3), 100.0)
    plain = RandomizationConfig(lighting=LightingOption(enabled=True))
    inv = RandomizationConfig(lighting=LightingOption(enabled=True, invert_probability=0.5))
    flipped = 0
    for car in range(40):
        a, b = draw_car(plain, base, 3, car, 0).lut, draw_car(inv, base, 3, car, 0).lut
        if np.array_equal(a, b):
            continue
        np.testing.assert_array_equal(b, 255 - a)
        flipped += 1
    assert 8 <= flipped <= 32
    with pytest.raises(Exception, match="invert_probability"):
        SimConfig.from_dict({"randomization": {"lighting": {"invert_probability": 1.5}}})


def test_random_colours_replace_some_episodes_palettes_and_leave_the_others_draws():
    from deepracer_sim.batch_sim import default_palette
    from deepracer_sim.randomization import draw_car

    base = default_palette()
    around = RandomizationConfig.everything().only("colors")
    half = dataclasses.replace(around, colors=dataclasses.replace(around.colors, random_probability=0.5))
    full = dataclasses.replace(around, colors=dataclasses.replace(around.colors, random_probability=1.0))
    road_luma, replaced = [], 0
    for car in range(40):
        varied = draw_car(around, base, 7, car, 0).palette
        mixed = draw_car(half, base, 7, car, 0).palette
        if np.array_equal(mixed, varied):
            continue                        # not hit: the variation's draws exactly as without the option
        replaced += 1
        rgb = draw_car(full, base, 7, car, 0).palette
        road_luma.append(float(rgb[1] @ [0.299, 0.587, 0.114]))
    assert 10 <= replaced <= 30             # ~half of 40 episodes
    # random colours reach what variation around the dark default road never does: a light road
    assert max(road_luma) > 150 > float(base[1] @ [0.299, 0.587, 0.114]) * 1.6
