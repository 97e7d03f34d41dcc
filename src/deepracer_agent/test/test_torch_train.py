"""The GPU trainer (device=cuda) exercised on torch's CPU backend (device=cpu-torch), tiny sizes."""
import csv
import json

import numpy as np
import pytest


from deepracer_agent.config import load_config
from deepracer_agent.train import TrainError, complete_checkpoints, train

TINY = ["device=cpu-torch", "n_envs=2", "ppo.n_steps=6", "hyperparameters.num_epochs=1",
        "hyperparameters.batch_size=4", "stop.max_iterations=2", "episode.max_steps=5"]


@pytest.mark.slow
def test_cpu_torch_run_folder_loads_in_evaluate_and_export_path(tmp_path):
    from deepracer_agent.checkpoint import make_policy, read

    run = tmp_path / "run"
    result = train(load_config(None, TINY), run, progress_bar=False, log=None)
    assert result.iterations == 2 and result.steps == 2 * 2 * 6
    ckpts = complete_checkpoints(run)
    assert [p.name for p, _ in ckpts] == ["iter_000001.zip", "iter_000002.zip"]
    rows = list(csv.DictReader(open(run / "metrics.csv")))
    assert [int(r["iteration"]) for r in rows] == [1, 2]
    assert int(rows[-1]["episodes_total"]) >= 2          # 5-step episodes ended and were counted
    assert json.loads((run / "status.json").read_text())["state"] == "finished"
    ck = read(ckpts[-1][0])
    assert ck.num_timesteps == 24
    policy = make_policy(ckpts[-1][0])                   # what evaluate / export rebuild
    obs = np.zeros((1, 120, 160), np.uint8)
    action, _ = policy.predict(obs, deterministic=True)
    assert 0 <= int(action) < 10


def test_python_reward_above_the_car_limit_is_refused_with_one_line(tmp_path, monkeypatch):
    from deepracer_agent import torch_train

    monkeypatch.setattr(torch_train, "PY_REWARD_MAX_CARS", 1)
    cfg = load_config(None, TINY + ["reward_file=progress_per_step"])
    with pytest.raises(TrainError, match=r"reward_file: 'progress_per_step' runs per car on the CPU .* at most 1 cars"):
        train(cfg, tmp_path / "run", progress_bar=False, log=None)


def _rollout(overrides, reward_fn=None):
    import torch

    from deepracer_agent.torch_train import _Rollout

    cfg = load_config(None, ["n_envs=6", "episode.direction=alternate"] + overrides)
    return cfg, _Rollout(cfg, torch.device("cpu"), False, reward_fn)


