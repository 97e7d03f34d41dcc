"""The logs the DeepRacer community reads: a real run folder loaded by deepracer-utils (DeepRacerLog,
AnalysisUtils.simulation_agg, TrainingMetrics), numbers checked against the run's own metrics, and a
lap's simtrace against the env's own lap time and progress."""
import csv
import json
import os
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("deepracer.logs", reason="deepracer-utils (a test dependency) is not installed")
from deepracer.logs import AnalysisUtils, DeepRacerLog  # noqa: E402
from deepracer.logs.metrics import TrainingMetrics  # noqa: E402
from deepracer.logs.misc import LogFolderType  # noqa: E402

from deepracer_agent.aws_logs import training_metrics_path  # noqa: E402
from deepracer_agent.config import load_config  # noqa: E402
from deepracer_agent.evaluate import EVAL_CSV, evaluate, read_trials  # noqa: E402
from deepracer_agent.simtrace import SIMTRACE_COLUMNS, SimtraceLog, attach, read_metrics_json  # noqa: E402
from deepracer_agent.train import read_metrics, train  # noqa: E402

RUN_ARGS = ["n_envs=2", "ppo.n_steps=64", "hyperparameters.num_epochs=1", "hyperparameters.batch_size=32",
            "model_metadata.neural_network=DEEP_CONVOLUTIONAL_NETWORK_DEEP", "stop.max_iterations=3",
            "torch_threads=1"]


def shared_dir() -> Path | None:
    """The workspace's shared/ folder: $DEEPRACER_SHARED, else the first ``shared/`` beside a parent."""
    if os.environ.get("DEEPRACER_SHARED"):
        return Path(os.environ["DEEPRACER_SHARED"])
    for parent in Path(__file__).resolve().parents:
        if (parent.parent / "shared").is_dir():
            return parent.parent / "shared"
    return None


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    run = tmp_path_factory.mktemp("community") / "run"
    train(load_config(None, RUN_ARGS), run, progress_bar=False, log=None)
    evaluate([run / "checkpoints" / "iter_000003.zip"], trials=2, max_steps=80, workers=1, log=None)
    return run


@pytest.mark.slow   # the module's run folder: ~20 s of training and evaluation
def test_deepracer_utils_reads_the_training_trace(run_dir):
    log = DeepRacerLog(str(run_dir))
    assert log.fh.type == LogFolderType.DRFC_MODEL_SINGLE_WORKERS
    log.load_training_trace()
    df = log.dataframe()
    assert list(pd_columns(run_dir / "training-simtrace" / "0-iteration.csv")) == list(SIMTRACE_COLUMNS)
    assert log.action_space() == json.loads((run_dir / "model_metadata.json").read_text())["action_space"]
    assert log.hyperparameters()["batch_size"] == 32
    rows = read_metrics(run_dir)
    assert sorted(df["iteration"].unique()) == [0, 1, 2]
    agg = AnalysisUtils.simulation_agg(df)
    # one aggregate row per finished episode, as many per iteration as the run counted
    assert len(agg) == rows[-1]["episodes_total"]
    for row in rows:
        it = agg[agg["iteration"] == row["iteration"] - 1]
        assert len(it) == row["episodes"]
        assert it["reward"].mean() == pytest.approx(row["mean_reward"], rel=1e-4)
        last = df[df["iteration"] == row["iteration"] - 1].groupby("episode").last()
        assert last["progress"].mean() == pytest.approx(row["mean_progress"], abs=1e-3)
        assert (it["steps"] - 1).mean() == pytest.approx(row["mean_episode_steps"])   # agg counts the prepare row
    assert np.allclose(agg["time"], (agg["steps"] - 1) / 15.0, atol=1e-3)       # simulated seconds
    statuses = set(df["episode_status"])
    assert "prepare" in statuses and statuses <= {"prepare", "in_progress", "off_track", "lap_complete",
                                                  "immobilized", "reversed", "time_up"}
    assert (df.groupby("episode")["done"].sum() == 1).all()


def pd_columns(path):
    with open(path, newline="") as fh:
        return next(csv.reader(fh))


