"""Episode rules in isolation: config validation, start points, progress unwrap, each termination."""
import numpy as np
import pytest

from deepracer_sim.episode import (
    EPISODE_STATUS,
    EpisodeConfig,
    EpisodeConfigError,
    EpisodeRules,
    unwrap_progress,
)

LENGTH = 20.0
WAYPOINT_S = np.linspace(0.0, LENGTH, 40, endpoint=False)


def _rules(n=1, **cfg):
    return EpisodeRules(EpisodeConfig(**cfg), n, LENGTH, WAYPOINT_S, np.random.default_rng(0))


def _begin(rules, progress=0.0):
    ids = np.arange(rules.n_cars)
    rev, start = rules.choose_starts(rules.n_cars)
    rules.begin(ids, rev, start, np.zeros((rules.n_cars, 2)), np.full(rules.n_cars, progress))


def _step(rules, xy=(0.0, 0.0), raw=1.0, on=True, dist=0.0, half=0.5):
    n = rules.n_cars
    return rules.update(np.tile(np.asarray(xy, float), (n, 1)), np.full(n, raw), np.full(n, on),
                        np.full(n, dist), np.full(n, half))


def test_config_defaults_are_the_simulators():
    cfg = EpisodeConfig()
    assert (cfg.start, cfg.start_advance_fraction, cfg.direction, cfg.off_track_rule) == \
        ("round_robin", 0.05, "forward", "deepracer")
    assert (cfg.immobilized_steps, cfg.immobilized_distance_m, cfg.reversed_steps, cfg.max_steps) == \
        (15, 0.0003, 15, 10_000)
    assert EpisodeConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize("data, message", [
    ({"max_step": 10}, r"^train\.max_step: unknown key \(did you mean 'max_steps'\?\)"),
    ({"direction": "backwards"}, r"^train\.direction: must be one of"),
    ({"start": "middle"}, r"^train\.start: must be one of"),
    ({"off_track_rule": "strict"}, r"^train\.off_track_rule: must be one of"),
    ({"start_advance_fraction": 1.5}, r"^train\.start_advance_fraction: must be < 1.0"),
    ({"start_advance_fraction": 1.0}, r"^train\.start_advance_fraction: must be < 1.0"),
    ({"max_steps": 0}, r"^train\.max_steps: must be >= 1"),
    ({"reversed_steps": 2.5}, r"^train\.reversed_steps: expected an integer"),
    ({"immobilized_distance_m": -1}, r"^train\.immobilized_distance_m: must be >= 0.0 m"),
])
def test_bad_config_names_the_option(data, message):
    with pytest.raises(EpisodeConfigError, match=message):
        EpisodeConfig.from_dict(data, prefix="train")


def test_numbers_in_any_yaml_form():
    from deepracer_common.options import load_yaml

    cfg = EpisodeConfig.from_dict(load_yaml("max_steps: 6e2\nstart_advance_fraction: 5e-2\nimmobilized_distance_m: 3e-4"))
    assert (cfg.max_steps, cfg.start_advance_fraction, cfg.immobilized_distance_m) == (600, 0.05, 0.0003)
    assert type(cfg.max_steps) is int
    assert EpisodeConfig.from_dict({"max_steps": "1_000", "start_offset_fraction": 0}).max_steps == 1000


def test_round_robin_advances_five_percent_per_episode():
    rules = _rules()
    starts = [rules.choose_starts(1)[1][0] for _ in range(22)]
    np.testing.assert_allclose(starts[:3], [0.0, 1.0, 2.0])
    assert starts[20] == pytest.approx(0.0) and starts[21] == pytest.approx(1.0)
    offset = _rules(start_offset_fraction=0.5).choose_starts(2)[1]
    np.testing.assert_allclose(offset, [10.0, 11.0])


def test_random_start_picks_waypoints_and_directions():
    rules = _rules(start="random", direction="random")
    rev, start = rules.choose_starts(200)
    assert set(start) <= set(WAYPOINT_S) and len(set(start)) > 20
    assert 40 < rev.sum() < 160


def test_directions_fixed_and_alternating():
    assert not _rules(direction="forward").choose_starts(4)[0].any()
    assert _rules(direction="reversed").choose_starts(4)[0].all()
    assert _rules(direction="alternate").choose_starts(4)[0].tolist() == [False, True, False, True]