@pytest.mark.slow
def test_episode_rules_match_the_cpu_rules_both_directions():
    """The tensor episode rules against deepracer_sim.episode's EpisodeRules on the same trajectories:
    progress at the reference point from each car's start along its driven track, and the same
    termination (lap, off track, immobilized, reversed, step limit) step by step."""
    import torch

    from deepracer_sim.episode import EpisodeRules, query_progress, reference_point

    cfg, roll = _rollout(["episode.max_steps=25"])
    n, ep = roll.n, cfg.episode_config()
    assert roll.is_rev.tolist() == [False, True] * 3             # alternate
    rules = EpisodeRules(ep, n, roll.track.length_m, roll.track._s_wp, np.random.default_rng(0))
    tracks = roll.cpu_tracks
    pre = {}
    orig_reset = roll._reset

    def spy(ids):                        # the state the rules saw, before the rollout resets cars
        pre.update(x=roll.sim.x.numpy().copy(), y=roll.sim.y.numpy().copy(), yaw=roll.sim.yaw.numpy().copy(),
                   wheels=roll.sim.wheels_on_track().numpy().copy(), progress=roll.progress.numpy().copy())
        orig_reset(ids)

    def begin(ids):
        x, y, yaw = roll.sim.x.numpy()[ids], roll.sim.y.numpy()[ids], roll.sim.yaw.numpy()[ids]
        rev, start = roll.is_rev.numpy()[ids], roll.start_s.numpy()[ids]
        _, raw = query_progress(tracks, reference_point(x, y, yaw), rev, start)
        rules.begin(ids, rev, start, np.stack([x, y], -1), raw)

    begin(np.arange(n))
    np.testing.assert_allclose(rules.progress_pct, roll.progress.numpy(), atol=1e-9)
    roll._reset = spy
    rng = np.random.default_rng(1)
    reasons_seen = set()
    for _ in range(45):
        pre.clear()
        a = rng.integers(0, 10, n)
        a[::3] = 5                                                   # some cars drive straight ahead
        _, done, _ = roll.step(torch.as_tensor(a))
        st = pre or dict(x=roll.sim.x.numpy(), y=roll.sim.y.numpy(), yaw=roll.sim.yaw.numpy(),
                         wheels=roll.sim.wheels_on_track().numpy(), progress=roll.progress.numpy())
        ref = reference_point(st["x"], st["y"], st["yaw"])
        q, raw = query_progress(tracks, ref, rules.is_reversed, rules.start_s_m)
        out = rules.update(np.stack([st["x"], st["y"]], -1), raw, st["wheels"].any(1), q.distance_from_center_m,
                           q.half_width_m)
        np.testing.assert_allclose(out.progress_pct, st["progress"], atol=1e-6)
        assert (out.terminated | out.truncated).tolist() == done.tolist()
        reasons_seen |= {r for r in out.reasons if r}
        ids = np.flatnonzero(done.numpy())
        if len(ids):
            begin(ids)
    assert {"off_track", "step_limit"} <= reasons_seen


def test_python_reward_file_runs_per_car_with_the_training_params(tmp_path):
    """A user's reward file in the GPU trainer: each car's own instance gets deepracer train's params
    (progress, steps, direction, ...) of that car and step."""
    import torch

    from deepracer_agent.reward import load_reward_function

    path = tmp_path / "r.py"
    path.write_text("def reward_function(params):\n"
                    "    assert len(params['waypoints']) > 3 and 0 <= params['track_width'] < 2\n"
                    "    return params['progress'] + 1000.0 * params['steps'] + (0.5 if params['is_reversed'] else 0.0)\n")
    cfg, roll = _rollout(["episode.max_steps=1000"], load_reward_function(path))
    assert len(roll.reward_fns) == 6 and roll.reward_fns[0] is not roll.reward_fns[1]
    for _ in range(3):
        r, done, _ = roll.step(torch.full((6,), 5))
    expect = roll.progress + 1000.0 * roll.steps + 0.5 * roll.is_rev
    keep = ~done
    np.testing.assert_allclose(r[keep].numpy(), expect[keep].numpy().astype(np.float32), rtol=1e-6)


@pytest.mark.slow
def test_bench_gpu_competence_runs_on_the_cpu(tmp_path):
    """bench/bench_gpu_competence.py (the BENCHMARKS.md command) end to end on torch's CPU backend:
    train a tiny variant of the demo_gpu preset, robust-evaluate its checkpoints, write the JSON."""
    from bench_scripts import load_bench

    mod = load_bench("bench_gpu_competence")
    out = tmp_path / "r.json"
    assert mod.main(["--device", "cpu-torch", "--seconds", "600", "--workers", "1", "--trials", "2",
                     "--out", str(tmp_path / "runs"), "--json", str(out), "--variant", "tiny:seed=3",
                     "--set", "n_envs=2", "--set", "ppo.n_steps=4", "--set", "hyperparameters.batch_size=4",
                     "--set", "hyperparameters.num_epochs=1", "--set", "stop.max_iterations=1"]) == 0
    v = json.loads(out.read_text())["variants"][0]
    assert v["iterations"] == 1 and v["steps"] == 8
    assert [s["checkpoint"] for s in v["robust"]] == ["iter_000001.zip"] and v["robust"][0]["trials"] == 2
    assert v["time_to_competence_s"] is None or v["robust"][0]["laps"] == 2


