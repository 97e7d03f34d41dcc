"""Track core: lengths, widths, direction, batched queries against a slow reference, progress wrap."""
import numpy as np
import pytest

from deepracer_tracks import geometry as geo
from deepracer_tracks.library import load_track
from deepracer_tracks.track import Track, TrackQuery
from track_shapes import official, ring, ring_arrays, rounded_rectangle


def test_circle_ring_length_width_direction():
    r, w = 2.0, 0.8
    t = ring(r, w, n=2000)
    assert t.closed
    assert abs(t.length_m - 2 * np.pi * r) < 1e-3
    assert np.allclose(t.widths_m, w, atol=1e-3)
    assert abs(t.width_m - w) < 1e-3
    assert t.direction == "counterclockwise"
    assert ring(ccw=False).direction == "clockwise"


def test_rounded_rectangle_length():
    a, b, r, w = 4.0, 2.0, 0.6, 0.6
    t = rounded_rectangle(a, b, r, w)
    assert abs(t.length_m - (2 * a + 2 * b + 2 * np.pi * r)) < 1e-3
    assert np.allclose(t.widths_m, w, atol=1e-3)
    assert t.direction == "counterclockwise"


def slow_query(track: Track, p):
    """Per-point reference: loop over every segment in plain Python."""
    w = len(track.centre)
    n_seg = w if track.closed else w - 1
    best = None
    for i in range(n_seg):
        a = track.centre[i]
        b = track.centre[(i + 1) % w]
        v = b - a
        t = float(np.clip(np.dot(p - a, v) / np.dot(v, v), 0.0, 1.0))
        q = a + t * v
        d = float(np.hypot(*(p - q)))
        if best is None or d < best[0]:
            best = (d, i, t, q, v)
    d, i, t, q, v = best
    seg_len = np.hypot(*np.diff(np.vstack([track.centre, track.centre[:1]]) if track.closed else track.centre, axis=0).T)
    s = float(np.sum(seg_len[:i]) + t * seg_len[i])
    if track.closed and s >= track.length_m:
        s -= track.length_m
    nxt = (i + 1) % w
    left = (v[0] * (p - q)[1] - v[1] * (p - q)[0]) > 0
    if track.closed:
        inside = geo.points_in_ring(p[None], track.outer)[0] and not geo.points_in_ring(p[None], track.inner)[0]
    else:
        inside = geo.points_in_ring(p[None], np.vstack([track.inner, track.outer[::-1]]))[0]
    return dict(s=s, d=d, prev=i, next=nxt, left=left, proj=q, heading=np.arctan2(v[1], v[0]), on=inside,
                progress=100 * s / track.length_m)


@pytest.mark.parametrize("source", ["ring", "rounded_rectangle", "reinvent2018_like", "technical",
                                    "official:reinvent_base.npy", "official:Bowtie_track.npy",
                                    "official:Straight_track.npy"])
def test_batch_query_matches_slow_reference(source):
    if source == "ring":
        track = ring(n=120)
    elif source == "rounded_rectangle":
        track = rounded_rectangle(per_corner=12, per_metre=8)
    elif source.startswith("official:"):
        track = Track.from_npy(official(source.split(":")[1]))
    else:
        track = load_track(source)
    rng = np.random.default_rng(0)
    pts = np.vstack([track.centre, track.inner, track.outer])
    lo, hi = pts.min(axis=0) - 2.0, pts.max(axis=0) + 2.0
    near, _ = track.pose_at(rng.uniform(0, track.length_m, 150))
    p = np.vstack([rng.uniform(lo, hi, (150, 2)), near + rng.normal(0, 0.3, near.shape),
                   [[lo[0] - 5.0, hi[1] + 7.0]]])
    q = track.query(p)
    assert isinstance(q, TrackQuery)
    on = track.on_track(p)
    for k, point in enumerate(p):
        ref = slow_query(track, point)
        if q.closest_waypoints[k, 0] != ref["prev"]:
            # only a genuine tie (the point projects onto a shared vertex) may pick the other segment
            i = q.closest_waypoints[k, 0]
            a, b = track.centre[i], track.centre[(i + 1) % len(track.centre)]
            assert float(geo.point_segment_distance(point, a, b)) == pytest.approx(ref["d"], abs=1e-12)
            assert np.allclose(q.projection_xy[k], ref["proj"], atol=1e-9)
            continue
        assert q.closest_waypoints[k, 1] == ref["next"]
        assert q.s_m[k] == pytest.approx(ref["s"], abs=1e-9)
        assert q.progress_pct[k] == pytest.approx(ref["progress"], abs=1e-7)
        assert q.distance_from_center_m[k] == pytest.approx(ref["d"], abs=1e-9)
        assert bool(q.is_left_of_center[k]) == ref["left"]
        assert np.allclose(q.projection_xy[k], ref["proj"], atol=1e-9)
        assert q.heading_rad[k] == pytest.approx(ref["heading"], abs=1e-12)
        assert bool(on[k]) == ref["on"]


