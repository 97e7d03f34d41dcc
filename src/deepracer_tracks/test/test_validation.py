"""Bad track files are rejected with a message naming the file and the problem; official files load."""
import warnings

import numpy as np
import pytest

from deepracer_tracks.library import load_track
from deepracer_tracks.track import Track, TrackError, TrackWarning
from track_shapes import OFFICIAL_DIR, official, ring_arrays


def ring_array(n=60):
    c, i, o = ring_arrays(n=n)
    arr = np.hstack([c, i, o])
    return np.vstack([arr, arr[:1]])


def _bad_cases():
    good = ring_array()
    cases = {}
    cases["too_few"] = (good[[0, 1, 0]], "too few")
    a = good.copy(); a[5, 1] = np.nan
    cases["nan"] = (a, "NaN or infinite")
    a = good.copy(); a[7, 4] = np.inf
    cases["inf"] = (a, "NaN or infinite")
    cases["shape_cols"] = (good[:, :4], "shape (N, 6)")
    cases["shape_1d"] = (good.ravel(), "shape (N, 6)")
    cases["dtype"] = (good.astype(str), "numeric array")
    a = good.copy(); a[10, 4:6] = a[10, 2:4]
    cases["zero_width"] = (a, "zero width")
    a = good.copy(); a[:, 2:4], a[:, 4:6] = good[:, 4:6], good[:, 2:4].copy()
    cases["swapped"] = (a, "swapped")
    a = good.copy(); a[20, 2:4] = good[20, 4:6] * 1.05          # an inner point pushed beyond the outer border
    cases["crossing"] = (a, "cross")
    a = good.copy(); a[30, 4:6] = good[30, 0:2] + 0.3 * (good[30, 2:4] - good[30, 0:2])   # outer point inside
    cases["negative_width_loop"] = (a, "negative width")
    # a figure-eight: the centre line (and borders) intersect themselves
    t = np.linspace(0, 2 * np.pi, 80, endpoint=False)
    c = np.column_stack([2 * np.sin(t), np.sin(2 * t)])
    tan = np.column_stack([2 * np.cos(t), 2 * np.cos(2 * t)])
    nrm = np.column_stack([-tan[:, 1], tan[:, 0]]) / np.hypot(*tan.T)[:, None]
    a = np.hstack([c, c + 0.1 * nrm, c - 0.1 * nrm])
    cases["self_intersecting"] = (np.vstack([a, a[:1]]), "intersects itself")
    # an open track whose outer border flips to the inner side
    x = np.linspace(0, 5, 20)
    c = np.column_stack([x, np.zeros_like(x)])
    inner, outer = c + [0, 0.3], c - [0, 0.3]
    outer[12] = c[12] + [0, 0.1]
    cases["negative_width_open"] = (np.hstack([c, inner, outer]), "negative width")
    return cases


@pytest.mark.parametrize("case", sorted(_bad_cases()))
def test_bad_file_rejected_with_message(tmp_path, case):
    arr, words = _bad_cases()[case]
    path = tmp_path / f"bad_{case}.npy"
    np.save(path, arr)
    with pytest.raises(TrackError) as err:
        load_track(path)
    msg = str(err.value)
    assert str(path) in msg, msg
    assert words in msg, msg


def test_unreadable_and_missing_files(tmp_path):
    junk = tmp_path / "junk.npy"
    junk.write_bytes(b"not numpy at all")
    with pytest.raises(TrackError, match="not a readable .npy"):
        load_track(junk)
    with pytest.raises(TrackError, match="no such file"):
        load_track(tmp_path / "missing.npy")
    pickled = tmp_path / "obj.npy"
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(TrackError, match=str(pickled)):
        load_track(pickled)


def test_unknown_name_lists_builtins():
    with pytest.raises(TrackError) as err:
        load_track("no_such_track")
    assert "reinvent2018_like" in str(err.value) and "oval" in str(err.value)