@pytest.mark.slow
def test_in_training_robust_evaluation_fills_the_rows_and_the_stop_conditions_apply(tmp_path):
    """stop.target_eval_completion on the GPU trainer: the real quick robust evaluation (numba CPU
    simulator, evaluation.* trials) every evaluation.every_iterations, its fields in metrics.csv, and
    the first stop condition met named in the result and status.json (an untrained policy does not lap:
    max_iterations stops it)."""
    run = tmp_path / "run"
    cfg = load_config(None, TINY + ["stop.max_iterations=3", "stop.target_eval_completion=0.9",
                                    "evaluation.every_iterations=2", "evaluation.trials=2", "evaluation.max_steps=8"])
    result = train(cfg, run, progress_bar=False, log=None)
    assert result.iterations == 3 and result.stop_reason == "max_iterations 3 reached"
    rows = list(csv.DictReader(open(run / "metrics.csv")))
    assert [r["eval_completion_rate"] != "" for r in rows] == [False, True, False]
    assert float(rows[1]["eval_completion_rate"]) == 0.0 and float(rows[1]["eval_time_s"]) > 0.0
    assert 0.0 <= float(rows[1]["eval_mean_progress"]) <= 100.0
    assert result.eval_completion_rate == 0.0
    assert json.loads((run / "status.json").read_text())["stop_reason"] == "max_iterations 3 reached"


def test_curriculum_switches_to_the_randomized_simulators_and_only_their_evaluation_counts(tmp_path, monkeypatch):
    """curriculum.randomize_after_eval on the GPU trainer. The evaluation's verdict is forced (an
    untrained policy never laps): the nominal evaluation passing in iteration 1 switches the rollout
    to simulators with the randomization and does NOT stop training; the randomized one in
    iteration 2 stops it at the target."""
    from deepracer_agent import evaluate, torch_train

    seen = []

    def fake_eval(model, cfg, track, seed=0, **kw):       # deepracer train's evaluation, scripted
        seen.append(cfg.sim_config().randomization.motion_blur.enabled)
        return {"success_rate": 1.0, "mean_completion": 100.0, "mean_lap_time_s": 9.0}

    built = []
    real_rollout = torch_train._Rollout

    def spy_rollout(cfg, *a, **kw):
        built.append(cfg.sim_config().randomization.motion_blur.enabled)
        return real_rollout(cfg, *a, **kw)

    monkeypatch.setattr(evaluate, "quick_robust_eval", fake_eval)
    monkeypatch.setattr(torch_train, "_Rollout", spy_rollout)
    run = tmp_path / "run"
    cfg = load_config(None, TINY + ["stop.max_iterations=5", "stop.target_eval_completion=0.9",
                                    "curriculum.randomize_after_eval=0.8", "sim.randomization.motion_blur.enabled=true"])
    result = train(cfg, run, progress_bar=False, log=None)
    assert built == [False, True]                  # nominal first, then the full config's simulators
    assert seen == [False, True]                   # each evaluation ran under its phase's config
    assert result.iterations == 2 and result.stop_reason.startswith("robust evaluation reached 100%")
    rows = list(csv.DictReader(open(run / "metrics.csv")))
    assert [r["iteration"] for r in rows] == ["1", "2"]


SIM2REAL = ["sim.randomization.augmentation.enabled=true", "sim.randomization.action_noise.enabled=true"]


def test_rollout_runs_with_augmentation_and_action_noise():
    """The paper's sim-to-real randomization (once refused by the torch simulator) in the GPU
    trainer's rollout: the augmented observations differ from the clean ones of the same cars."""
    import torch

    _, roll = _rollout(SIM2REAL + ["sim.randomization.augmentation.probability=1.0"])
    _, clean = _rollout([])
    assert roll.sim._aug is not None and roll.sim._act_noise is not None
    for r in (roll, clean):
        r.step(torch.full((6,), 5))
    assert roll.obs.shape == clean.obs.shape == (6, 1, 120, 160)
    assert not torch.equal(roll.obs, clean.obs)