def test_query_shapes_and_on_track_batch_shape():
    t = ring()
    q = t.query(np.zeros((0, 2)))
    assert q.s_m.shape == (0,) and q.closest_waypoints.shape == (0, 2)
    wheels = np.zeros((5, 4, 2))
    wheels[:, :, 0] = 2.0          # on the centre line of the ring
    wheels[2, 1] = [0.0, 0.0]      # in the hole
    res = t.on_track(wheels)
    assert res.shape == (5, 4)
    assert res.sum() == 19 and not res[2, 1]


def test_ring_left_right_half_width():
    t = ring(2.0, 0.8)
    q = t.query(np.array([[1.9, 0.001], [2.1, 0.001], [1.55, 0.0], [2.5, 0.0]]))
    assert q.is_left_of_center.tolist() == [True, False, True, False]   # counter-clockwise: centre is left
    assert np.allclose(q.half_width_m, 0.4, atol=1e-9)
    assert t.on_track(np.array([[1.65, 0.01], [2.35, 0.01], [1.55, 0.0], [2.45, 0.0]])).tolist() == [
        True, True, False, False]
    rq = t.reversed().query(np.array([[1.9, 0.001], [2.1, 0.001]]))
    assert rq.is_left_of_center.tolist() == [False, True]


def test_progress_wraps_at_start_line_both_directions():
    t = ring(2.0, 0.8, n=400)
    eps = np.radians(0.5)
    before = np.array([[2 * np.cos(-eps), 2 * np.sin(-eps)]])
    after = np.array([[2 * np.cos(eps), 2 * np.sin(eps)]])
    qb, qa = t.query(before), t.query(after)
    assert qb.progress_pct[0] == pytest.approx(100 - 100 * eps / (2 * np.pi), abs=1e-3)
    assert qa.progress_pct[0] == pytest.approx(100 * eps / (2 * np.pi), abs=1e-3)
    assert qb.closest_waypoints[0].tolist() == [399, 0]
    assert qa.closest_waypoints[0].tolist() == [0, 1]
    r = t.reversed()
    assert r.direction == "clockwise"
    rb, ra = r.query(before), r.query(after)
    assert rb.progress_pct[0] == pytest.approx(100 * eps / (2 * np.pi), abs=1e-3)      # now just past the start
    assert ra.progress_pct[0] == pytest.approx(100 - 100 * eps / (2 * np.pi), abs=1e-3)
    assert ra.closest_waypoints[0].tolist() == [399, 0]
    # progress from an arbitrary start, both sides of that start
    s = np.array([0.1, 12.0, 0.3])
    start = 0.2
    got = t.progress_pct(s, start)
    assert got[0] == pytest.approx(100 * (t.length_m - 0.1) / t.length_m)
    assert got[1] == pytest.approx(100 * 11.8 / t.length_m)
    assert got[2] == pytest.approx(100 * 0.1 / t.length_m)
    assert np.all((got >= 0) & (got < 100))
    assert t.progress_pct(np.array([start]), start)[0] == 0.0


