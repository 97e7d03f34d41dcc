"""Watchdog, emergency stop and mode arbitration with an injected clock (no sleeping, no ROS)."""
import pytest

from deepracer_control.safety import Mode, ModeArbiter, SafetySupervisor, Source, Watchdog, parse_mode


class FakeClock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def test_watchdog_expires_after_timeout_and_before_first_feed():
    clock = FakeClock()
    wd = Watchdog(0.25, clock)
    assert wd.expired()
    wd.feed()
    clock.t += 0.25
    assert not wd.expired()
    clock.t += 0.001
    assert wd.expired() and wd.expiry_count == 1
    wd.feed()
    assert not wd.expired()
    with pytest.raises(ValueError, match="timeout_s"):
        Watchdog(0.0, clock)


@pytest.mark.parametrize("mode,allowed", [
    ("manual", Source.TELEOP), ("autonomous", Source.INFERENCE), ("calibration", Source.CALIBRATION)])
def test_mode_passes_only_its_own_source(mode, allowed):
    arbiter = ModeArbiter(mode)
    for source in Source:
        assert arbiter.accepts(source) is (source is allowed)
    assert arbiter.rejected_count == 2


def test_unknown_mode_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="'race' is not one of manual, autonomous, calibration"):
        parse_mode("race")


def test_supervisor_watchdog_goes_neutral_and_resumes_on_new_command():
    clock = FakeClock()
    sup = SafetySupervisor("neutral", mode=Mode.AUTONOMOUS, timeout_s=0.25, clock=clock)
    assert sup.output() == ("neutral", "idle")
    assert sup.submit(Source.INFERENCE, "go")
    assert not sup.submit(Source.TELEOP, "teleop")  # autonomous: teleop ignored
    assert sup.output() == ("go", "command")
    clock.t += 0.3
    assert sup.output() == ("neutral", "watchdog")
    sup.submit(Source.INFERENCE, "go2")
    assert sup.output() == ("go2", "command")


def test_supervisor_emergency_stop_latches_and_needs_a_fresh_command():
    clock = FakeClock()
    sup = SafetySupervisor("neutral", mode="manual", clock=clock)
    sup.submit(Source.TELEOP, "go")
    sup.emergency_stop(True)
    assert sup.output() == ("neutral", "emergency_stop")
    sup.submit(Source.TELEOP, "go again")  # accepted, but the latch wins
    assert sup.output() == ("neutral", "emergency_stop")
    sup.emergency_stop(False)
    assert sup.output() == ("go again", "command")
    sup.emergency_stop(True)
    sup.emergency_stop(False)
    assert sup.output() == ("neutral", "idle")  # the held command was forgotten at engage


def test_supervisor_mode_switch_forgets_the_previous_source():
    clock = FakeClock()
    sup = SafetySupervisor("neutral", mode="manual", clock=clock)
    sup.submit(Source.TELEOP, "teleop")
    sup.set_mode("autonomous")
    assert sup.output() == ("neutral", "idle")
    assert not sup.submit(Source.TELEOP, "teleop")
    assert sup.submit(Source.INFERENCE, "auto")
    assert sup.output() == ("auto", "command")
