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
