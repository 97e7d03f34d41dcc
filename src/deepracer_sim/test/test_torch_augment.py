"""The torch simulator's per-frame randomization (image augmentations, action noise) against the
CPU BatchSim's, on torch's CPU backend.

The draws differ (one torch generator per stream vs per-car numpy generators), so the comparison
is (a) exact for the same draws: `torch_augment.augment_frames` vs `randomization.augment_image`
pixel for pixel, the batched HSV palette shift vs colorsys within 1e-9; (b) statistical for each
augmentation alone at probability 1 (64 cars x 4 frames per path; each tolerance is >= 3 standard
errors of the difference of the two sample statistics; all seeds fixed); (c) action noise: the
spread of 1024 noisy trajectories within 15 % of the CPU's; fractions 0 give the CPU's trajectories
within 1e-9; (d) disabled / probability 0: frames bitwise equal to augmentation off.
"""
import dataclasses

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from deepracer_sim.batch_sim import BatchSim  # noqa: E402
from deepracer_sim.config import SimConfig  # noqa: E402
from deepracer_sim.randomization import (AUGMENTATIONS, AugmentationOption, RandomizationConfig,  # noqa: E402
                                         augment_image, augmentation_params, hue_saturation_palette)
from deepracer_sim import torch_augment as ta  # noqa: E402
from deepracer_sim.torch_sim import TorchBatchSim  # noqa: E402
from deepracer_tracks.library import load_track  # noqa: E402