@pytest.mark.slow
def test_cpu_torch_trains_with_augmentation_and_action_noise(tmp_path):
    run = tmp_path / "run"
    result = train(load_config(None, TINY + ["stop.max_iterations=1"] + SIM2REAL), run,
                   progress_bar=False, log=None)
    assert result.iterations == 1 and result.steps == 12
    assert "augmentation" in (run / "config.resolved.yaml").read_text()


def test_the_sim2real_preset_runs_in_the_gpu_trainers_rollout():
    """Every randomization of `configs/sim2real.yaml` (camera pose with fisheye, lighting, colours,
    latency, actuation, texture, shadow, sensor noise, blur, action noise, the five augmentations)
    on the torch simulator: the rollout steps and gives frames and rewards."""
    import torch

    from deepracer_agent.config import shipped_config
    from deepracer_agent.torch_train import _Rollout

    cfg = load_config(str(shipped_config("sim2real")), ["device=cpu-torch", "n_envs=3"])
    assert {"augmentation", "action_noise", "camera_pose", "latency"} <= set(cfg.sim_config().randomization.enabled_names)
    roll = _Rollout(cfg, torch.device("cpu"), False)
    for _ in range(4):
        r, done, _ = roll.step(torch.randint(0, 10, (3,)))
        assert r.shape == (3,) and torch.isfinite(r).all()
    assert roll.obs.shape == (3, 1, 120, 160) and 0 < float(roll.obs.float().mean()) < 255


@pytest.mark.slow
def test_the_sim2real_gpu_preset_trains_on_cpu_torch_and_its_checkpoint_evaluates(tmp_path):
    """`--config sim2real_gpu` as CI can run it (device=cpu-torch, a few cars): one iteration under
    every randomization, a checkpoint that `deepracer evaluate` scores under the run's randomization."""
    from deepracer_agent.config import shipped_config
    from deepracer_agent.evaluate import evaluate

    run = tmp_path / "run"
    cfg = load_config(str(shipped_config("sim2real_gpu")),
                      ["device=cpu-torch", "n_envs=4", "ppo.n_steps=4", "hyperparameters.batch_size=8",
                       "hyperparameters.num_epochs=1", "stop.max_iterations=1", "checkpoints.every_s=null",
                       "model_metadata.neural_network=DEEP_CONVOLUTIONAL_NETWORK_DEEP"])
    result = train(cfg, run, progress_bar=False, log=None)
    assert result.iterations == 1 and result.steps == 16
    out = evaluate([run], trials=2, naive=False, max_steps=30, workers=1, log=None, simtrace=False)
    assert not out["errors"] and len(out["rows"]) == 2


def test_bench_torch_sim_rollout_lines_on_the_cpu(capsys):
    """bench/bench_torch_sim.py --rollout (the BENCHMARKS.md command): one line for the preset as is,
    one with its randomization off and one per family alone, each with env steps/s and resets."""
    import re

    from bench_scripts import load_bench

    mod = load_bench("bench_torch_sim")
    mod.main(["--device", "cpu", "--cars", "3", "--rollout", "sim2real_gpu", "--families", "--steps", "2",
              "--warmup", "1", "--set", "episode.max_steps=2"])
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("rollout ")]
    cases = [re.search(r"case=(\S+)", ln).group(1) for ln in lines]
    from deepracer_agent.config import shipped_config

    enabled = load_config(str(shipped_config("sim2real_gpu"))).sim_config().randomization.enabled_names
    assert cases == ["as_is", "none", *enabled] and "camera_pose" in cases
    for ln in lines:                     # episode.max_steps=2: every car resets within the timed steps
        assert float(re.search(r"env_steps_per_s=([\d,.]+)", ln).group(1).replace(",", "")) > 0
        assert float(re.search(r"resets_per_step=([\d.]+)", ln).group(1)) > 0
    mod.main(["--device", "cpu", "--cars", "4", "--rollout", "sim2real_gpu", "--reset-cars", "2", "--iters", "1",
              "--repeats", "1"])
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("resets config=sim2real_gpu device=cpu cars=4 reset_cars=2 ms_per_reset=")
