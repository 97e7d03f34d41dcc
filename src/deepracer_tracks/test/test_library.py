"""The built-in library: every track valid, drivable and distinct; load_track by name and path."""
import numpy as np
import pytest

from deepracer_tracks import geometry as geo
from deepracer_tracks.library import DEFAULT_TRACK, MIN_TURN_RADIUS_M, builtin_names, list_tracks, load_track, turn_radii

CAR_MIN_RADIUS_M = 0.164 / np.tan(np.radians(30))


def test_at_least_six_tracks_with_metadata():
    infos = list_tracks()
    assert len(infos) >= 6
    assert infos[0].name == DEFAULT_TRACK == "reinvent2018_like"
    assert {i.difficulty for i in infos} <= {"easy", "medium", "hard"}
    assert {"easy", "medium", "hard"} <= {i.difficulty for i in infos}
    assert len({round(i.length_m, 1) for i in infos}) == len(infos)
    for i in infos:
        assert len(i.description) > 20


def test_required_characters():
    infos = {i.name: i for i in list_tracks()}
    d = infos["reinvent2018_like"]
    assert d.length_m == pytest.approx(17.7, abs=0.05) and d.width_m == pytest.approx(0.76, abs=1e-3)
    tape = infos["tape_corridor"]
    assert tape.length_m == pytest.approx(12.0, abs=0.05) and tape.width_m == pytest.approx(0.61, abs=1e-3)
    assert infos["wide_beginner"].width_m >= 1.0
    assert infos["long_hairpin"].length_m > 30.0
    # the hard technical track has more turning than the default
    turning = {n: np.sum(np.abs(np.diff(np.unwrap(np.arctan2(*np.diff(load_track(n).centre, axis=0).T[::-1])))))
               for n in ("reinvent2018_like", "technical")}
    assert turning["technical"] > 1.5 * turning["reinvent2018_like"]


@pytest.mark.parametrize("name", builtin_names())
def test_builtin_track_valid_and_drivable(name):
    t = load_track(name)
    assert t.closed and t.direction == "counterclockwise" and t.warnings == []
    r = turn_radii(t.centre)
    assert r.min() >= MIN_TURN_RADIUS_M > CAR_MIN_RADIUS_M
    assert r.min() > t.width_m / 2 + 0.05                 # the inner border has no cusps
    # smooth curvature: |dk/ds| stays below 5 1/m^2 (a 0.15 m waypoint step changes k by < 0.75 1/m;
    # a circle-and-straight tape track would jump from 0 to 1/R at once)
    k = 1.0 / r
    spacing = np.hypot(*np.diff(t.centre, axis=0).T)
    assert np.max(np.abs(k - np.roll(k, 1))) / spacing.mean() < 5.0
    assert spacing.max() < 0.2 and spacing.min() > 0.08
    assert geo.self_intersection(t.inner, True) is None
    assert load_track(name) is t                          # cached


def test_load_track_path(tmp_path):
    p = tmp_path / "mine.npy"
    load_track("oval").to_npy(p)
    t = load_track(str(p))
    assert t.name == "mine" and t.length_m == pytest.approx(load_track("oval").length_m)