N_CARS, N_FRAMES = 64, 4


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    """Small eager ops: one thread is several times faster than two on a busy 2-core box."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def track():
    return load_track("reinvent2018_like")


def _poses(track, n, seed=0):
    rng = np.random.default_rng(seed)
    xy, heading = track.pose_at(rng.uniform(0, track.length_m, n))
    return xy[:, 0], xy[:, 1], heading + rng.normal(0, 0.2, n)


def _cfg(color=False, sensor_sigma=0.0, **aug):
    r = RandomizationConfig()
    a = dataclasses.replace(r.augmentation, **aug) if aug else r.augmentation
    return SimConfig(color=color, randomization=dataclasses.replace(r, augmentation=a),
                     imaging=dataclasses.replace(SimConfig().imaging, noise_sigma=sensor_sigma))


def _only(name, **kw):
    """Augmentation `name` alone at probability 1."""
    return dict(enabled=True, probability=1.0, **{a: a == name for a in AUGMENTATIONS}, **kw)


def _sims(track, cfg, n, torch_path, seed=5):
    sim = (TorchBatchSim(track, n, cfg, seed=seed, device="cpu") if torch_path else BatchSim(track, n, cfg, seed=seed))
    sim.reset(np.arange(n), *_poses(track, n))
    return sim


def _frames(track, cfg, torch_path, n=N_CARS, frames=N_FRAMES):
    """(clean (n, H, W[, 3]), augmented (frames * n, ...)) int arrays: the same poses, no stepping."""
    clean_cfg = dataclasses.replace(cfg, randomization=RandomizationConfig())
    as_np = (lambda a: a.numpy()) if torch_path else (lambda a: a)  # noqa: E731
    clean = as_np(_sims(track, clean_cfg, n, torch_path).render()).astype(np.int64)
    sim = _sims(track, cfg, n, torch_path)
    aug = np.concatenate([as_np(sim.render()) for _ in range(frames)]).astype(np.int64)
    return np.concatenate([clean] * frames), aug


# ------------------------------------------------------------------------------ same draws
def _stack(params, n, h, w):
    """Per-car numpy draws (augmentation_params) -> the tensors augment_frames takes (neutral where absent)."""
    def col(key, neutral, dtype=torch.float64):
        return torch.tensor([p.get(key, neutral) for p in params], dtype=dtype)
    sp = lambda key: torch.as_tensor(np.stack([p.get(key, np.ones((h, w))) for p in params]))  # noqa: E731
    return dict(brightness=col("brightness", 1.0), contrast=col("contrast", 1.0),
                shift=col("shift", 0, torch.int64), x_top=col("x_top", 0.0), x_bottom=col("x_bottom", 0.0),
                keep=col("keep", 1.0), shadow_left=col("shadow_left", False, torch.bool), alpha=col("alpha", 0.0),
                sp_fraction=col("sp_fraction", 0.0), sp_hit_u=sp("sp_hit_u"), sp_salt_u=sp("sp_salt_u"))


@pytest.mark.parametrize("subset", [False, True])
@pytest.mark.parametrize("color", [False, True])
@pytest.mark.parametrize("which", list(AUGMENTATIONS) + ["all", "random"])
def test_pixels_identical_for_the_same_draws(track, color, which, subset):
    cfg = AugmentationOption(enabled=True, salt_and_pepper_fraction=0.2)
    cpu = _sims(track, _cfg(color=color, sensor_sigma=5.0), 8, False)
    img = cpu.render()
    n, h, w = img.shape[:3]
    rng = np.random.default_rng([(list(AUGMENTATIONS) + ["all", "random"]).index(which), int(color)])
    flags, params, want = [], [], []
    for i in range(n):
        f = {a: (a == which or which == "all" or (which == "random" and bool(rng.random() < 0.5)))
             for a in AUGMENTATIONS}
        p = augmentation_params(f, cfg, rng, h, w)
        flags.append([f[a] for a in AUGMENTATIONS])
        params.append(p)
        want.append(augment_image(img[i], f, p))
    want = np.stack(want)
    x = torch.as_tensor(img).reshape(n, h, w, -1)
    got = ta.augment_frames(x, torch.tensor(flags), _stack(params, n, h, w), subset=subset).reshape(want.shape).numpy()
    assert (want != img).any() or which == "random"          # the augmentation did something
    np.testing.assert_array_equal(got, want)


def test_hue_saturation_palette_matches_colorsys():
    rng = np.random.default_rng(0)
    pals = rng.uniform(0, 255, (40, 8, 3))
    pals[0] = 128.0                                          # gray rows (no hue)
    pals[1, :, 0] = pals[1, :, 1] = 255.0                    # ties between channels
    pals[2] = np.eye(3)[rng.integers(0, 3, 8)] * 200.0       # pure primaries
    dh, ds, want = [], [], []
    for k, p in enumerate(pals):
        r = np.random.default_rng(k)
        want.append(hue_saturation_palette(p, np.random.default_rng(k)))
        dh.append(r.uniform(-0.1, 0.1))
        ds.append(r.uniform(0.5, 1.5))
    got = ta.hue_saturation_palette(torch.as_tensor(pals), torch.tensor(dh, dtype=torch.float64), torch.tensor(ds, dtype=torch.float64)).numpy()
    np.testing.assert_allclose(got, np.stack(want), atol=1e-9, rtol=0)


@pytest.mark.parametrize("color", [False, True])
def test_shifted_palette_and_mixtures_match_the_cpu(track, color):
    """The random_color palette step for the same (dh, ds): the CPU's hue_saturation_palette +
    _to_output_space + _mixture_colors of each car's episode palette (colour randomization on)."""
    r = RandomizationConfig()
    cfg = SimConfig(color=color, randomization=dataclasses.replace(
        r, colors=dataclasses.replace(r.colors, enabled=True), augmentation=dataclasses.replace(r.augmentation, enabled=True)))
    n = 6
    cpu, tor = _sims(track, cfg, n, False), _sims(track, cfg, n, True)
    dh, ds, pal, mix = [], [], [], []
    for i in range(n):
        rgb = hue_saturation_palette(cpu._palette_rgb[i], np.random.default_rng(i))
        g = np.random.default_rng(i)
        dh.append(g.uniform(-0.1, 0.1))
        ds.append(g.uniform(0.5, 1.5))
        pal.append(cpu._to_output_space(rgb))
        mix.append(cpu._mixture_colors(pal[-1]).reshape(-1, 3 if color else 1))
    tp, tm = tor._shifted_tables(torch.tensor(dh, dtype=torch.float64), torch.tensor(ds, dtype=torch.float64))
    np.testing.assert_allclose(tp.numpy(), np.stack(pal), atol=1e-9, rtol=0)
    np.testing.assert_allclose(tm.numpy(), np.stack(mix), atol=1e-4, rtol=0)
    assert not np.allclose(np.stack(pal), cpu._palette)       # the shift did something


# ------------------------------------------------------------------------------ statistics
def _close(a, b, tol, what):
    assert abs(np.mean(a) - np.mean(b)) <= tol, f"{what}: mean torch {np.mean(a):.4f} vs cpu {np.mean(b):.4f}"


def _rel_std(a, b, tol, what):
    assert abs(np.std(a) - np.std(b)) <= tol * np.std(b), f"{what}: std torch {np.std(a):.4f} vs cpu {np.std(b):.4f}"


