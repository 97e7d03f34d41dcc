"""Official AWS worlds (shared/aws_worlds): import, baked ground layout, waypoints from the mesh, errors."""
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from deepracer_tracks import texture as tx
from deepracer_tracks.aws_world import (SIMAPP_ENV, WorldError, compare_with_route, load_aws_track, load_world)
from deepracer_tracks.collada import ColladaError, read_collada
from deepracer_tracks.library import load_track
from deepracer_tracks.mesh import waypoints_from_mesh
from deepracer_tracks.track import Track, TrackError

WORLDS = ["reinvent_base", "Oval_track", "Bowtie_track", "AWS_track", "Straight_track"]


def _aws_worlds() -> Path:
    """shared/aws_worlds: $DEEPRACER_SHARED if set, else the first shared/ beside a parent of this file."""
    env = os.environ.get("DEEPRACER_SHARED")
    bases = [Path(env)] if env else [p / "shared" for p in Path(__file__).resolve().parents]
    for base in bases:
        if (base / "aws_worlds" / "bundle" / "worlds").is_dir():
            return base / "aws_worlds"
    pytest.skip("shared/aws_worlds not found: set DEEPRACER_SHARED or put shared/ beside the repository")


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")      # the official routes' known centre-line offsets (TrackWarning)
        yield


@pytest.mark.parametrize("name", WORLDS)
def test_world_imports_with_every_surface(name):
    w = load_world(_aws_worlds(), name)
    kinds = {s.kind for s in w.surfaces}
    assert {"floor", "road", "border", "centre"} <= kinds
    assert ("wall" in kinds) == (name == "reinvent_base")        # only re:Invent has a barrier wall
    assert w.route.name == f"aws:{name}" and w.route.closed == (name != "Straight_track")
    style = w.style()
    # lit colours keep their character: yellow centre, white-ish border, road darker than the border
    r, g, b = style.centre_rgb
    assert r > 200 and g > 100 and b < 60
    assert min(style.border_rgb) > 200 and sum(style.road_rgb) < sum(style.border_rgb) / 2
    assert np.allclose(w.ambient, 0.5) and len(w.sun) == 1


def test_reinvent_walls_and_light():
    w = load_world(_aws_worlds(), "reinvent_base")
    (x0, x1, y0, y1), h = w.wall_box()
    assert h == pytest.approx(1.0) and x0 == pytest.approx(-0.587, abs=1e-3) and y1 == pytest.approx(5.795, abs=1e-3)
    # the sun (direction -0.5 0.1 -0.9, diffuse 1 1 0.8) + ambient 0.5 on a flat floor
    d = np.array([-0.5, 0.1, -0.9]) / np.linalg.norm([-0.5, 0.1, -0.9])
    assert w.light_factor([0, 0, 1]) == pytest.approx(0.5 + np.array([1, 1, 0.8]) * -d[2])
    assert w.background_rgb == (178, 178, 178)                   # no <sky/>: Gazebo's grey background
    assert load_world(_aws_worlds(), "Oval_track").background_rgb != (178, 178, 178)   # <sky/>


@pytest.mark.parametrize("name", ["reinvent_base", "Bowtie_track", "Straight_track"])
def test_baked_ground_matches_the_route_layout(name):
    """Texels on the official centre line are centre-line (dashed) or road; the road is road; the
    borders are border lines; beyond the road is field."""
    track = load_aws_track(name, _aws_worlds())
    tex = tx.render_texture(track, metres_per_pixel=0.01)
    c = track.centre
    s = np.linspace(0, track.length_m * (1 if track.closed else 0.999), 4000, endpoint=False)
    pts, heading = track.pose_at(s)
    on_centre = tex.label_at(pts)
    assert set(np.unique(on_centre)) <= {tx.CENTRE, tx.ROAD}
    frac = np.mean(on_centre == tx.CENTRE)
    assert 0.3 < frac < 0.75, frac                                 # dashed: about half painted
    normal = np.column_stack([-np.sin(heading), np.cos(heading)])
    q = track.query(pts)
    half = q.half_width_m[:, None]
    quarter = tex.label_at(pts + 0.5 * half * normal)
    assert np.mean(quarter == tx.ROAD) > 0.97
    # each official border has the white line next to it (AWS paints it inside on re:Invent, just
    # outside the road mesh on the newer tracks), and 30 cm beyond the border is field
    from deepracer_tracks import geometry as geo
    offsets = np.arange(-0.2, 0.0501, 0.005)               # metres towards the centre line
    for border in (track.inner, track.outer):
        dense = geo.resample_polyline(border, track.closed, 3000)
        proj = track.query(dense).projection_xy
        towards = (proj - dense) / np.linalg.norm(proj - dense, axis=1, keepdims=True)
        band = np.stack([tex.label_at(dense + d * towards) for d in offsets])
        assert (band == tx.BORDER).any(axis=0).mean() > 0.99
        assert np.mean(tex.label_at(dense - 0.3 * towards) == tx.FLOOR) > 0.95
    # the colour is the world's own (the texture's mean, lit), not the synthetic default
    assert tex.style == track.world.style() != tx.TextureStyle()
    assert len(c) == track.n_waypoints


