"""The torch simulator (training-side GPU path) against the numba BatchSim, on torch's CPU backend.

Tolerances (stated in torch_render / torch_sim): trajectories within 1e-9 m / rad (both float64);
frames: >= 99.5 % of pixels identical and none more than 2 grey levels off, except bilinear
class-edge pixels (float32 texture coordinates): at most 0.2 % of pixels off by more than 2.
"""
import dataclasses

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from deepracer_sim.batch_sim import BatchSim  # noqa: E402
from deepracer_sim.config import SimConfig  # noqa: E402
from deepracer_sim.randomization import RandomizationConfig  # noqa: E402
from deepracer_sim.torch_sim import TorchBatchSim  # noqa: E402
from deepracer_tracks.library import load_track  # noqa: E402


@pytest.fixture(scope="module")
def track():
    return load_track("reinvent2018_like")


def _starts(track, n, seed=0):
    rng = np.random.default_rng(seed)
    xy, heading = track.pose_at(rng.uniform(0, track.length_m, n))
    off = rng.normal(0, 0.1, (n, 2))
    return xy[:, 0] + off[:, 0], xy[:, 1] + off[:, 1], heading + rng.normal(0, 0.3, n)


def _pair(track, n, config, seed=3):
    cpu = BatchSim(track, n, config, seed=seed)
    tor = TorchBatchSim(track, n, config, seed=seed, device="cpu")
    x, y, yaw = _starts(track, n)
    cpu.reset(np.arange(n), x, y, yaw)
    tor.reset(np.arange(n), x, y, yaw)
    return cpu, tor


def _compare_frames(a: np.ndarray, b: np.ndarray) -> None:
    d = np.abs(a.astype(np.int32) - b.astype(np.int32))
    assert d.shape == a.shape
    assert (d == 0).mean() >= 0.995, f"only {(d == 0).mean():.4f} of pixels identical"
    assert (d > 2).mean() <= 0.002, f"{(d > 2).mean():.4f} of pixels more than 2 levels off (max {d.max()})"


@pytest.mark.parametrize("dynamics", ["kinematic", "dynamic"])
def test_trajectories_match_numba(track, dynamics):
    cfg = SimConfig(dynamics=dynamics, randomization=RandomizationConfig(
        latency=dataclasses.replace(RandomizationConfig().latency, enabled=True),
        dynamics=dataclasses.replace(RandomizationConfig().dynamics, enabled=True)))
    n = 16
    cpu, tor = _pair(track, n, cfg)
    rng = np.random.default_rng(1)
    for k in range(40):
        steer = rng.uniform(-0.6, 0.6, n)
        speed = rng.uniform(0.0, 4.5, n)
        if k == 5:
            steer[0] = np.nan
        cpu.step(steer, speed)
        tor.step(torch.as_tensor(steer), torch.as_tensor(speed))
    for name in ("x", "y", "yaw", "speed", "steering", "yaw_rate", "lateral_speed"):
        np.testing.assert_allclose(getattr(tor, name).numpy(), getattr(cpu, name), atol=1e-9, rtol=0, err_msg=name)
    np.testing.assert_array_equal(tor.clipped_action_counts.numpy(), cpu.clipped_action_counts)
    assert tor.clipped_action_count == cpu.clipped_action_count > 0


def test_track_queries_match(track):
    n = 500
    cpu, tor = _pair(track, n, SimConfig())
    rng = np.random.default_rng(2)
    pts = np.column_stack([cpu.x, cpu.y]) + rng.normal(0, 0.4, (n, 2))
    q, tq = track.query(pts), tor.track.query(torch.as_tensor(pts))
    for f in ("s_m", "progress_pct", "distance_from_center_m", "half_width_m", "heading_rad"):
        np.testing.assert_allclose(tq[f].numpy(), getattr(q, f), atol=1e-9, err_msg=f)
    np.testing.assert_array_equal(tq["closest_waypoints"].numpy(), q.closest_waypoints)
    np.testing.assert_array_equal(tq["is_left_of_center"].numpy(), q.is_left_of_center)
    on = track.on_track(pts)
    assert 0.1 < on.mean() < 0.95                 # the sample has both kinds
    np.testing.assert_array_equal(tor.track.on_track(torch.as_tensor(pts)).numpy(), on)
    np.testing.assert_array_equal(tor.wheels_on_track().numpy(), cpu.wheels_on_track())


