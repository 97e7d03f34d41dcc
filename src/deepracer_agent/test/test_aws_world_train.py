"""``deepracer train track=aws:NAME``: a short training on an official AWS world (shared/aws_worlds)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest


def _aws_worlds() -> Path:
    env = os.environ.get("DEEPRACER_SHARED")
    bases = [Path(env)] if env else [p / "shared" for p in Path(__file__).resolve().parents]
    for base in bases:
        if (base / "aws_worlds" / "bundle" / "worlds").is_dir():
            return base / "aws_worlds"
    pytest.skip("shared/aws_worlds not found: set DEEPRACER_SHARED or put shared/ beside the repository")


@pytest.mark.slow
def test_train_on_reinvent_base_world(tmp_path):
    env = dict(os.environ, DEEPRACER_SIMAPP_DIR=str(_aws_worlds()))
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "deepracer_common.cli", "train", "--run-dir", str(run), "--no-progress-bar", "track=aws:reinvent_base",
           "n_envs=2", "ppo.n_steps=32", "hyperparameters.num_epochs=1", "hyperparameters.batch_size=32",
           "stop.max_iterations=1", "evaluation.trials=1", "evaluation.max_steps=30", "torch_threads=1",
           "model_metadata.neural_network=DEEP_CONVOLUTIONAL_NETWORK_DEEP"]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert (run / "iter_000001.zip").is_file() or list(run.rglob("iter_000001.zip"))
    assert "aws:reinvent_base" in (run / "config.resolved.yaml").read_text()


def test_train_without_the_simapp_dir_says_what_to_set(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DEEPRACER_SIMAPP_DIR"}
    r = subprocess.run([sys.executable, "-m", "deepracer_common.cli", "train", "--run-dir", str(tmp_path / "run"),
                        "track=aws:reinvent_base"], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 2 and "DEEPRACER_SIMAPP_DIR" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "run" / "iter_000001.zip").exists()


@pytest.mark.parametrize("name", ["reinvent_base", "Oval_track", "Bowtie_track", "AWS_track", "Straight_track"])
def test_training_env_steps_on_every_shared_world(name, monkeypatch):
    """The env `deepracer train` builds runs on each world: images of the world, rewards, episode ends."""
    import warnings

    import numpy as np

    from deepracer_agent.batch import DeepRacerBatch

    monkeypatch.setenv("DEEPRACER_SIMAPP_DIR", str(_aws_worlds()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        env = DeepRacerBatch(track=f"aws:{name}", n_cars=2, seed=0)
    assert env.track.world is not None and env.sim.texture.style == env.track.world.style()
    obs = env.reset_all()
    rng = np.random.default_rng(0)
    n_actions = len(env.metadata.actions) if hasattr(env.metadata, "actions") else 5
    rewards = []
    for _ in range(40):
        obs, reward, done, *_ = env.step(rng.integers(0, n_actions, 2))
        rewards.append(reward)
    assert np.isfinite(np.array(rewards)).all() and obs.dtype == np.uint8 and obs.std() > 5
