"""``deepracer train``: a tiny run's folder, the rollout-length mapping, resume after SIGKILL."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import pytest

from deepracer_agent.config import load_config
from deepracer_agent.train import (METRIC_FIELDS, TrainError, complete_checkpoints, read_metrics,
                                   rollout_n_steps, train)

pytestmark = pytest.mark.slow   # > 20 s per test on the 2-core CI machine (make test-fast skips it)

TINY = ["n_envs=2", "ppo.n_steps=32", "hyperparameters.num_epochs=1", "hyperparameters.batch_size=32"]
SMALL_NET = "model_metadata.neural_network=DEEP_CONVOLUTIONAL_NETWORK_DEEP"   # ~20 MB checkpoints


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("train") / "run"
    cfg = load_config(None, TINY + ["stop.max_iterations=2", "stop.target_eval_completion=1.0",
                                    "evaluation.trials=2", "evaluation.max_steps=60", "torch_threads=1"])
    scratch = tmp_path_factory.mktemp("tmpdir")
    saved, tempfile.tempdir = tempfile.tempdir, str(scratch)   # where SB3 would make SB3-<date> folders
    try:
        result = train(cfg, run, progress_bar=False, log=None)
    finally:
        tempfile.tempdir = saved
    assert not list(scratch.glob("SB3-*")), "training left an SB3 logger folder in the temp dir"
    return run, result


def test_tiny_run_writes_the_run_folder(tiny_run):
    from deepracer_agent.checkpoint import make_policy, read
    from deepracer_inference.metadata import ModelMetadata

    run, result = tiny_run
    assert result.iterations == 2 and result.steps == 2 * 2 * 32
    assert "max_iterations" in result.stop_reason
    ckpts = complete_checkpoints(run)
    assert [p.name for p, _ in ckpts] == ["iter_000001.zip", "iter_000002.zip"]
    assert [s["steps"] for _, s in ckpts] == [64, 128]
    assert ckpts[0][1]["wall_time_s"] < ckpts[1][1]["wall_time_s"]
    ckpt = read(ckpts[-1][0])
    assert ckpt.num_timesteps == 128 and ckpt.header["training"]["iteration"] == 2
    assert make_policy(ckpt).action_space.n == 10
    meta = ModelMetadata.load(run / "model_metadata.json")
    assert meta.n_actions == 10 and meta.neural_network == "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW"
    assert load_config(run / "config.resolved.yaml").to_dict() == load_config(None, TINY + [
        "stop.max_iterations=2", "stop.target_eval_completion=1.0", "evaluation.trials=2",
        "evaluation.max_steps=60", "torch_threads=1"]).to_dict()
    rows = read_metrics(run)
    assert [r["iteration"] for r in rows] == [1, 2]
    for row in rows:
        assert set(METRIC_FIELDS) <= set(row)
        assert row["entropy"] > 0 and row["value_loss"] is not None and row["env_steps_per_s"] > 0
        assert 0.0 <= row["eval_completion_rate"] <= 1.0
    csv_lines = (run / "metrics.csv").read_text().splitlines()
    assert csv_lines[0].split(",") == list(METRIC_FIELDS) and len(csv_lines) == 3
    assert (run / "training_progress.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert list((run / "tensorboard").rglob("events.out.tfevents*"))
    assert json.loads((run / "status.json").read_text())["state"] == "finished"
    assert not list(run.rglob(".*tmp*"))


def test_a_used_run_folder_needs_resume(tiny_run):
    run, _ = tiny_run
    with pytest.raises(TrainError, match="pass --resume"):
        train(load_config(None, TINY), run, progress_bar=False, log=None)


def test_rollout_length_follows_episodes_between_training():
    cfg = load_config(None, ["n_envs=4", "hyperparameters.num_episodes_between_training=20"])
    assert rollout_n_steps(cfg, None) == 160               # 20 episodes x 30 steps / 4 cars = 150 -> 160 (x 64)
    assert rollout_n_steps(cfg, 100.0) == 512               # 500 -> multiple of 16 per car
    assert rollout_n_steps(cfg, 1e6) == cfg.ppo.max_n_steps
    assert rollout_n_steps(load_config(None, ["ppo.n_steps=77"]), 100.0) == 77


def _train_cmd(run, *overrides):
    return [sys.executable, "-m", "deepracer_agent.commands.train", "--run-dir", str(run), "--no-progress-bar",
            *overrides]


def test_resume_after_sigkill_continues_from_the_last_complete_checkpoint(tmp_path):
    from deepracer_agent.checkpoint import read

    run = tmp_path / "run"
    args = TINY + [SMALL_NET, "hyperparameters.loss_type=huber", "stop.max_iterations=200", "torch_threads=1"]
    proc = subprocess.Popen(_train_cmd(run, *args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not (run / "checkpoints" / "iter_000002.json").exists():
            assert proc.poll() is None, proc.stdout.read().decode()
            assert time.monotonic() < deadline, "no checkpoint within 120 s"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdout.close()
    last = complete_checkpoints(run)[-1][1]["iteration"]
    assert last >= 2
    # What a kill can leave behind: a half-written temp zip, a zip without its sidecar, a torn metrics line.
    (run / "checkpoints" / ".iter_000099.tmp-1.zip").write_bytes(b"PK\x03\x04 half")
    (run / "checkpoints" / f"iter_{last + 1:06d}.zip").write_bytes(b"PK\x03\x04 torn")
    with open(run / "metrics.jsonl", "a") as fh:
        fh.write('{"iteration": 9')

    out = subprocess.run(_train_cmd(run, "--resume", f"stop.max_iterations={last + 2}"),
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"resuming from iter_{last:06d}.zip (iteration {last}" in out.stdout
    ckpts = complete_checkpoints(run)
    assert [s["iteration"] for _, s in ckpts] == list(range(1, last + 3))
    steps = [s["steps"] for _, s in ckpts]
    assert steps == [64 * i for i in range(1, last + 3)]
    walls = [s["wall_time_s"] for _, s in ckpts]
    assert walls == sorted(walls)
    assert [r["iteration"] for r in read_metrics(run)] == list(range(1, last + 3))
    ckpt = read(ckpts[-1][0])
    assert ckpt.num_timesteps == steps[-1]
    assert ckpt.train_config().hyperparameters.loss_type == "huber"
    assert (run / "checkpoints" / "invalid" / f"iter_{last + 1:06d}.zip").read_bytes() == b"PK\x03\x04 torn"
    assert "setting aside 1 invalid checkpoint" in out.stdout


def test_train_tracks_rotate_one_per_iteration(tmp_path):
    cfg = load_config(None, TINY + [SMALL_NET, "stop.max_iterations=3", "train_tracks=[oval, technical]",
                                    "torch_threads=1"])
    result = train(cfg, tmp_path / "run", progress_bar=False, log=None)
    assert [r["track"] for r in result.metrics] == ["oval", "technical", "oval"]
    assert result.steps == 3 * 64


def test_curriculum_turns_randomization_on_after_nominal_competence(tmp_path, monkeypatch):
    """curriculum.randomize_after_eval: nominal cars and evaluation until it is reached, then new cars with
    sim.randomization and an evaluation under it, the only one that counts for the stop target. The
    evaluation's scores are scripted (a tiny run cannot lap); what is checked is what the loop does with them."""
    from deepracer_agent import evaluate

    calls = []
    scores = iter([1.0, 0.5, 1.0])

    def scripted_eval(model, cfg, track, seed=0, **kw):
        calls.append((cfg.sim_config().randomization.enabled_names,
                      model.env.batch.sim_config.randomization.enabled_names))
        return {"success_rate": next(scores), "mean_completion": 50.0, "mean_lap_time_s": None}

    monkeypatch.setattr(evaluate, "quick_robust_eval", scripted_eval)
    cfg = load_config(None, TINY + [SMALL_NET, "stop.max_iterations=6", "stop.target_eval_completion=0.9",
                                    "curriculum.randomize_after_eval=0.9", "torch_threads=1",
                                    "sim.randomization.latency.enabled=true",
                                    "sim.randomization.lighting={enabled: true, invert_probability: 0.5}"])
    lines = []
    result = train(cfg, tmp_path / "run", progress_bar=False, log=lines.append)
    assert calls == [([], []), (["lighting", "latency"], ["lighting", "latency"]),
                     (["lighting", "latency"], ["lighting", "latency"])]
    assert [r["randomized"] for r in result.metrics] == [False, True, True]
    assert result.stop_reason.startswith("robust evaluation reached 100%") and result.iterations == 3
    assert any(line.startswith("curriculum: nominal robust evaluation 100% >= 90%: sim.randomization on from "
                               "iteration 2") for line in lines)
    # the checkpoints carry the full config (evaluation and selection afterwards randomise)
    from deepracer_agent.checkpoint import read

    first = read(tmp_path / "run" / "checkpoints" / "iter_000001.zip").train_config()
    assert first.sim_config().randomization.enabled_names == ["lighting", "latency"]


def test_curriculum_without_a_stop_target_still_evaluates_and_switches(tmp_path, monkeypatch):
    """curriculum.randomize_after_eval alone (no stop.target_eval_completion) used to run no
    evaluation at all, so the randomization never came on. Scripted scores, as above."""
    from deepracer_agent import evaluate

    monkeypatch.setattr(evaluate, "quick_robust_eval", lambda model, cfg, track, seed=0, **kw:
                        {"success_rate": 1.0, "mean_completion": 100.0, "mean_lap_time_s": None})
    cfg = load_config(None, TINY + [SMALL_NET, "stop.max_iterations=2", "curriculum.randomize_after_eval=0.9",
                                    "torch_threads=1", "sim.randomization.latency.enabled=true"])
    result = train(cfg, tmp_path / "run", progress_bar=False, log=None)
    assert [r["randomized"] for r in result.metrics] == [False, True]
    assert result.stop_reason == "max_iterations 2 reached"