@pytest.mark.slow   # the module's run folder: ~20 s of training and evaluation
def test_training_metrics_json_loads_and_agrees(run_dir):
    path = training_metrics_path(run_dir)
    data = json.loads(path.read_text())
    assert set(data) == {"metrics", "version", "best_model_metric"}
    tm = TrainingMetrics(None, fname=str(path))
    training = tm.getTraining()
    rows = read_metrics(run_dir)
    assert len(training) == rows[-1]["episodes_total"]
    assert list(training["episode"]) == list(range(1, len(training) + 1))
    df = DeepRacerLog(str(run_dir))
    df.load_training_trace()
    per_episode = df.dataframe().groupby("episode")
    assert list(training["reward"]) == [int(round(r)) for r in per_episode["reward"].sum()]
    assert list(training["completion"]) == [int(p) for p in per_episode["progress"].last()]
    assert data["version"] == 2.0 and data["best_model_metric"] == "progress"
    assert set(r["episode_status"] for r in data["metrics"]) <= {"Lap complete", "Off track", "Immobilized",
                                                                   "Reversed", "Time Up"}
    assert list(data["metrics"][0]) == ["reward_score", "metric_time", "start_time", "elapsed_time_in_milliseconds",
                                        "episode", "trial", "phase", "completion_percentage", "episode_status"]
    for m in data["metrics"]:                       # simulated milliseconds, as simapp's sim clock
        assert abs(m["metric_time"] - m["start_time"] - m["elapsed_time_in_milliseconds"]) <= 1


@pytest.mark.slow   # the module's run folder: ~20 s of training and evaluation
def test_deepracer_utils_reads_the_evaluation_traces(run_dir):
    log = DeepRacerLog(str(run_dir))
    log.load_evaluation_trace()
    df = log.dataframe()
    folders = sorted(run_dir.glob("evaluation-*"))
    assert len(folders) == 2                                    # naive + robust of one checkpoint
    assert sorted(df["stream"].unique()) == [f.name.split("-", 1)[1] for f in folders]
    agg = AnalysisUtils.simulation_agg(df, firstgroup="stream", is_eval=True)
    trials = read_trials(run_dir / EVAL_CSV)
    for folder in folders:
        info = json.loads((folder / "info.json").read_text())
        mine = [t for t in trials if t["mode"] == info["mode"]]
        stream = agg[agg["stream"] == folder.name.split("-", 1)[1]].sort_values("episode")
        assert len(stream) == len(mine) == info["trials"]
        last = df[df["stream"] == folder.name.split("-", 1)[1]].groupby("episode").last()
        assert list(last["progress"].round(2)) == pytest.approx([float(t["completion_percentage"]) for t in mine],
                                                                 abs=0.01)
        assert list((stream["time"] * 1000).round()) == [int(t["elapsed_time_in_milliseconds"]) for t in mine]
        data = json.loads((run_dir / "metrics" / "evaluation" / f"{folder.name}.json").read_text())
        assert set(data) == {"metrics"}                       # simapp writes no version for evaluations
        metrics = data["metrics"]
        assert [m["trial"] for m in metrics] == list(range(1, len(mine) + 1))
        assert [m["elapsed_time_in_milliseconds"] for m in metrics] == [int(t["elapsed_time_in_milliseconds"])
                                                                         for t in mine]


def test_a_lap_in_the_simtrace_matches_the_env(tmp_path):
    from deepracer_agent.env import DeepRacerEnv
    from deepracer_inference.metadata import ModelMetadata

    shared = shared_dir()
    track = shared / "tracks" / "Straight_track.npy" if shared else None
    if track is None or not track.exists():
        pytest.skip("official tracks not found (set DEEPRACER_SHARED to the shared/ folder)")
    env = DeepRacerEnv(str(track), metadata=ModelMetadata.discrete([0.0], [1.0, 0.1]), seed=0)
    log = SimtraceLog(tmp_path / "training-simtrace")
    attach(env, log)
    env.reset(seed=0)
    for _ in range(400):
        _, _, terminated, truncated, info = env.step(0)
        if terminated or truncated:
            break
    assert info["episode_status"] == "lap_complete"
    log.write_iteration(0)
    drlog = DeepRacerLog(str(tmp_path))
    drlog.load_training_trace(ignore_metadata=True)
    df = drlog.dataframe()
    agg = AnalysisUtils.simulation_agg(df)
    assert len(agg) == 1
    lap = agg.iloc[0]
    assert lap["progress"] == info["progress"] == 100.0 and lap["complete"] == 1
    assert lap["time"] == pytest.approx(info["lap_time_s"], abs=1e-3)
    assert df["steps"].max() == info["steps"]
    assert df["episode_status"].iloc[-1] == "lap_complete" and bool(df["done"].iloc[-1])
    # positions are the reward's reference point: they move along the straight at ~1 m/s
    assert np.hypot(df["x"].diff(), df["y"].diff()).sum() == pytest.approx(lap["dist"])