EXPECTED = {  # rows, loop?, centre length (m), median width (m) from shared/tracks/README.md
    "reinvent_base.npy": (True, 17.71, 0.762),
    "reInvent2019_track.npy": (True, 23.12, 1.067),
    "Oval_track.npy": (True, 19.55, 0.666),
    "Bowtie_track.npy": (True, 17.43, 0.724),
    "Straight_track.npy": (False, 5.71, 0.61),
    "AWS_track.npy": (True, 69.25, 0.838),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_official_tracks_load(name):
    path = official(name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t = Track.from_npy(path)
    # AWS_track and Bowtie_track have their centre line off the middle of the road: accepted, with a warning
    off_centre = name in ("AWS_track.npy", "Bowtie_track.npy")
    assert [issubclass(w.category, TrackWarning) for w in caught] == ([True] if off_centre else [])
    assert len(t.warnings) == int(off_centre)
    if off_centre:
        assert "off the middle of the road" in t.warnings[0] and name in t.warnings[0]
    closed, length, width = EXPECTED[name]
    assert t.closed == closed
    assert t.length_m == pytest.approx(length, abs=0.01)
    assert abs(t.width_m - width) < 0.01
    back = Track.from_array(t.to_array(), name="again")
    assert np.array_equal(back.centre, t.centre)
    # every centre waypoint is on the road (the end points of an open track lie on its end caps)
    assert t.on_track(t.centre if t.closed else t.centre[1:-1]).all()


def test_official_folder_documented():
    if not OFFICIAL_DIR.is_dir():
        pytest.skip(f"official track files not found at {OFFICIAL_DIR}")
    assert len(list(OFFICIAL_DIR.glob("*.npy"))) >= 6


# ----------------------------------------------------------------------------- issue 13: track import
def _skewed_hairpin_loop(n=60, skew_deg=55.0):
    """A tight loop (centre radius 0.5 m, road 0.2-0.8 m) whose OUTER border rows are paired with a
    skew of ``skew_deg`` along the road, as official files do at hairpins (Tokyo_Training_track at
    waypoint 100): the road polygon is valid, but each row's outer point lies on the inner side of the
    centre line's local tangent, which the old per-row side test called "negative width"."""
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    unit = np.column_stack([np.cos(t), np.sin(t)])
    skewed = np.column_stack([np.cos(t + np.radians(skew_deg)), np.sin(t + np.radians(skew_deg))])
    arr = np.hstack([0.5 * unit, 0.2 * unit, 0.8 * skewed])
    return np.vstack([arr, arr[:1]])


def test_a_valid_road_with_skewed_border_rows_loads(tmp_path):
    arr = _skewed_hairpin_loop()
    c, i, o = arr[:-1, 0:2], arr[:-1, 2:4], arr[:-1, 4:6]
    tangent = np.roll(c, -1, axis=0) - np.roll(c, 1, axis=0)
    side = lambda p: np.sign(tangent[:, 0] * (p - c)[:, 1] - tangent[:, 1] * (p - c)[:, 0])  # noqa: E731
    assert np.all(side(i) == side(o))               # what the old check rejected at every row
    path = tmp_path / "skewed.npy"
    np.save(path, arr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TrackWarning)      # the centre line is off the middle: a warning
        t = load_track(path)
    assert t.closed and t.n_waypoints == 60
    assert t.on_track(np.array([[0.5, 0.0], [0.0, 0.7]])).tolist() == [True, True]
    assert t.on_track(np.array([[0.1, 0.0], [0.9, 0.0]])).tolist() == [False, False]


@pytest.mark.parametrize("scale, unit", [(100.0, "centimetres"), (1000.0, "millimetres"), (1e12, "millimetres"),
                                         (1e-3, "kilometres")])
def test_tracks_in_the_wrong_unit_are_refused(tmp_path, scale, unit):
    arr = ring_array() * scale
    path = tmp_path / f"scaled_{scale:g}.npy"
    np.save(path, arr)
    with pytest.raises(TrackError) as err:
        load_track(path)
    msg = str(err.value)
    assert str(path) in msg and "not in metres" in msg and unit in msg, msg


def test_official_scaled_to_centimetres_is_refused(tmp_path):
    arr = np.load(official("reinvent_base.npy")) * 100.0
    path = tmp_path / "reinvent_cm.npy"
    np.save(path, arr)
    with pytest.raises(TrackError, match="centimetres"):
        load_track(path)


def test_open_three_point_track_is_refused(tmp_path):
    x = np.array([0.0, 1.0, 2.0])
    c = np.column_stack([x, np.zeros(3)])
    path = tmp_path / "three.npy"
    np.save(path, np.hstack([c, c + [0, 0.3], c - [0, 0.3]]))
    with pytest.raises(TrackError, match=r"open track needs at least 4 waypoints, got 3"):
        load_track(path)
    c4 = np.column_stack([np.arange(4.0), np.zeros(4)])
    np.save(path, np.hstack([c4, c4 + [0, 0.3], c4 - [0, 0.3]]))
    assert not load_track(path).closed                  # 4 points: a (short) open track
