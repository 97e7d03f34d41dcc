"""DeepRacerEnv / DeepRacerVecEnv on the real BatchSim: checkers, seeding, rules, params, SB3 contract."""
import math
import warnings

import numpy as np
import pytest

from deepracer_agent.env import DeepRacerEnv
from deepracer_agent.reward import PARAM_KEYS, REFERENCE_POINT_OFFSET_M
from deepracer_agent.vec_env import DeepRacerVecEnv
from deepracer_inference.metadata import ModelMetadata

from shared_data import shared_path


def _straight_metadata():
    """Two actions: straight at 1 m/s (index 0) and straight at 0.1 m/s (index 1)."""
    return ModelMetadata.discrete([0.0], [1.0, 0.1])


@pytest.fixture(scope="module")
def straight_track():
    return str(shared_path("tracks", "Straight_track.npy"))


def _place(env_batch, car, dx_m=0.0, dyaw_rad=0.0):
    """Move car ``car`` (already reset) ``dx_m`` along and turn it by ``dyaw_rad`` - a constructed situation."""
    sim = env_batch.sim
    x, y, yaw = float(sim.x[car]), float(sim.y[car]), float(sim.yaw[car])
    sim.reset([car], x + dx_m * math.cos(yaw), y + dx_m * math.sin(yaw), yaw + dyaw_rad)


def _run(env, action, max_steps=400):
    for k in range(max_steps):
        obs, reward, terminated, truncated, info = env.step(action)
        if terminated or truncated:
            return k + 1, terminated, truncated, info
    raise AssertionError(f"episode did not end in {max_steps} steps: {info}")