@pytest.mark.slow   # the module's run folder
def test_deepracer_runs_list_show_compare(run_dir, tmp_path, capsys):
    import shutil

    from deepracer_agent.evaluate import summary_rows
    from deepracer_agent.runs import main, summarize_run
    from deepracer_agent.simtrace import write_metrics_json

    other = run_dir.parent / "other"                       # a second run: the same files, a faster lap
    other.mkdir(exist_ok=True)
    for name in ("config.resolved.yaml", "model_metadata.json", "metrics.jsonl", "status.json"):
        shutil.copy(run_dir / name, other / name)
    rows = read_metrics_json(training_metrics_path(run_dir))
    rows[0] = dict(rows[0], episode_status="Lap complete", elapsed_time_in_milliseconds=12345)
    write_metrics_json(training_metrics_path(other), rows)

    s = summarize_run(run_dir)
    metrics = read_metrics(run_dir)
    assert (s.track, s.reward, s.steps, s.iterations) == ("reinvent2018_like", "centerline",
                                                          metrics[-1]["steps"], 3)
    assert s.action_space == "discrete 10 (steer -30..30 deg, 0.5..1 m/s)"
    robust = [r for r in summary_rows(read_trials(run_dir / EVAL_CSV)) if r["mode"] == "robust"]
    assert s.best_robust == max(r["success_rate"] for r in robust) and s.best_checkpoint == "iter_000003.zip"
    o = summarize_run(other)
    assert o.lap_time_s == 12.345 and o.lap_time_source == "training" and o.best_robust is None

    assert main(["list", str(run_dir.parent)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split("|")[1].strip() for line in out[2:]] == ["other", "run"]
    assert "12.35 s (training)" in out[2] and "reinvent2018_like" in out[3]
    assert main(["show", str(run_dir)]) == 0
    assert "iter_000003.zip" in capsys.readouterr().out
    png = tmp_path / "compare.png"
    assert main(["compare", str(run_dir), str(other), "--out", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["show", str(tmp_path)]) == 2
    assert "not a run folder" in capsys.readouterr().err


@pytest.mark.slow   # two short trainings
def test_resume_drops_logs_after_the_checkpoint_and_continues_episodes(tmp_path):
    run = tmp_path / "run"
    args = RUN_ARGS[:-2] + ["stop.max_iterations=2", "torch_threads=1"]
    train(load_config(None, args), run, progress_bar=False, log=None)
    # killed after iteration 2's logs, before its checkpoint: the last complete checkpoint is 1
    (run / "checkpoints" / "iter_000002.json").unlink()
    (run / "checkpoints" / "iter_000002.zip").unlink()
    stale = (run / "training-simtrace" / "1-iteration.csv").read_text()
    train(load_config(run / "config.resolved.yaml", ["stop.max_iterations=3"]), run, resume=True,
          progress_bar=False, log=None)
    rows = read_metrics(run)
    assert [r["iteration"] for r in rows] == [1, 2, 3]
    assert sorted(p.name for p in (run / "training-simtrace").iterdir()) == [
        "0-iteration.csv", "1-iteration.csv", "2-iteration.csv"]
    assert (run / "training-simtrace" / "1-iteration.csv").read_text() != stale
    log = DeepRacerLog(str(run))
    log.load_training_trace()
    df = log.dataframe()
    episodes = sorted(df["episode"].unique())
    assert episodes == list(range(rows[-1]["episodes_total"]))          # numbered on across the resume
    for row in rows:
        assert df[df["iteration"] == row["iteration"] - 1]["episode"].nunique() == row["episodes"]
    metrics = read_metrics_json(training_metrics_path(run))
    assert [m["episode"] for m in metrics] == [e + 1 for e in episodes]