@pytest.mark.parametrize("case", ["pinhole_gray", "fisheye_gray", "pinhole_rgb", "randomized"])
def test_frames_match_numba(track, case):
    r = RandomizationConfig()
    if case == "pinhole_gray":
        cfg = SimConfig()
    elif case == "fisheye_gray":
        cfg = SimConfig(camera_model="fisheye")
    elif case == "pinhole_rgb":
        cfg = SimConfig(color=True)
    else:   # every per-episode randomization the torch renderer supports, per-car camera jitter too
        cfg = SimConfig(randomization=dataclasses.replace(
            r, lighting=dataclasses.replace(r.lighting, enabled=True),
            shadow=dataclasses.replace(r.shadow, enabled=True), colors=dataclasses.replace(r.colors, enabled=True),
            texture=dataclasses.replace(r.texture, enabled=True),
            camera_pose=dataclasses.replace(r.camera_pose, enabled=True),
            motion_blur=dataclasses.replace(r.motion_blur, enabled=True)))
    n = 12
    cpu, tor = _pair(track, n, cfg)
    for _ in range(3):
        cpu.step(0.2, 1.0)
        tor.step(0.2, 1.0)
    a, b = cpu.render(), tor.render().numpy()
    assert a.std() > 5                              # a real picture, not a blank frame
    _compare_frames(a, b)


def test_walls_and_sky_are_rendered(track):
    """A car facing the wall from close by sees wall and sky pixels; both renderers agree there."""
    cpu, tor = _pair(track, 1, SimConfig())
    box = cpu.world.box
    for s in (cpu, tor):
        s.reset([0], box[1] - 0.8, 0.5 * (box[2] + box[3]), 0.0)
    a, b = cpu.render(), tor.render().numpy()
    _compare_frames(a, b)
    assert len(np.unique(a)) > 5


def test_sensor_noise_statistics(track):
    cfg = SimConfig(imaging=dataclasses.replace(SimConfig().imaging, noise_sigma=6.0))
    cpu, tor = _pair(track, 4, cfg)
    a, b = cpu.render().astype(float), tor.render().numpy().astype(float)
    clean = TorchBatchSim(track, 4, SimConfig(), seed=3)
    x, y, yaw = _starts(track, 4)
    clean.reset(np.arange(4), x, y, yaw)
    ref = clean.render().numpy().astype(float)
    sd_t, sd_c = (b - ref).std(), (a - ref).std()
    assert abs(sd_t - sd_c) < 0.15 * sd_c and sd_c > 3


def test_partial_reset_uploads_exactly_the_reset_cars_tables(track):
    """Camera-pose jitter (fisheye for some cars): a reset of a few cars re-uploads only their ray-table
    rows (`TorchRenderer.sync_rays(rows)`), and the device tables and per-car state then equal a full
    upload bit for bit;
    the motion-blur / sensor-noise passes are decided on the host and the frames still match numba."""
    from deepracer_sim.torch_render import TorchRenderer

    r = RandomizationConfig()
    cfg = SimConfig(randomization=dataclasses.replace(
        r, camera_pose=dataclasses.replace(r.camera_pose, enabled=True, fisheye_probability=0.5),
        motion_blur=dataclasses.replace(r.motion_blur, enabled=True)))
    n = 8
    cpu, tor = _pair(track, n, cfg)
    before = tor.renderer.gx.clone()
    ids = np.array([1, 4, 6])
    x, y, yaw = _starts(track, len(ids), seed=5)
    for _ in range(3):                        # several episodes: the lens flips for some cars
        cpu.reset(ids, x, y, yaw)
        tor.reset(ids, x, y, yaw)
    keep = np.setdiff1d(np.arange(n), ids)
    assert torch.equal(tor.renderer.gx[keep], before[keep]) and not torch.equal(tor.renderer.gx[ids], before[ids])
    full = TorchRenderer(tor.cpu.renderer, "cpu")
    for k in ("gx", "gy", "hit", "inv", "off", "w", "umax", "vmax", "dx", "dy", "dz", "az", "el", "lens"):
        assert torch.equal(getattr(tor.renderer, k), getattr(full, k)), k
    assert tor._any_blur == bool((cpu._blur >= 1.5).any())
    rows = {k: v.clone() for k, v in tor._state.items()}       # packed per-dtype uploads (`scatter_rows`)
    tor._pull(None)                                           # = a full upload (no step yet: nothing stale)
    for k, v in tor._state.items():
        assert v.dtype == rows[k].dtype and torch.equal(v, rows[k]), k
    for s in (cpu, tor):
        s.step(0.2, 1.0)
    _compare_frames(cpu.render(), tor.render().numpy())