@pytest.mark.parametrize("color", [False, True])
def test_random_color_brightness_distribution(track, color):
    """Per-image mean brightness / the clean image's (the factor b ~ U(0.7, 1.3), plus the hue and
    saturation shift's effect): mean within 0.05 (3.3 SE), spread within 20 %."""
    stats = {}
    for path in (False, True):
        clean, aug = _frames(track, _cfg(color=color, **_only("random_color")), path)
        stats[path] = aug.mean(axis=tuple(range(1, aug.ndim))) / clean.mean(axis=tuple(range(1, aug.ndim)))
    assert 0.05 < np.std(stats[False]) < 0.3
    _close(stats[True], stats[False], 0.05, "brightness ratio")
    _rel_std(stats[True], stats[False], 0.2, "brightness ratio")


def test_random_color_keeps_the_episode_palette(track):
    sim = _sims(track, _cfg(color=True, **_only("random_color")), 4, True)
    pal, mix = sim._state["palette"].clone(), sim._state["mix"].clone()
    a, b = sim.render(), sim.render()
    assert not torch.equal(a, b)                             # a new colour every frame
    assert torch.equal(sim._state["palette"], pal) and torch.equal(sim._state["mix"], mix)


def _shift_of(clean, aug, max_px):
    """The shifts s with aug == clean shifted right by s (edge columns repeated), exactly."""
    w = clean.shape[1]
    return [s for s in range(-max_px, max_px + 1) if np.array_equal(clean[:, np.clip(np.arange(w) - s, 0, w - 1)], aug)]


def test_translation_is_an_exact_edge_repeating_shift(track):
    """Every translated frame is the clean frame shifted by a whole number of pixels in
    [-16, 16] with the edge columns repeated (exact); shift mean within 3 px (3.7 SE), spread 20 %."""
    shifts = {}
    for path in (False, True):
        clean, aug = _frames(track, _cfg(**_only("translation")), path)
        found = [_shift_of(c, a, 16) for c, a in zip(clean, aug)]
        assert all(found), "a translated frame is not an edge-repeating shift of the clean frame"
        shifts[path] = [float(np.median(f)) for f in found]
    assert max(abs(s) for s in shifts[True]) <= 16 and np.std(shifts[True]) > 5
    _close(shifts[True], shifts[False], 3.0, "shift")
    _rel_std(shifts[True], shifts[False], 0.2, "shift")


def test_shadow_darkens_one_side(track):
    """Darkened pixels (clean >= 20) lie on one side of a line in every row, by a factor in
    [0.4, 0.8]; darkened fraction mean within 0.08 (~3.5 SE) of the CPU's, factor mean within 0.03."""
    frac, keep = {}, {}
    for path in (False, True):
        clean, aug = _frames(track, _cfg(**_only("shadow")), path)
        frac[path], keep[path] = [], []
        for c, a in zip(clean, aug):
            lit = c >= 20
            dark = lit & (a < c)
            assert not (a > c).any()
            rows = [r for r in range(c.shape[0]) if dark[r].any() and (lit[r] & ~dark[r]).any()]
            for r in rows:       # one side: all darkened lit pixels left of all undarkened ones, or right
                d, u = np.flatnonzero(dark[r]), np.flatnonzero(lit[r] & ~dark[r])
                assert d.max() < u.min() or d.min() > u.max(), f"row {r}: shadow not on one side"
            frac[path].append(dark.sum() / max(lit.sum(), 1))
            if dark.sum() > 50:
                k = np.median(a[dark] / c[dark])
                assert 0.38 <= k <= 0.82
                keep[path].append(k)
    _close(frac[True], frac[False], 0.08, "darkened fraction")
    _close(keep[True], keep[False], 0.03, "shadow factor")


def test_sharpen_strength_distribution(track):
    """alpha estimated per frame by least squares (aug - clean ~ alpha * (4 clean - 4-neighbour sum),
    unclipped pixels): within [0.28, 1.02]; mean within 0.05 (~4 SE), spread within 25 %."""
    est = {}
    for path in (False, True):
        clean, aug = _frames(track, _cfg(**_only("sharpen")), path)
        est[path] = []
        for c, a in zip(clean, aug):
            p = np.pad(c, 1, mode="edge")
            d = 4 * c - (p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:])
            ok = (a > 0) & (a < 255) & (d != 0)
            est[path].append(float((d[ok] * (a - c)[ok]).sum() / (d[ok] ** 2).sum()))
    assert 0.28 <= min(est[True]) and max(est[True]) <= 1.02
    _close(est[True], est[False], 0.05, "sharpen alpha")
    _rel_std(est[True], est[False], 0.25, "sharpen alpha")


