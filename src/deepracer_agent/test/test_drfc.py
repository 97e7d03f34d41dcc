"""DRfC / console files accepted unchanged: DRfC's default hyperparameters.json and 15 varied
model_metadata.json files (discrete, continuous, SAC, stereo, LIDAR, versions 1-5, strings for numbers)."""
import json
from pathlib import Path

import pytest

from deepracer_agent.config import ConfigError, load_config
from deepracer_agent.drfc import hyperparameter_overrides, load_files, model_metadata_dict
from deepracer_inference.metadata import ModelMetadata

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "drfc"
METADATA = sorted((FIXTURES / "model_metadata").glob("*.json"))


def test_fifteen_model_metadata_files():
    assert len(METADATA) == 15


def test_drfc_default_hyperparameters_are_used_and_sac_alpha_is_read(capsys):
    warnings = []
    cfg = load_config(None, load_files(FIXTURES / "hyperparameters.json", None, warn=warnings.append))
    hp = cfg.hyperparameters
    assert (hp.batch_size, hp.num_epochs, hp.lr, hp.beta_entropy, hp.discount_factor) == (64, 10, 3e-4, 0.01, 0.99)
    assert (hp.loss_type, hp.exploration_type, hp.num_episodes_between_training) == ("huber", "categorical", 20)
    assert (hp.term_cond_avg_score, hp.term_cond_max_episodes, hp.stack_size) == (350.0, 1000, 1)
    assert hp.sac_alpha == 0.2 and warnings == []          # SAC's temperature, used when training SAC


def test_lenient_hyperparameter_forms():
    warnings = []
    out = hyperparameter_overrides({"batch_size": "128", "lr": "3e-4", "loss_type": "mean squared error",
                                    "exploration_type": "Categorical", "num_epochs": 5.0, "bogus_key": 1},
                                   warn=warnings.append)
    assert out == {"batch_size": 128, "lr": 3e-4, "loss_type": "mean_squared_error",
                   "exploration_type": "categorical", "num_epochs": 5}
    assert len(warnings) == 1 and "bogus_key" in warnings[0]
    with pytest.raises(ConfigError, match=r"batch_size: expected a whole number"):
        hyperparameter_overrides({"batch_size": "64.5"})
    with pytest.raises(ConfigError, match=r"lr: expected a number, got 'fast'"):
        hyperparameter_overrides({"lr": "fast"})


@pytest.mark.parametrize("path", METADATA, ids=[p.stem for p in METADATA])
def test_each_model_metadata_file_is_accepted(path):
    raw = json.loads(path.read_text())
    warnings = []
    meta = ModelMetadata.from_dict(model_metadata_dict(raw, source=path.name, warn=warnings.append))
    sensors = [s.upper() for s in raw.get("sensor", [])]
    unbuilt = {"STEREO_CAMERAS", "LIDAR", "SECTOR_LIDAR"} & set(sensors)
    version = float(raw.get("version", 2 if "sensor" in raw else 1))
    # one line per thing not built, naming it
    for s in unbuilt:
        assert any(s in w for w in warnings)
    assert any("physics" in w for w in warnings) == (version < 3)
    assert len(warnings) == (bool(unbuilt and version >= 2) + (version < 3) + (version < 2 and "sensor" in raw))
    # what is trained is what the run's file says
    assert meta.sensor == ("FRONT_FACING_CAMERA",)
    assert meta.training_algorithm == str(raw.get("training_algorithm", "clipped_ppo")).lower()  # sac trains SAC
    space = raw["action_space"]
    if isinstance(space, list):
        assert meta.is_discrete and meta.n_actions == len(space)
        assert [a.steering_angle_deg for a in meta.actions] == [float(a["steering_angle"]) for a in space]
        assert [a.speed_m_s for a in meta.actions] == [float(a["speed"]) for a in space]
    else:
        assert not meta.is_discrete
        assert meta.speed_range_m_s == (float(space["speed"]["low"]), float(space["speed"]["high"]))
    if "neural_network" in raw:                 # read at every version, as simapp does
        assert meta.neural_network == raw["neural_network"].upper()
    else:
        assert meta.neural_network == "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW"


def test_a_broken_file_is_one_clear_line(tmp_path):
    bad = tmp_path / "model_metadata.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match=r"--model-metadata .*model_metadata.json: not valid JSON"):
        load_files(None, bad)
    bad.write_text(json.dumps({"action_space": [{"steering_angle": "left", "speed": 1}]}))
    with pytest.raises(ConfigError, match=r"action_space\[0\].steering_angle: expected a number, got 'left'"):
        load_files(None, bad, warn=lambda _: None)
    with pytest.raises(ConfigError, match="file not found"):
        load_files(tmp_path / "missing.json", None)


@pytest.mark.slow   # a real (short) training run from DRfC's files
def test_deepracer_train_trains_from_drfc_default_files(tmp_path, capsys):
    from deepracer_agent.commands.train import main
    from deepracer_agent.train import read_metrics

    run = tmp_path / "run"
    rc = main(["--hyperparameters", str(FIXTURES / "hyperparameters.json"),
               "--model-metadata", str(METADATA[0]), "--run-dir", str(run), "--no-progress-bar",
               "n_envs=2", "ppo.n_steps=32", "stop.max_iterations=1", "torch_threads=1"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    rows = read_metrics(run)
    assert len(rows) == 1 and rows[0]["steps"] == 64
    saved = json.loads((run / "model" / "model_metadata.json").read_text())
    assert len(saved["action_space"]) == 5 and saved["version"] == "5"
    hp = json.loads((run / "ip" / "hyperparameters.json").read_text())
    assert hp["batch_size"] == 64 and hp["loss_type"] == "huber" and hp["discount_factor"] == 0.99