# ----------------------------------------------------------------------------- checkers
def test_gymnasium_env_checker_passes():
    from gymnasium.utils.env_checker import check_env

    env = DeepRacerEnv(render_mode="rgb_array", seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # "no spec" (not made through gymnasium.make)
        check_env(env)
    assert env.observation_space.shape == (120, 160, 1) and env.action_space.n == 10
    assert env.render().shape == (120, 160, 3)


def test_gymnasium_checker_passes_continuous_and_frame_stack():
    from gymnasium.utils.env_checker import check_env

    meta = ModelMetadata.continuous((-30.0, 30.0), (0.5, 1.0))
    env = DeepRacerEnv(metadata=meta, frame_stack=3, seed=0)
    check_env(env, skip_render_check=True)
    assert env.observation_space.shape == (120, 160, 3)
    obs, _ = env.reset(seed=0)
    assert np.array_equal(obs[..., 0], obs[..., 2])        # the first frame fills the stack
    obs, *_ = env.step(np.array([0.0, 1.0], dtype=np.float32))
    assert env.batch.last_params[0]["speed"] == pytest.approx(1.0)
    assert env.batch.last_params[0]["steering_angle"] == pytest.approx(0.0)


def test_sb3_env_checker_passes():
    from stable_baselines3.common.env_checker import check_env

    with warnings.catch_warnings():
        warnings.simplefilter("error")   # SB3 reports problems as warnings: there must be none
        check_env(DeepRacerEnv(seed=0), warn=True, skip_render_check=True)


# ----------------------------------------------------------------------------- seeding
def _rollout(env, seed, actions):
    obs, info = env.reset(seed=seed)
    frames, rewards, progress = [obs], [], [info["progress"]]
    for a in actions:
        obs, r, term, trunc, info = env.step(a)
        frames.append(obs)
        rewards.append(r)
        progress.append(info["progress"])
        if term or trunc:
            obs, info = env.reset()
            frames.append(obs)
    return np.stack(frames), rewards, progress


def test_seeding_is_deterministic_with_randomization():
    cfg = {"randomization": {"lighting": {"enabled": True}}}
    episode = {"start": "random", "direction": "random"}
    actions = [int(a) for a in np.random.default_rng(0).integers(0, 10, size=25)]
    env = DeepRacerEnv(sim_config=cfg, episode=episode, seed=5)
    a = _rollout(env, 7, actions)
    _rollout(env, 99, actions)                                  # something else in between
    b = _rollout(env, 7, actions)
    c = _rollout(DeepRacerEnv(sim_config=cfg, episode=episode), 7, actions)   # a fresh env
    for other in (b, c):
        assert np.array_equal(a[0], other[0]) and a[1] == other[1] and a[2] == other[2]
    d = _rollout(env, 8, actions)
    assert not np.array_equal(a[0][0], d[0][0]) or a[2] != d[2]


# ----------------------------------------------------------------------------- termination reasons
def test_lap_complete_on_the_straight(straight_track):
    env = DeepRacerEnv(straight_track, metadata=_straight_metadata(), seed=0)
    env.reset(seed=0)
    steps, terminated, truncated, info = _run(env, 0)
    assert terminated and not truncated and info["termination_reason"] == "lap_complete"
    assert info["progress"] == 100.0 and info["episode_status"] == "lap_complete"
    assert info["lap_time_s"] == pytest.approx(steps / 15.0)
    # 5.71 m at 1 m/s (after the throttle lag) is about 6 s; the reference point starts 0.14 m ahead
    assert 5.0 < info["lap_time_s"] < 7.0
    with pytest.raises(RuntimeError, match="after the episode ended"):
        env.step(0)


def test_off_track_when_driving_across_the_road(straight_track):
    env = DeepRacerEnv(straight_track, metadata=_straight_metadata(), seed=0)
    env.reset(seed=0)
    _place(env.batch, 0, dx_m=1.0, dyaw_rad=math.pi / 2)          # pointing at the left border
    steps, terminated, _, info = _run(env, 0)
    assert terminated and info["termination_reason"] == "off_track" and info["episode_status"] == "off_track"
    params = env.batch.last_params[0]
    assert params["is_offtrack"] is True and params["all_wheels_on_track"] is False
    # half width 0.305 m + half the car: all four wheels must be off, so well over 0.3 m travelled
    assert 6 <= steps <= 20


def test_paper_off_track_rule_ends_earlier(straight_track):
    ends = {}
    for rule in ("deepracer", "paper"):
        env = DeepRacerEnv(straight_track, metadata=_straight_metadata(), episode={"off_track_rule": rule}, seed=0)
        env.reset(seed=0)
        _place(env.batch, 0, dx_m=1.0, dyaw_rad=math.pi / 2)
        steps, _, _, info = _run(env, 0)
        assert info["termination_reason"] == "off_track"
        ends[rule] = steps
    assert ends["paper"] < ends["deepracer"]


def test_immobilized_fires_for_a_car_that_barely_moves(straight_track):
    # 0.1 m/s is 6.7 mm per frame; a 1 cm threshold makes that "immobilized" (rule wiring, not physics)
    env = DeepRacerEnv(straight_track, metadata=_straight_metadata(),
                       episode={"immobilized_distance_m": 0.01}, seed=0)
    env.reset(seed=0)
    steps, terminated, _, info = _run(env, 1)
    assert terminated and info["termination_reason"] == "immobilized" and steps == 15


def test_reversed_fires_when_driving_the_wrong_way(straight_track):
    env = DeepRacerEnv(straight_track, metadata=_straight_metadata(), seed=0)
    env.reset(seed=0)
    _place(env.batch, 0, dx_m=3.0, dyaw_rad=math.pi)                # turned round in the middle
    steps, terminated, _, info = _run(env, 0)
    # step 1 registers the jump from the start to the placed pose (progress up), then 15 steps down
    assert terminated and info["termination_reason"] == "reversed" and steps == 16


def test_step_limit_truncates():
    env = DeepRacerEnv(episode={"max_steps": 4}, seed=0)
    env.reset(seed=0)
    steps, terminated, truncated, info = _run(env, 4)
    assert steps == 4 and truncated and not terminated
    assert info["termination_reason"] == "step_limit" and info["episode_status"] == "time_up"


# ----------------------------------------------------------------------------- params in the env
def test_params_from_the_env_follow_the_simulator():
    env = DeepRacerEnv(seed=0)
    env.reset(seed=0)
    env.step(7)                                   # 15 deg, 1.0 m/s in the default space
    p = env.batch.last_params[0]
    sim = env.batch.sim
    assert tuple(p) == PARAM_KEYS
    assert p["steps"] == 1 and p["speed"] == 1.0 and p["steering_angle"] == 15.0   # commanded
    assert p["x"] == pytest.approx(sim.x[0] + REFERENCE_POINT_OFFSET_M * math.cos(sim.yaw[0]))
    assert p["y"] == pytest.approx(sim.y[0] + REFERENCE_POINT_OFFSET_M * math.sin(sim.yaw[0]))
    assert p["heading"] == pytest.approx(math.degrees(sim.yaw[0]))
    assert p["all_wheels_on_track"] is True and p["is_offtrack"] is False
    assert p["track_length"] == pytest.approx(env.batch.track.length_m)
    assert 0.0 < p["progress"] < 2.0 and p["distance_from_center"] < 0.05


def test_progress_continues_past_the_start_line():
    # start 1% before the start line on the default track's start straight, drive straight
    env = DeepRacerEnv(metadata=_straight_metadata(), episode={"start_offset_fraction": 0.99}, seed=0)
    _, info = env.reset(seed=0)
    length = env.batch.track.length_m
    seen = []
    for _ in range(12):
        _, _, terminated, _, info = env.step(0)
        assert not terminated, info
        p = env.batch.last_params[0]
        seen.append((p["progress"], p["projection_distance"], p["closest_waypoints"]))
    progress = [s[0] for s in seen]
    assert all(b > a for a, b in zip(progress, progress[1:])), progress
    assert progress[-1] > 2.0                          # crossed the line without wrapping or ending
    assert seen[0][1] > length - 0.1 and seen[-1][1] < 1.0   # projection_distance wrapped at the line
    start_s = env.batch.rules.start_s_m[0]
    assert start_s == pytest.approx(0.99 * length)
    assert progress[-1] == pytest.approx(100.0 * (seen[-1][1] + length - start_s) / length)
    assert seen[-1][2][0] in (0, 1, 2, 3)


def test_reversed_direction_drives_the_reversed_track():
    env = DeepRacerEnv(episode={"direction": "alternate"}, seed=0)
    _, info0 = env.reset(seed=0)
    assert info0["is_reversed"] is False
    _, info1 = env.reset()
    assert info1["is_reversed"] is True
    env.step(2)
    p = env.batch.last_params[0]
    rev = env.batch.track.reversed()
    assert p["is_reversed"] is True and p["waypoints"][1] == pytest.approx(tuple(rev.centre[1]))
    # the car faces along the reversed track: heading matches its centre-line direction
    q = rev.query(np.array([[p["x"], p["y"]]]))
    diff = (p["heading"] - math.degrees(q.heading_rad[0]) + 180) % 360 - 180
    assert abs(diff) < 10 and 0 < p["progress"] < 2


def test_bad_reward_stops_the_env_with_its_message(tmp_path):
    bad = tmp_path / "bad_reward.py"
    bad.write_text("def reward_function(params):\n    return params['speed'] / 0\n")
    env = DeepRacerEnv(reward=str(bad), seed=0)
    env.reset(seed=0)
    from deepracer_agent.reward import RewardFunctionError

    with pytest.raises(RewardFunctionError, match=r"bad_reward\.py: reward_function raised ZeroDivisionError.*line 2"):
        env.step(0)


# ----------------------------------------------------------------------------- VecEnv contract
def test_vec_env_contract_auto_reset_and_terminal_observation():
    venv = DeepRacerVecEnv(n_envs=3, episode={"max_steps": 3}, seed=0)
    assert venv.num_envs == 3 and venv.observation_space.shape == (120, 160, 1)
    venv.seed(1)
    obs = venv.reset()
    assert obs.shape == (3, 120, 160, 1) and obs.dtype == np.uint8
    assert all(0.0 < i["progress"] < 2.0 and i["steps"] == 0 for i in venv.reset_infos)
    starts = [venv.batch.rules.start_s_m[i] for i in range(3)]
    assert starts[1] - starts[0] == pytest.approx(0.05 * venv.batch.track.length_m)   # round robin over cars
    for k in range(3):
        obs, rewards, dones, infos = venv.step(np.array([2, 2, 2]))
        assert rewards.shape == (3,) and dones.shape == (3,) and len(infos) == 3
    assert dones.all()
    for i, info in enumerate(infos):
        assert info["terminal_observation"].shape == (120, 160, 1)
        assert info["TimeLimit.truncated"] is True and info["termination_reason"] == "step_limit"
        assert not np.array_equal(info["terminal_observation"], obs[i])    # obs is the new episode's first
        assert venv.reset_infos[i]["steps"] == 0
    assert venv.batch.rules.steps.tolist() == [0, 0, 0]
    assert venv.get_attr("render_mode") == [None] * 3
    assert venv.env_is_wrapped(object) == [False] * 3
    assert len(venv.env_method("start_info", 0, indices=[0, 1])) == 2
    venv.close()


def test_vec_env_matches_single_env_and_is_seeded():
    actions = [int(a) for a in np.random.default_rng(1).integers(0, 10, size=12)]
    env = DeepRacerEnv(seed=0)
    obs, _ = env.reset(seed=4)
    single = [obs]
    for a in actions:
        obs, *_ = env.step(a)
        single.append(obs)
    for _ in range(2):
        venv = DeepRacerVecEnv(n_envs=1, seed=123)
        venv.seed(4)
        vec = [venv.reset()[0]]
        for a in actions:
            vec.append(venv.step(np.array([a]))[0][0])
        assert np.array_equal(np.stack(single), np.stack(vec))


def test_sb3_ppo_runs_on_the_vec_env():
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import VecMonitor

    venv = VecMonitor(DeepRacerVecEnv(n_envs=2, episode={"max_steps": 5}, seed=0))
    model = PPO("CnnPolicy", venv, n_steps=8, batch_size=16, n_epochs=1, seed=0, device="cpu")
    model.learn(total_timesteps=16)
    assert model.num_timesteps == 16
    action, _ = model.predict(venv.reset(), deterministic=True)
    assert action.shape == (2,)


def test_other_render_sizes_go_through_the_shared_preprocessing():
    from deepracer_inference.preprocess import to_network_input

    env = DeepRacerEnv(sim_config={"output_width_px": 320, "output_height_px": 240, "color": True}, seed=0)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (120, 160, 1) and obs.dtype == np.uint8
    frame = env.batch.sim.render()[0]
    assert frame.shape == (240, 320, 3)
    assert np.array_equal(obs[..., 0], to_network_input(frame, "rgb8"))