def test_progress_unwraps_across_the_start_line():
    np.testing.assert_allclose(unwrap_progress([0.5], [99.0]), [100.0])        # lap complete
    np.testing.assert_allclose(unwrap_progress([99.5], [0.3]), [-0.5])         # backed over the start
    np.testing.assert_allclose(unwrap_progress([99.0], [-0.5]), [-1.0])
    np.testing.assert_allclose(unwrap_progress([42.0], [41.0]), [42.0])


def test_lap_complete_fires_when_progress_reaches_100():
    rules = _rules()
    _begin(rules)
    for i, raw in enumerate([30.0, 60.0, 90.0, 99.0]):
        out = _step(rules, xy=(i + 1.0, 0.0), raw=raw)
        assert not out.terminated[0]
    out = _step(rules, xy=(9.0, 0.0), raw=0.4)
    assert out.terminated[0] and out.reasons == ["lap_complete"] and out.progress_pct[0] == 100.0
    assert EPISODE_STATUS["lap_complete"] == "lap_complete"


def test_off_track_deepracer_rule_needs_every_wheel_off():
    rules = _rules()
    _begin(rules)
    assert not _step(rules, xy=(1, 0), raw=1, on=True, dist=0.9, half=0.5).terminated[0]
    out = _step(rules, xy=(2, 0), raw=2, on=False, dist=0.6, half=0.5)
    assert out.terminated[0] and out.reasons == ["off_track"]


def test_off_track_paper_rule_uses_half_width():
    rules = _rules(off_track_rule="paper")
    _begin(rules)
    assert not _step(rules, xy=(1, 0), raw=1, on=False, dist=0.49, half=0.5).terminated[0]
    out = _step(rules, xy=(2, 0), raw=2, on=True, dist=0.51, half=0.5)
    assert out.reasons == ["off_track"]


def test_immobilized_after_fifteen_still_steps():
    rules = _rules()
    _begin(rules)
    reasons = []
    for _ in range(15):
        reasons.append(_step(rules, xy=(0.0001, 0.0), raw=0.5).reasons[0])  # moved <= 0.3 mm
    assert reasons[:14] == [None] * 14 and reasons[14] == "immobilized"


def test_moving_resets_the_immobilized_count():
    rules = _rules()
    _begin(rules)
    for _ in range(10):
        _step(rules, raw=0.5)
    _step(rules, xy=(0.01, 0.0), raw=0.6)  # moves 1 cm
    for _ in range(10):
        assert _step(rules, xy=(0.01, 0.0), raw=0.6).reasons[0] is None


def test_reversed_after_fifteen_steps_of_decreasing_progress():
    rules = _rules()
    _begin(rules, progress=50.0)
    reasons = [_step(rules, xy=(k * 0.05, 0), raw=50.0 - 0.1 * k).reasons[0] for k in range(1, 16)]
    assert reasons[:14] == [None] * 14 and reasons[14] == "reversed"


def test_step_limit_truncates_instead_of_terminating():
    rules = _rules(max_steps=3)
    _begin(rules)
    outs = [_step(rules, xy=(k * 0.05, 0), raw=k) for k in range(1, 4)]
    assert [o.truncated[0] for o in outs] == [False, False, True]
    assert not any(o.terminated[0] for o in outs)
    assert outs[-1].reasons == ["step_limit"] and EPISODE_STATUS["step_limit"] == "time_up"


def test_lap_complete_wins_over_other_reasons_and_cars_are_independent():
    rules = _rules(n=2, max_steps=5)
    _begin(rules)
    for k, raw in enumerate([30.0, 60.0, 90.0, 99.0]):
        assert not _step(rules, xy=(k + 1.0, 0.0), raw=raw).terminated.any()
    out = rules.update(np.array([[9.0, 0], [9.0, 0]]), np.array([0.2, 99.5]), np.array([True, False]),
                       np.zeros(2), np.full(2, 0.5))
    assert out.reasons == ["lap_complete", "off_track"]  # car 0 also hit the step limit
    assert out.terminated.tolist() == [True, True] and out.truncated.tolist() == [False, False]
