"""SimSession, the sim node's core (no ROS): laps, off-track events and resets, stop, start options."""
from __future__ import annotations

import math

import numpy as np
import pytest

from deepracer_sim.sim_session import SessionError, SimSession
from deepracer_tracks.library import load_track


@pytest.fixture(scope="module")
def oval():
    return load_track("oval")


def pure_pursuit(session: SimSession, lookahead_m: float = 0.6) -> float:
    """Steering (rad) towards the centre-line point `lookahead_m` ahead (driven direction)."""
    st = session.status
    track = session.tracks[int(st.is_reversed)]
    q = track.query(np.array([[st.x, st.y]]))
    target, _ = track.pose_at((q.s_m + lookahead_m) % track.length_m)
    a = math.atan2(target[0, 1] - st.y, target[0, 0] - st.x) - st.yaw
    a = math.atan2(math.sin(a), math.cos(a))
    return math.atan(2 * session.vehicle.wheelbase_m * math.sin(a) / lookahead_m)


def test_laps_are_counted_and_timed(oval):
    s = SimSession(oval)
    assert s.status.event == "reset" and s.status.stopped and s.status.progress < 2.0
    events = []
    for _ in range(400):
        s.set_command(1.5, pure_pursuit(s))
        st = s.step()
        if st.event:
            events.append((st.event, st.lap_count, st.last_lap_time_s, st.progress))
    laps = [e for e in events if e[0] == "lap_complete"]
    assert len(laps) == 2, events
    assert laps[0][1:3] == (1, pytest.approx(oval.length_m / 1.5, rel=0.1))
    assert all(e[3] == 100.0 for e in laps)
    assert s.status.progress < 100.0 and s.status.lap_count == 2 and s.status.off_track_count == 0
    assert s.status.stamp_s == pytest.approx(s.frame * s.dt_s)


def test_off_track_counts_once_and_resets_to_the_start(oval):
    s = SimSession(oval, reset_on_off_track=True)
    start = (s.status.x, s.status.y)
    statuses = []
    for _ in range(60):
        s.set_command(1.0, math.radians(30))          # circle off the road
        statuses.append(s.step())
        if statuses[-1].event == "reset":
            break
    off = [st for st in statuses if st.event == "off_track"]
    assert len(off) == 1 and off[0].is_offtrack and off[0].episode_status == "off_track"
    assert off[0].off_track_count == 1
    assert statuses[-1].event == "reset" and statuses[-1].episode == 2
    assert (statuses[-1].x, statuses[-1].y) == pytest.approx(start)
    assert s.command == (0.0, 0.0)


def test_without_reset_each_excursion_is_one_event(oval):
    s = SimSession(oval, reset_on_off_track=False)
    statuses = []
    for _ in range(120):
        s.set_command(1.0, math.radians(30))            # a tight circle across the border, again and again
        statuses.append(s.step())
    off = [st.is_offtrack for st in statuses]
    excursions = sum(1 for a, b in zip([False] + off, off) if b and not a)
    events = [st.event for st in statuses]
    assert excursions >= 2
    assert events.count("off_track") == excursions and "reset" not in events
    assert s.status.off_track_count == excursions


def test_stop_command_holds_the_car(oval):
    s = SimSession(oval)
    for _ in range(10):
        s.set_command(1.0, 0.0)
        s.step()
    assert s.status.speed_m_s > 0.5
    s.set_command(0.0, 0.0)                            # neutral (watchdog): below the 0.1 m/s minimum
    held = s.step()
    for _ in range(5):
        st = s.step()
        assert (st.x, st.y, st.yaw) == (held.x, held.y, held.yaw)
        assert st.speed_m_s == 0.0 and st.stopped
    s.set_command(-1.0, 0.0)                          # reverse: BatchSim cannot, so also a stop
    assert s.stopped


def test_start_waypoint_and_reverse(oval):
    s = SimSession(oval, start_waypoint=10, reverse=True)
    driven = oval.reversed()
    assert (s.status.x, s.status.y) == pytest.approx(tuple(driven.centre[10]), abs=1e-9)
    assert s.status.is_reversed
    with pytest.raises(SessionError, match="start_waypoint"):
        SimSession(oval, start_waypoint=len(oval.centre))
    with pytest.raises(ValueError, match="finite"):
        s.set_command(float("nan"), 0.0)


def test_round_robin_starts_advance(oval):
    s = SimSession(oval, start_advance_fraction=0.25)
    first = s.status
    second = s.reset()
    s0 = oval.query(np.array([[first.x, first.y]])).s_m[0]
    s1 = oval.query(np.array([[second.x, second.y]])).s_m[0]
    assert (s1 - s0) % oval.length_m == pytest.approx(0.25 * oval.length_m, abs=1e-6)
    assert second.frame == first.frame + 1 and second.episode == 2
