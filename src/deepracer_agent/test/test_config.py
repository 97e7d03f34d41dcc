"""TrainConfig: defaults, YAML + overrides, and the error messages for bad input (key named)."""
from pathlib import Path

import pytest
import yaml

from deepracer_agent.config import (ConfigError, TrainConfig, apply_overrides, check_inputs, load_config,
                                    shipped_config)
from deepracer_agent.commands.train import main as train_main


def test_defaults_are_deepracers_and_round_trip():
    cfg = TrainConfig()
    hp = cfg.hyperparameters
    assert (hp.batch_size, hp.num_epochs, hp.lr, hp.beta_entropy, hp.discount_factor, hp.loss_type,
            hp.num_episodes_between_training) == (64, 10, 3e-4, 0.01, 0.999, "mean_squared_error", 20)
    assert (cfg.ppo.clip_range, cfg.ppo.gae_lambda, cfg.ppo.n_steps) == (0.2, 0.95, "auto")
    again = TrainConfig.from_dict(yaml.safe_load(yaml.safe_dump(cfg.to_dict())))
    assert again.to_dict() == cfg.to_dict()
    assert cfg.metadata().n_actions == 10


def test_shipped_configs_load():
    for name in ("default", "demo", "demo_gpu", "racing_gpu", "sim2real", "sim2real_gpu", "continuous", "sac"):
        cfg = load_config(shipped_config(name))
        check_inputs(cfg)
    racing = load_config(shipped_config("racing_gpu"))     # the GPU presets: device=cuda, the racing one fast
    assert racing.device == "cuda" and racing.sim_config().dynamics == "dynamic"
    assert max(a.speed_m_s for a in racing.metadata().actions) == 4.0
    assert load_config(shipped_config("demo_gpu")).checkpoints.every_s == 1.0
    # sim2real_gpu: sim2real's randomization exactly, demo_gpu's learning settings
    s2r, s2r_gpu, gpu = (load_config(shipped_config(n)) for n in ("sim2real", "sim2real_gpu", "demo_gpu"))
    assert s2r_gpu.sim == s2r.sim and s2r_gpu.device == "cuda"
    assert (s2r_gpu.n_envs, s2r_gpu.ppo.n_steps, s2r_gpu.hyperparameters) == (gpu.n_envs, gpu.ppo.n_steps,
                                                                             gpu.hyperparameters)
    for name, algorithm in (("continuous", "clipped_ppo"), ("sac", "sac")):
        meta = load_config(shipped_config(name)).metadata()
        assert (meta.action_space_type, meta.training_algorithm) == ("continuous", algorithm)
        assert (meta.steering_range_deg, meta.speed_range_m_s) == ((-30.0, 30.0), (0.5, 1.0))
    assert load_config(shipped_config("continuous")).ppo.continuous_policy == "squashed"   # tanh(mean) at the car
    sac = load_config(shipped_config("sac")).sac      # the one SAC recipe that learned (BENCHMARKS.md 1b)
    assert (sac.image_shift_px, sac.auto_alpha, sac.gradient_steps, sac.train_freq) == (4, True, 2, 1)
    assert load_config(shipped_config("demo")).stop.target_eval_completion == 0.9
    with pytest.raises(ConfigError, match="did you mean 'demo'"):
        shipped_config("dmeo")


def test_overrides_set_nested_keys_with_yaml_values(tmp_path):
    cfg = load_config(None, ["hyperparameters.lr=1e-3", "n_envs=8", "sim.dynamics=dynamic",
                             "episode.direction=alternate", "stop.max_steps=500", "regularisation.batch_norm=true",
                             "model_metadata.neural_network=DEEP_CONVOLUTIONAL_NETWORK_DEEP"])
    assert cfg.hyperparameters.lr == pytest.approx(1e-3)      # "1e-3" is a string in YAML 1.1: coerced
    assert cfg.n_envs == 8 and cfg.stop.max_steps == 500 and cfg.regularisation.batch_norm is True
    assert cfg.sim_config().dynamics == "dynamic"
    assert cfg.episode_config().direction == "alternate"
    meta = cfg.metadata()
    assert meta.neural_network == "DEEP_CONVOLUTIONAL_NETWORK_DEEP" and meta.n_actions == 10
    assert apply_overrides({"a": {"b": 1}}, ["a.c=2"]) == {"a": {"b": 1, "c": 2}}