@pytest.mark.parametrize("name", WORLDS)
def test_waypoints_from_the_real_mesh_match_the_route(name):
    cmp = compare_with_route(load_world(_aws_worlds(), name))
    assert cmp.extracted.n_waypoints == load_world(_aws_worlds(), name).route.n_waypoints
    assert cmp.max_distance_m < 1e-4 and abs(cmp.length_difference_m) < 1e-3
    assert cmp.border_max_distance_m < 0.02


def test_aws_name_through_the_environment(monkeypatch):
    monkeypatch.delenv(SIMAPP_ENV, raising=False)
    with pytest.raises(TrackError, match=SIMAPP_ENV):
        load_track("aws:reinvent_base")
    monkeypatch.setenv(SIMAPP_ENV, str(_aws_worlds()))
    t = load_track("aws:reinvent_base")
    assert t.world is not None and t.reversed().world is t.world
    with pytest.raises(TrackError, match=r"nope\.world: world file not found \(worlds here: AWS_track"):
        load_track("aws:nope")


def _copy_world(tmp_path: Path, name: str = "Straight_track") -> Path:
    src = _aws_worlds() / "bundle"
    dst = tmp_path / "simapp" / "bundle"
    for sub in (f"worlds/{name}.world", f"routes/{name}.npy", f"models/{name}", f"meshes/{name}"):
        (dst / sub).parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if (src / sub).is_dir() else shutil.copy)(src / sub, dst / sub)
    return dst.parent


def test_missing_or_broken_files_name_the_file(tmp_path):
    root = _copy_world(tmp_path)
    b = root / "bundle"
    load_world(root, "Straight_track")                       # the copy works

    def fails(pattern):
        from deepracer_tracks.aws_world import _load_world_cached
        _load_world_cached.cache_clear()
        with pytest.raises(WorldError, match=pattern):
            load_world(root, "Straight_track")

    tex = b / "meshes/Straight_track/textures/Straight_track_road_01.png"
    tex.write_bytes(b"not a png")
    fails(r"Straight_track_road_01\.png: texture is not a readable image")
    tex.unlink()
    fails(r"Straight_track_road_01\.png: texture file not found")
    dae = b / "meshes/Straight_track/Straight_track.dae"
    dae.write_text(dae.read_text()[:5000])
    fails(r"Straight_track\.dae: not valid XML")
    dae.unlink()
    fails(r"Straight_track\.dae: mesh file not found")
    sdf = b / "models/Straight_track/Straight_track_model.sdf"
    sdf.write_text("<sdf><model name='x'><link name='l'><visual name='v'><pose>1 2</pose></visual></link></model></sdf>")
    fails(r"Straight_track_model\.sdf: model 'x' link 'l' visual 'v': <pose> needs 6 numbers")
    shutil.rmtree(b / "models/Straight_track")
    fails(r"models/Straight_track: model folder not found")
    (b / "routes/Straight_track.npy").unlink()
    fails(r"routes/Straight_track\.npy: route file not found")


