"""Camera model and renderer: exact against analytic projection on a flat track."""
import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest

from deepracer_description.vehicle import load_vehicle
from deepracer_sim.batch_sim import BatchSim
from deepracer_sim.camera import make_rays
from deepracer_sim.config import SimConfig
from deepracer_tracks.library import load_track
from deepracer_tracks.track import Track
from simtest_helpers import crossings, palette, straight_track

SHARED_TRACKS = Path(__file__).resolve().parents[3] / ".." / "shared" / "tracks"


@pytest.fixture(scope="module")
def vehicle():
    return load_vehicle()


@pytest.mark.parametrize("model", ["pinhole", "fisheye"])
def test_rays_and_projection_are_inverse(vehicle, model):
    geom = vehicle.camera if model == "pinhole" else vehicle.wide_camera
    rays = make_rays(geom, 40, 30)
    assert rays.dirs.shape == (1200, 3)
    np.testing.assert_allclose(np.linalg.norm(rays.dirs, axis=1), 1.0)
    uv, visible = rays.project(rays.origin + 2.5 * rays.dirs)
    jj, ii = np.meshgrid(np.arange(40) + 0.5, np.arange(30) + 0.5)
    assert visible.all()
    np.testing.assert_allclose(uv[:, 0], jj.ravel(), atol=1e-9)
    np.testing.assert_allclose(uv[:, 1], ii.ravel(), atol=1e-9)
    # the central pixels look along the optical axis: forward and pitched down
    axis = rays.optical_to_car(np.array([0.0, 0.0, 1.0]))
    assert axis[0] > 0 and math.asin(-axis[2]) == pytest.approx(geom.pitch_rad)


@pytest.mark.parametrize("pitch", [0.0, 0.1, 0.2618, 0.4])
def test_horizon_row_matches_pitch(vehicle, pitch):
    cam = dataclasses.replace(vehicle.camera, pitch_rad=pitch)
    veh = dataclasses.replace(vehicle, camera=cam)
    # no walls: the floor reaches the horizon; ground white, sky black
    sim = BatchSim(straight_track(), 1, SimConfig(barrier_height_m=0.0), vehicle=veh, seed=0)
    sim.set_base_palette(palette(floor=255, road=255, border=255, centre=255, background=0))
    img = sim.render()[0]
    f = 80.0 / math.tan(1.13 / 2)                  # 160 px wide, hfov 1.13 rad
    horizon_v = 60.0 - f * math.tan(pitch)          # continuous row coordinate of the horizon
    first_ground_row = math.floor(horizon_v - 0.5) + 1
    for col in (0, 40, 80, 159):
        column = img[:, col]
        assert column[first_ground_row:].min() == 255, col
        assert column[:first_ground_row].max() == 0, col
    assert sim.base_rays.horizon_v() == pytest.approx(horizon_v)


def test_fisheye_horizon_on_the_centre_column(vehicle):
    sim = BatchSim(straight_track(), 1, SimConfig(barrier_height_m=0.0, camera_model="fisheye"), seed=0)
    sim.set_base_palette(palette(floor=255, road=255, border=255, centre=255, background=0))
    img = sim.render()[0]
    f = 80.0 / (vehicle.wide_camera.horizontal_fov_rad / 2)
    horizon_v = 60.0 - f * vehicle.wide_camera.pitch_rad
    first = math.floor(horizon_v - 0.5) + 1
    assert img[first:, 79].min() == 255 and img[:first, 79].max() == 0


def test_car_on_the_centre_line_sees_the_borders_symmetric():
    track = straight_track()
    sim = BatchSim(track, 1, SimConfig(), seed=0)
    sim.set_base_palette(palette(border=255))
    sim.reset([0], 1.0, 0.0, 0.0)
    img = sim.render()[0]
    rows = range(int(sim.base_rays.horizon_v()) + 4, 120)
    n = 0
    for r in rows:
        c = crossings(img[r])
        if len(c) == 0:
            continue
        mirrored = np.sort(160.0 - c)
        assert len(c) == len(mirrored)
        np.testing.assert_allclose(np.sort(c), mirrored, atol=0.25)
        n += len(c)
    assert n > 100     # both lines visible over many rows


def _analytic_border_crossings(track, sim, car, max_dist_m=4.0):
    """{row: [u, ...]} where the projected inner/outer border polylines cross each row centre."""
    rays = sim.base_rays
    x, y, yaw = sim.x[car], sim.y[car], sim.yaw[car]
    c, s = math.cos(yaw), math.sin(yaw)
    out = {}
    for line in (track.inner, track.outer):
        pts = np.vstack([line, line[:1]]) if track.closed else line
        # densify to 2 cm steps (a projected straight segment is straight: interpolation stays exact)
        seg = np.hypot(*np.diff(pts, axis=0).T)
        s_at = np.concatenate([[0.0], np.cumsum(seg)])
        fine = np.linspace(0.0, s_at[-1], int(s_at[-1] / 0.02) + 2)
        pts = np.column_stack([np.interp(fine, s_at, pts[:, 0]), np.interp(fine, s_at, pts[:, 1])])
        d = pts - [x, y]
        local = np.column_stack([c * d[:, 0] + s * d[:, 1], -s * d[:, 0] + c * d[:, 1], np.zeros(len(d))])
        dist = np.hypot(local[:, 0] - rays.origin[0], local[:, 1])
        uv, vis = rays.project(local)
        for a in range(len(pts) - 1):
            b = a + 1
            if not (vis[a] and vis[b]) or max(dist[a], dist[b]) > max_dist_m:
                continue
            (ua, va), (ub, vb) = uv[a], uv[b]
            if abs(vb - va) < 1e-9 or abs(ub - ua) > 3.0 * abs(vb - va):
                continue                                  # near-horizontal in the image: ill-conditioned
            for r in range(int(math.ceil(min(va, vb) - 0.5)), int(math.floor(max(va, vb) - 0.5)) + 1):
                v = r + 0.5
                if not (min(va, vb) <= v <= max(va, vb)):
                    continue
                u = ua + (v - va) / (vb - va) * (ub - ua)
                if 2.0 <= u <= rays.width - 2.0 and 0 <= r < rays.height:
                    out.setdefault(r, []).append(u)
    return out


