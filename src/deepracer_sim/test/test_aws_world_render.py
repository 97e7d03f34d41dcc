"""The embedded camera on an imported AWS world: every ground pixel shows its baked surface's colour."""
import os
import warnings
from pathlib import Path

import numpy as np
import pytest

from deepracer_sim.batch_sim import BatchSim
from deepracer_sim.render import luma


def _aws_worlds() -> Path:
    env = os.environ.get("DEEPRACER_SHARED")
    bases = [Path(env)] if env else [p / "shared" for p in Path(__file__).resolve().parents]
    for base in bases:
        if (base / "aws_worlds" / "bundle" / "worlds").is_dir():
            return base / "aws_worlds"
    pytest.skip("shared/aws_worlds not found: set DEEPRACER_SHARED or put shared/ beside the repository")


@pytest.mark.parametrize("name", ["reinvent_base", "Oval_track"])
def test_camera_pixels_show_the_route_layout(name):
    from deepracer_tracks.aws_world import load_aws_track
    from deepracer_tracks import texture as tx

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        track = load_aws_track(name, _aws_worlds())
    sim = BatchSim(track, n_cars=1, seed=0)
    img = sim.render()[0].reshape(-1)
    tex, t = sim.texture, sim.renderer.table
    n = int(t.g_count[0])
    pix = t.g_index[0, :n]
    c, s = np.cos(sim.yaw[0]), np.sin(sim.yaw[0])
    gx, gy = t.g_x[0, :n], t.g_y[0, :n]
    world = np.column_stack([sim.x[0] + c * gx - s * gy, sim.y[0] + s * gx + c * gy])
    labels = tex.label_at(world)
    # pixels at full texture resolution whose neighbourhood (+-2 texels) is one surface
    m = tex.metres_per_pixel
    same = np.ones(n, bool)
    for dx in (-2 * m, 2 * m):
        for dy in (-2 * m, 2 * m):
            same &= tex.label_at(world + [dx, dy]) == labels
    sel = same & (t.level[0, pix] == 0)
    palette = luma(sim.base_palette[:4])                    # no randomization: the world's lit colours
    # times the road texture's grain (the renderer's ground noise tile, world-aligned 2 cm cells)
    from deepracer_sim.render import NOISE_TEXELS_PER_M
    tile, amp = track.world.grain(sim.world.noise_tile.shape[0], NOISE_TEXELS_PER_M)
    assert 0.02 < amp < 0.5 and np.array_equal(sim.world.noise_tile, tile)
    mask = tile.shape[0] - 1
    ti = np.floor(world[sel, 0] * NOISE_TEXELS_PER_M).astype(int) & mask
    tj = np.floor(world[sel, 1] * NOISE_TEXELS_PER_M).astype(int) & mask
    grain = np.where(t.g_inv[0, :n][sel] >= NOISE_TEXELS_PER_M, amp * tile[tj, ti], 0.0)   # near pixels only
    expect = np.clip(np.rint(palette[labels[sel]] * (1 + grain)), 0, 255)
    assert np.abs(img[pix[sel]].astype(float) - expect).max() <= 1.0
    assert np.std(img[pix[sel]][labels[sel] == tx.ROAD].astype(float)) > 1.0   # the road has grain
    # the start view shows the road, both border lines and the dashed centre line
    assert {tx.ROAD, tx.BORDER, tx.CENTRE} <= set(np.unique(labels[sel]).tolist())
    # and the colours are the world's: the centre dashes are its (lit) yellow
    assert sim.texture.style.centre_rgb == track.world.style().centre_rgb


def test_walls_and_backdrop_come_from_the_world():
    from deepracer_tracks.aws_world import load_aws_track

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rein = load_aws_track("reinvent_base", _aws_worlds())
        oval = load_aws_track("Oval_track", _aws_worlds())
    sim = BatchSim(rein, n_cars=1, seed=0)
    assert sim.world.wall_height_m == pytest.approx(1.0)
    assert np.allclose(sim.world.box, rein.world.wall_box()[0])
    assert tuple(sim.base_palette[4]) == rein.world.wall_rgb() and tuple(sim.base_palette[6]) == (178, 178, 178)
    img = sim.render()[0, :, :, 0] if sim.render().ndim == 4 else sim.render()[0]
    wall_gray = round(float(luma(np.array(rein.world.wall_rgb(), float))))
    top = img[:40].astype(int)
    assert np.mean(np.abs(top - wall_gray) <= 1) > 0.25          # the 1 m wall across the view...
    assert np.mean(top == 178) > 0.25                            # ...under Gazebo's grey background
    sim2 = BatchSim(oval, n_cars=1, seed=0)
    assert sim2.world.wall_height_m == 0.0                                   # no walls: floor to the horizon


def test_randomization_applies_on_top_of_a_world():
    from deepracer_sim.config import SimConfig
    from deepracer_sim.randomization import RandomizationConfig
    from deepracer_tracks.aws_world import load_aws_track

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        track = load_aws_track("Oval_track", _aws_worlds())
    plain = BatchSim(track, n_cars=1, seed=0)
    colors = BatchSim(track, n_cars=1, seed=0, config=SimConfig(randomization=RandomizationConfig().only("colors")))
    assert np.array_equal(colors.base_palette, plain.base_palette)          # same world colours underneath
    assert not np.allclose(colors._palette_rgb[0], plain._palette_rgb[0])    # varied per car and episode
    assert np.abs(colors.render().astype(int) - plain.render().astype(int)).mean() > 2