def test_reversed_track():
    t = load_track("reinvent2018_like")
    r = t.reversed()
    assert r.length_m == pytest.approx(t.length_m)
    assert np.array_equal(r.centre[0], t.centre[0])
    assert r.reversed() is t and t.reversed() is r             # cached both ways
    assert {t.direction, r.direction} == {"clockwise", "counterclockwise"}
    rng = np.random.default_rng(3)
    xy, _ = t.pose_at(rng.uniform(0.5, t.length_m - 0.5, 50))
    xy += rng.normal(0, 0.1, xy.shape)
    q, rq = t.query(xy), r.query(xy)
    assert np.allclose(rq.progress_pct, 100 - q.progress_pct, atol=1e-6)
    assert np.array_equal(rq.is_left_of_center, ~q.is_left_of_center)
    assert np.allclose(np.cos(rq.heading_rad - q.heading_rad), -1.0, atol=0.02)   # vertex ties: neighbour segment
    assert np.array_equal(r.on_track(xy), t.on_track(xy))


def test_pose_at_round_trip_and_open_track_progress():
    t = load_track("oval")
    s = np.array([0.0, 1.0, 7.5, t.length_m - 1e-3, t.length_m + 1.0])
    xy, heading = t.pose_at(s)
    q = t.query(xy)
    assert np.allclose(q.s_m, np.mod(s, t.length_m), atol=1e-9)
    assert np.allclose(q.distance_from_center_m, 0.0, atol=1e-9)
    assert np.allclose(heading, q.heading_rad)
    # an open track: 0 at the first waypoint, 100 at the last, no wrap
    c = np.column_stack([np.linspace(0, 5, 11), np.zeros(11)])
    line = Track(c, c + [0, 0.3], c - [0, 0.3], closed=False, name="line")
    q = line.query(np.array([[-1.0, 0.1], [2.5, 0.0], [6.0, 0.0]]))
    assert q.progress_pct.tolist() == pytest.approx([0.0, 50.0, 100.0])
    assert q.closest_waypoints[-1].tolist() == [9, 10]
    assert line.progress_pct(np.array([5.0, 1.0]), 1.0).tolist() == pytest.approx([100.0, 0.0])
    assert line.on_track(np.array([[2.0, 0.2], [2.0, 0.4], [-0.1, 0.0]])).tolist() == [True, False, False]


def test_npy_round_trip(tmp_path):
    t = load_track("tape_corridor")
    path = tmp_path / "sub" / "tape.npy"
    t.to_npy(path)
    arr = np.load(path)
    assert arr.shape == (len(t.centre) + 1, 6) and np.array_equal(arr[0], arr[-1])
    back = Track.from_npy(path)
    assert back.name == "tape" and back.closed
    assert np.array_equal(back.centre, t.centre) and np.array_equal(back.outer, t.outer)
    assert list(tmp_path.joinpath("sub").iterdir()) == [path]     # no temp files left behind


def test_duplicate_rows_dropped():
    c, i, o = ring_arrays(n=50)
    arr = np.hstack([c, i, o])
    arr = np.vstack([arr[:10], arr[9:10], arr[10:], arr[:1]])      # a repeated row and the closing row
    t = Track.from_array(arr, name="dup")
    assert len(t.centre) == 50 and t.closed


@pytest.mark.parametrize("name", ["reinvent2018_like", "technical", "long_hairpin"])
def test_border_points_from_projection_equal_brute_force(name):
    t = load_track(name)
    for track in (t, t.reversed()):
        rng = np.random.default_rng(0)
        xy = track.pose_at(rng.uniform(0, track.length_m, 400))[0] + rng.normal(0, 0.2, (400, 2))
        q = track.query(xy)
        inner, outer = track.border_points_from_projection(q.closest_waypoints[:, 0], q.projection_xy)
        for got, line in ((inner, track.inner), (outer, track.outer)):
            a, b = geo.segments(line, track.closed)
            d = geo.point_segment_distance(q.projection_xy[:, None], a[None], b[None]).min(axis=1)
            assert np.allclose(np.hypot(*(got - q.projection_xy).T), d, atol=1e-9)