def ellipse_track():
    """A small closed loop (ellipse, 7.4 m): cheap to rasterize finely, curves in every direction."""
    a = np.linspace(0, 2 * np.pi, 121)

    def ring(r):
        return np.column_stack([r * np.cos(a), 0.8 * r * np.sin(a)])

    return Track.from_array(np.hstack([ring(1.3), ring(0.92), ring(1.68)]), name="ellipse")


def _edge_errors(track, sim, images, min_footprint_m=0.0):
    """Distances (px) from each analytic border crossing to the nearest rendered edge, over all cars.

    Only pixels whose ground footprint along the image row is >= min_footprint_m are compared.
    """
    g = sim.renderer.table.ground_xy[0].reshape(sim.height, sim.width, 2).astype(np.float64)
    foot = np.linalg.norm(np.diff(g, axis=1), axis=2)
    errors = []
    for car in range(sim.n_cars):
        for r, us in _analytic_border_crossings(track, sim, car).items():
            got = crossings(images[car, r])
            for u in us:
                if foot[r, min(int(u), sim.width - 2)] < min_footprint_m:
                    continue
                assert len(got), f"car {car} row {r}: no edge rendered, expected one at u={u:.2f}"
                errors.append(float(np.min(np.abs(got - u))))
    return np.array(errors)


def _spread_cars(sim, track, seed):
    n = sim.n_cars
    rng = np.random.default_rng(seed)
    xy, heading = track.pose_at(rng.uniform(0, track.length_m, n))
    offset = rng.uniform(-0.25, 0.25, n) * track.width_m / 0.76   # off the centre line, turned
    sim.reset(np.arange(n), xy[:, 0] - offset * np.sin(heading), xy[:, 1] + offset * np.cos(heading),
              heading + rng.uniform(-0.5, 0.5, n))


def test_rendered_road_edges_match_analytic_projection_within_one_pixel():
    """Exact geometry: with a texture finer than the pixel footprint, every edge is within 1 px."""
    track = ellipse_track()
    sim = BatchSim(track, 10, SimConfig(texture_metres_per_pixel=0.0025, barrier_margin_m=1.0), seed=0)
    # the road (borders and dashes included) white, everything else black: edges = border polylines
    sim.set_base_palette(palette(road=255, border=255, centre=255))
    _spread_cars(sim, track, seed=3)
    err = _edge_errors(track, sim, sim.render())
    assert len(err) > 150
    assert err.max() <= 1.0, err.max()


def test_default_texture_is_exact_where_it_resolves_the_pixel():
    """With the default 5 mm texture, edges are within 1 px wherever a pixel spans >= 5 mm of ground
    (nearer rows are limited by the texture resolution: see the README's limits)."""
    track = load_track("reinvent2018_like")
    sim = BatchSim(track, 16, SimConfig(), seed=0)
    sim.set_base_palette(palette(road=255, border=255, centre=255))
    _spread_cars(sim, track, seed=5)
    err = _edge_errors(track, sim, sim.render(), min_footprint_m=sim.texture.metres_per_pixel)
    assert len(err) > 30
    assert err.max() <= 1.0, err.max()


def test_gray_is_itu601_luma_of_rgb():
    from PIL import Image

    track = load_track("reinvent2018_like")
    gray = BatchSim(track, 1, SimConfig(), seed=0).render()[0]
    rgb = BatchSim(track, 1, SimConfig(color=True), seed=0).render()[0]
    assert rgb.shape == (120, 160, 3)
    pil_l = np.asarray(Image.fromarray(rgb).convert("L"), dtype=np.int16)
    assert np.abs(pil_l - gray).max() <= 1


def test_any_resolution_renders():
    sim = BatchSim(straight_track(), 2, SimConfig(output_width_px=64, output_height_px=48), seed=0)
    img = sim.render()
    assert img.shape == (2, 48, 64) and img.dtype == np.uint8
    assert img.std() > 5


def test_official_track_file_renders():
    path = SHARED_TRACKS / "reInvent2019_track.npy"
    if not path.is_file():
        pytest.skip(f"official track files not available at {SHARED_TRACKS}")
    track = load_track(path)
    sim = BatchSim(track, 1, SimConfig(), seed=0)
    assert sim.wheels_on_track().all()
    img = sim.render()[0]
    assert img.std() > 10


def test_vector_norm_is_numpys_norm_bit_for_bit():
    """`camera.vector_norm` (the ray tables' fast norm) equals np.linalg.norm(axis=-1) exactly."""
    from deepracer_sim.camera import vector_norm

    rng = np.random.default_rng(0)
    for shape in ((120, 159, 2), (19200, 3), (7, 1)):
        v = rng.normal(size=shape) * rng.uniform(1e-4, 1e3, shape[:-1] + (1,))
        assert np.array_equal(vector_norm(v), np.linalg.norm(v, axis=-1))
        assert np.array_equal(vector_norm(v.astype(np.float32)), np.linalg.norm(v.astype(np.float32), axis=-1))