@pytest.mark.parametrize("override, expected", [
    ("hyperparameters.num_epoch=3", r"hyperparameters\.num_epoch: unknown key \(did you mean 'num_epochs'\?\)"),
    ("n_env=3", r"n_env: unknown key \(did you mean 'n_envs'\?\)"),
    ("hyperparameters.batch_size=big", r"hyperparameters\.batch_size: expected an integer, got 'big'"),
    ("hyperparameters.lr=-0.1", r"hyperparameters\.lr: must be > 0"),
    ("hyperparameters.discount_factor=1.5", r"hyperparameters\.discount_factor: must be <= 1"),
    ("hyperparameters.loss_type=hubber", r"hyperparameters\.loss_type: must be one of .*did you mean 'huber'"),
    ("n_envs=0", r"n_envs: must be >= 1, got 0"),
    ("stop.max_wall_time_s=fast", r"stop\.max_wall_time_s: expected a number"),
    ("regularisation.batch_norm=3", r"regularisation\.batch_norm: expected true or false"),
    ("sim.dynamic=dynamic", r"sim\.dynamic: unknown key \(did you mean 'dynamics'\?\)"),
    ("sim.dynamics=warp", r"sim\.dynamics: must be one of"),
    ("sim.randomization.lighting.enabeld=true", r"sim\.randomization\.lighting\.enabeld: unknown key \(did you mean 'enabled'"),
    ("episode.max_step=10", r"episode\.max_step: unknown key \(did you mean 'max_steps'\?\)"),
    ("episode.direction=sideways", r"episode.*direction"),
    ("model_metadata.neural_network=BIG_NET", r"model_metadata.*neural_network"),
    ("hyperparameters=3", r"hyperparameters: expected a mapping"),
    ("ppo.n_steps=many", r"ppo\.n_steps: expected an integer or 'auto'"),
])
def test_bad_values_name_the_key(override, expected):
    with pytest.raises(ConfigError, match=expected):
        load_config(None, [override])


def test_bad_override_syntax():
    with pytest.raises(ConfigError, match="expected key.sub=value"):
        load_config(None, ["hyperparameters.lr"])


def test_yaml_file_errors_name_the_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("hyperparameters: [1, 2\n")
    with pytest.raises(ConfigError, match="broken.yaml: not valid YAML"):
        load_config(broken)
    typo = tmp_path / "typo.yaml"
    typo.write_text("hyperparameters:\n  learning_rte: 0.1\n")
    with pytest.raises(ConfigError, match=r"hyperparameters\.learning_rte: unknown key.*\(in .*typo.yaml\)"):
        load_config(typo)


def test_relative_reward_path_resolves_against_the_config_file(tmp_path):
    (tmp_path / "r.py").write_text("def reward_function(params):\n    return 1.0\n")
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text("reward_file: r.py\n")
    cfg = load_config(cfg_file)
    assert Path(cfg.reward_file) == tmp_path / "r.py"
    _, reward = check_inputs(cfg)
    assert reward({}) == 1.0


def test_missing_or_broken_reward_and_track_fail_fast(tmp_path):
    with pytest.raises(ConfigError, match=r"reward_file: reward file .*nope\.py: not found"):
        check_inputs(load_config(None, [f"reward_file={tmp_path / 'nope.py'}"]))
    bad = tmp_path / "bad.py"
    bad.write_text("def reward_function(params)\n    return 1.0\n")
    with pytest.raises(ConfigError, match=r"reward_file: .*bad\.py: syntax error at line 1"):
        check_inputs(load_config(None, [f"reward_file={bad}"]))
    with pytest.raises(ConfigError, match=r"track: unknown track 'no_such_track'"):
        check_inputs(load_config(None, ["track=no_such_track"]))