def test_salt_and_pepper_fraction(track):
    """Pixels changed to 0 or 255: per frame at most the configured 2 % (+ 0.4 % binomial slack),
    mean within 20 % (~4 SE) of the CPU's; salt and pepper both occur."""
    fr = {}
    for path in (False, True):
        clean, aug = _frames(track, _cfg(**_only("salt_and_pepper")), path)
        changed = aug != clean
        assert np.isin(aug[changed], [0, 255]).all()
        assert (aug[changed] == 0).any() and (aug[changed] == 255).any()
        fr[path] = changed.reshape(len(aug), -1).mean(1)
    assert fr[True].max() <= 0.024 and fr[False].max() <= 0.024
    assert abs(fr[True].mean() - fr[False].mean()) <= 0.2 * fr[False].mean()


# ----------------------------------------------------------------------- off / probability 0
def test_probability_zero_and_disabled_are_bitwise_identical(track, monkeypatch):
    """probability 0: frames bitwise equal to augmentation off (sensor noise on: its stream is
    independent); disabled: the augmentation code is never called."""
    from deepracer_sim import torch_sim

    frames = {}
    for name, aug in (("p0", dict(enabled=True, probability=0.0)), ("off", {})):
        sim = _sims(track, _cfg(sensor_sigma=4.0, **aug), 6, True)
        if name == "off":
            assert sim._aug is None
            monkeypatch.setattr(torch_sim, "draw_flags", lambda *a: pytest.fail("augmentation drawn while off"))
        out = []
        for _ in range(3):
            sim.step(0.1, 1.0)
            out.append(sim.render())
        frames[name] = torch.stack(out)
    assert torch.equal(frames["off"], frames["p0"])


# ---------------------------------------------------------------------------- action noise
def _drive(sim, steps, torch_path):
    for k in range(steps):
        steer = 0.25 * np.sin(0.3 * k)
        if torch_path:
            sim.step(torch.tensor(steer, dtype=torch.float64), torch.tensor(1.2, dtype=torch.float64))
        else:
            sim.step(steer, 1.2)
    g = (lambda a: a.numpy()) if torch_path else np.asarray  # noqa: E731
    return {k: g(getattr(sim, k)).copy() for k in ("x", "y", "yaw", "speed")}


def _noise_cfg(fs, fv, dynamics="kinematic"):
    r = RandomizationConfig()
    return SimConfig(dynamics=dynamics, randomization=dataclasses.replace(
        r, action_noise=dataclasses.replace(r.action_noise, enabled=True, steering_fraction=fs, speed_fraction=fv)))


@pytest.mark.parametrize("dynamics", ["kinematic", "dynamic"])
def test_action_noise_spread_matches_cpu(track, dynamics):
    """1024 cars from one pose, the same commands, 30 frames with 10 % / 20 % noise: the spread of
    the final x, y, yaw and speed across cars within 15 % of the CPU's (~5 SE), means within 3 SE."""
    n = 1024
    x0, y0, yaw0 = _poses(track, 1)
    out = {}
    for path in (False, True):
        sim = (TorchBatchSim if path else BatchSim)(track, n, _noise_cfg(0.1, 0.2, dynamics), seed=2)
        sim.reset(np.arange(n), np.repeat(x0, n), np.repeat(y0, n), np.repeat(yaw0, n))
        out[path] = _drive(sim, 30, path)
    for k in ("x", "y", "yaw", "speed"):
        a, b = out[True][k], out[False][k]
        assert np.std(b) > 1e-4, k
        assert abs(np.std(a) - np.std(b)) <= 0.15 * np.std(b), f"{k}: std torch {np.std(a):.5f} vs cpu {np.std(b):.5f}"
        assert abs(np.mean(a) - np.mean(b)) <= 3 * np.hypot(np.std(a), np.std(b)) / np.sqrt(n), k


def test_action_noise_with_zero_fractions_gives_the_cpu_trajectories(track):
    n = 16
    out = {}
    for path in (False, True):
        sim = (TorchBatchSim if path else BatchSim)(track, n, _noise_cfg(0.0, 0.0), seed=2)
        sim.reset(np.arange(n), *_poses(track, n))
        out[path] = _drive(sim, 40, path)
    for k, v in out[False].items():
        np.testing.assert_allclose(out[True][k], v, atol=1e-9, rtol=0, err_msg=k)


def test_paper_sim2real_constructs_and_runs(track):
    """Both options on (previously refused): steps and renders; frames differ from the clean ones."""
    cfg = SimConfig(randomization=RandomizationConfig.paper_sim2real())
    sim = _sims(track, cfg, 32, True)
    clean = _sims(track, SimConfig(), 32, True)
    for s in (sim, clean):
        s.step(0.2, 1.0)
    a, b = sim.render(), clean.render()
    assert a.shape == b.shape == (32, 120, 160) and a.dtype == torch.uint8
    assert not torch.equal(a, b)
    assert not torch.equal(sim.x, clean.x)                  # action noise moved the cars differently