def test_import_world_cli(tmp_path):
    cmd = [sys.executable, "-m", "deepracer_tracks.cli", "import-world", str(_aws_worlds()), "Oval_track",
           "--texture-dir", str(tmp_path), "--metres-per-pixel", "0.02"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "| Oval_track | loop | 100 |" in r.stdout and f"export {SIMAPP_ENV}=" in r.stdout
    assert (tmp_path / "Oval_track.png").read_bytes()[:4] == b"\x89PNG"
    r = subprocess.run(cmd[:4] + [str(tmp_path), "Oval_track"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "not a deepracer-simapp checkout" in r.stderr and "Traceback" not in r.stderr


# ------------------------------------------------------------------ COLLADA reader and mesh extraction
_DAE = """<?xml version="1.0"?>
<COLLADA xmlns="http://www.collada.org/2005/11/COLLADASchema" version="1.4.1">
  <asset><unit name="inch" meter="0.0254"/><up_axis>Y_UP</up_axis></asset>
  <library_effects><effect id="fx"><profile_COMMON><technique sid="c"><lambert>
    <diffuse><color>0.5 0.25 1 1</color></diffuse></lambert></technique></profile_COMMON></effect></library_effects>
  <library_materials><material id="mat"><instance_effect url="#fx"/></material></library_materials>
  <library_geometries><geometry id="g"><mesh>
    <source id="pos"><float_array id="pa" count="12">0 0 0  10 0 0  10 0 -10  0 0 -10</float_array>
      <technique_common><accessor source="#pa" count="4" stride="3"/></technique_common></source>
    <vertices id="v"><input semantic="POSITION" source="#pos"/></vertices>
    <polylist material="m" count="1"><input semantic="VERTEX" source="#v" offset="0"/>
      <vcount>4</vcount><p>0 1 2 3</p></polylist>
  </mesh></geometry></library_geometries>
  <library_visual_scenes><visual_scene id="s"><node id="outer"><translate>100 0 0</translate>
    <node id="quad"><rotate>0 1 0 90</rotate>
      <instance_geometry url="#g"><bind_material><technique_common>
        <instance_material symbol="m" target="#mat"/></technique_common></bind_material></instance_geometry>
    </node></node></visual_scene></library_visual_scenes>
  <scene><instance_visual_scene url="#s"/></scene>
</COLLADA>
"""


def test_collada_units_up_axis_and_node_transforms(tmp_path):
    p = tmp_path / "quad.dae"
    p.write_text(_DAE)
    (m,) = read_collada(p)
    assert m.name == "quad" and m.material == "mat" and m.diffuse_rgb == (0.5, 0.25, 1.0)
    assert m.triangles.shape == (2, 3, 3)                    # the quad, fan-triangulated
    # Y_UP file: y up, so the quad lies flat; rotate 90 deg about y, translate 100 along x, all in inches
    # local (10, 0, 0) -> rotate about y by 90 -> (0, 0, -10) -> +100 x -> (100, 0, -10) -> Z_UP (x, -z, y)
    pts = m.triangles.reshape(-1, 3)
    assert np.allclose(pts[1], np.array([100, 10, 0]) * 0.0254)
    assert np.allclose(pts[:, 2], 0.0)                       # flat on the ground after the up-axis turn
    p.write_text(_DAE.replace("Y_UP", "X_UP"))
    with pytest.raises(ColladaError, match="quad.dae: <up_axis>X_UP"):
        read_collada(p)
    p.write_text(_DAE.replace("#mat", "#nomat"))
    with pytest.raises(ColladaError, match="material 'nomat' is bound but not defined"):
        read_collada(p)


def test_extraction_survives_t_junction_seams_and_pieces():
    """A road in two pieces whose seam has a T-junction (a vertex inside the other piece's edge)."""
    from deepracer_tracks.library import load_track as lt
    from deepracer_tracks.mesh import track_mesh

    track = lt("oval")
    v, f = track_mesh(track).road
    n = len(track.centre)
    k = n // 2                                  # the seam: the cross edge (l_k, r_k) = vertices 2k, 2k+1
    quads_a = [i for i in range(n) if i < k]
    tri_a = np.vstack([f[i] for i in quads_a] + [f[n + i] for i in quads_a])
    # piece B: its own copy of every vertex (duplicates), and the seam edge split at its midpoint
    rest = [i for i in range(n) if i >= k]
    tri_b = np.vstack([f[i] for i in rest] + [f[n + i] for i in rest])
    vb = v.copy()
    mid = 0.5 * (v[2 * k] + v[2 * k + 1])
    vb = np.vstack([vb, mid])
    m_idx = len(v)
    # the quad starting at the seam: triangles (l0, r0, r1), (l0, r1, l1) with l0=2k, r0=2k+1;
    # replace (l0, r0, r1) by (l0, m, r1) + (m, r0, r1): the seam edge l0-r0 now runs through m
    new_b = []
    for t in tri_b:
        if t[0] == 2 * k and t[1] == 2 * k + 1:
            new_b += [[2 * k, m_idx, t[2]], [m_idx, 2 * k + 1, t[2]]]
        else:
            new_b.append(list(t))
    tri_b = np.array(new_b) + len(v)            # piece B indexes its own vertex copy
    verts = np.vstack([v, vb])
    faces = np.vstack([tri_a, tri_b])
    got = waypoints_from_mesh(verts, faces, name="seamed")
    assert got.closed and got.n_waypoints == n
    a, b = track.centre, got.centre
    d = np.min(np.hypot(*(a[:, None] - b[None]).transpose(2, 0, 1)), axis=1)
    assert d.max() < 1e-6
    assert isinstance(got, Track)


def test_extraction_drops_slivers_and_names_what_it_cannot_use():
    from deepracer_tracks.library import load_track as lt
    from deepracer_tracks.mesh import track_mesh

    track = lt("oval")
    v, f = track_mesh(track).road
    # a stray 1 cm triangle away from the road (a modelling leftover): its border loop is dropped
    stray = np.array([[20.0, 20.0, 0.0], [20.01, 20.0, 0.0], [20.0, 20.01, 0.0]])
    got = waypoints_from_mesh(np.vstack([v, stray]), np.vstack([f, [[len(v), len(v) + 1, len(v) + 2]]]))
    assert got.n_waypoints == track.n_waypoints
    # two full roads side by side are not one track
    shifted = v + [50.0, 0.0, 0.0]
    with pytest.raises(TrackError, match="4 border loop"):
        waypoints_from_mesh(np.vstack([v, shifted]), np.vstack([f, f + len(v)]))