def test_cli_rejects_bad_input_before_building_anything(tmp_path, capsys):
    run = tmp_path / "run"
    assert train_main(["--run-dir", str(run), "hyperparameters.lr=-1"]) == 2
    assert "hyperparameters.lr: must be > 0" in capsys.readouterr().err
    assert train_main(["--run-dir", str(run), f"reward_file={tmp_path / 'missing.py'}"]) == 2
    assert "missing.py: not found" in capsys.readouterr().err
    assert not run.exists()


def test_decoupled_cli_flags_are_validated_before_anything_starts(tmp_path, capsys):
    from deepracer_agent.commands.train import main

    assert main(["--decoupled", "--workers", "0", "--run-dir", str(tmp_path / "run")]) == 2
    assert "--workers: needs at least 1" in capsys.readouterr().err
    assert main(["--workers", "3", "--run-dir", str(tmp_path / "run")]) == 2
    assert "only apply with --decoupled" in capsys.readouterr().err
    assert main(["--decoupled", "--run-dir", str(tmp_path / "run"), "hyperparameters.lrr=1"]) == 2
    assert "did you mean 'lr'" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()   # nothing was started or written


def test_numbers_in_any_yaml_form_behave_the_same_in_every_section(tmp_path):
    # one schema (deepracer_common.options) under hyperparameters.*, sim.*, episode.*, stop.*
    f = tmp_path / "c.yaml"
    f.write_text("hyperparameters:\n  lr: 3e-1\n  num_epochs: 1e1\nstop:\n  max_wall_time_s: 6e2\n  max_steps: 1_000\n"
                 "sim:\n  throttle_time_constant_s: 5e-2\n  randomization:\n    lighting:\n      gamma: 3e-1\n"
                 "episode:\n  max_steps: 6e2\n  start_advance_fraction: 5e-2\n")
    cfg = load_config(f, ["sim.mass_kg=2", "episode.immobilized_distance_m=3e-4"])
    assert cfg.hyperparameters.lr == 0.3 and cfg.hyperparameters.num_epochs == 10
    assert cfg.stop.max_wall_time_s == 600.0 and cfg.stop.max_steps == 1000
    assert cfg.sim_config().throttle_time_constant_s == 0.05 and cfg.sim_config().mass_kg == 2.0
    assert cfg.sim_config().randomization.lighting.gamma == 0.3
    ep = cfg.episode_config()
    assert (ep.max_steps, ep.start_advance_fraction, ep.immobilized_distance_m) == (600, 0.05, 3e-4)
    # the resolved config keeps numbers, not the strings PyYAML 1.1 would have kept
    assert cfg.to_dict()["episode"] == {"max_steps": 600, "start_advance_fraction": 0.05,
                                        "immobilized_distance_m": 3e-4}
    assert cfg.to_dict()["sim"]["randomization"] == {"lighting": {"gamma": 0.3}}
    # Python callers passing a YAML-1.1 string get the same value
    assert TrainConfig.from_dict({"hyperparameters": {"lr": "3e-1"}, "sim": {"mass_kg": "1.5e0"}}).sim["mass_kg"] == 1.5


def test_bad_config_file_content_is_one_line_naming_the_file(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_bytes(b"hyperparameters:\n  lr: \xff\n")
    with pytest.raises(ConfigError, match=r"config file .*c.yaml: not UTF-8 text") as err:
        load_config(f)
    assert "\n" not in str(err.value)
    f.write_text("sim:\n  randomization:\n    shadow: {darkness_min: 0.9, darkness_max: 0.1}\n")
    with pytest.raises(ConfigError, match=r"^sim.randomization.shadow.darkness_min: must be <= darkness_max \(in "):
        load_config(f)
