"""The after-iteration callbacks of deepracer train on a fake model (the loop itself: test_train.py)."""
from __future__ import annotations


import numpy as np
import pytest

from deepracer_agent.callbacks import (CheckpointCallback, CurriculumCallback, EvaluationCallback, IterationState,
                                       ProgressCallback, StopCallback, default_callbacks, plain_row, stop_reason)
from deepracer_agent.config import load_config
from deepracer_agent.run_folder import (METRICS_CSV, append_metrics, checkpoint_path, commit_checkpoint,
                                        complete_checkpoints, read_metrics)


class FakeModel:
    num_timesteps = 640


def row(**kw):
    base = {"iteration": 1, "steps": 640, "wall_time_s": 12.5, "n_steps": 160, "episodes": 3, "episodes_total": 3,
            "mean_reward": 1.5, "mean_progress": 20.0, "lap_completion_rate": 0.0, "mean_episode_steps": 50.0,
            "env_steps_per_s": 900.0, "rollout_time_s": 0.7, "update_time_s": 1.1, "eval_completion_rate": None,
            "eval_mean_progress": None, "track": "oval"}
    return base | kw


def fake_save(model, run_dir, info, config, commit=True):
    path = checkpoint_path(run_dir, info["iteration"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"zip %d" % info["iteration"])
    if commit:
        commit_checkpoint(path, info)
    return path


def state_for(tmp_path, *overrides, **kw):
    cfg = load_config(None, list(overrides))
    return IterationState(cfg, tmp_path, FakeModel(), None, save_checkpoint=fake_save, log=None, **kw)


@pytest.mark.parametrize("overrides, r, episodes, iteration, expected", [
    ([], row(), 3, 1, ""),
    (["stop.max_steps=600"], row(), 3, 1, "max_steps 600 reached"),
    (["stop.max_wall_time_s=1e1"], row(), 3, 1, "max_wall_time_s 10 reached"),
    (["stop.max_iterations=2"], row(), 3, 2, "max_iterations 2 reached"),
    (["hyperparameters.term_cond_max_episodes=3"], row(), 3, 1, "term_cond_max_episodes 3 reached"),
    (["hyperparameters.term_cond_avg_score=1"], row(), 3, 1, "term_cond_avg_score 1 reached"),
    (["stop.target_eval_completion=0.8"], row(eval_completion_rate=0.9), 3, 1, "robust evaluation reached 90%"),
    (["stop.target_eval_completion=0.8", "stop.target_eval_lap_time_s=10"],
     row(eval_completion_rate=0.9, eval_mean_lap_time_s=12.0), 3, 1, ""),
])
def test_stop_conditions(overrides, r, episodes, iteration, expected):
    cfg = load_config(None, overrides)
    assert stop_reason(cfg, r, episodes, iteration).startswith(expected) if expected else \
        stop_reason(cfg, r, episodes, iteration) == ""


def test_stop_callback_stops_with_the_reason(tmp_path):
    s = state_for(tmp_path, "stop.max_iterations=2", iteration=1, row=row())
    assert StopCallback().on_row_written(s) and s.stop_reason == ""
    s.iteration = 2
    assert not StopCallback().on_row_written(s) and s.stop_reason == "max_iterations 2 reached"


def test_checkpoint_callback_commits_only_after_the_row_and_keeps_the_last_n(tmp_path):
    s = state_for(tmp_path, "checkpoints.keep_last=2")
    cb = CheckpointCallback()
    for i in range(1, 5):
        s.iteration, s.row = i, row(iteration=i)
        cb.on_iteration_end(s)
        assert checkpoint_path(tmp_path, i).is_file() and s.row["save_time_s"] >= 0
        # written but not complete until its metrics row exists (a kill here leaves no orphan checkpoint)
        assert checkpoint_path(tmp_path, i) not in [p for p, _ in complete_checkpoints(tmp_path)]
        assert cb.on_row_written(s)
        assert s.last_checkpoint == checkpoint_path(tmp_path, i)
    assert [p.name for p, _ in complete_checkpoints(tmp_path)] == ["iter_000003.zip", "iter_000004.zip"]


def test_evaluation_callback_runs_only_for_a_robust_target(tmp_path):
    s = state_for(tmp_path, row=row(), iteration=1)
    EvaluationCallback().on_iteration_end(s)
    assert s.eval_rate is None and "eval_time_s" not in s.row


def test_the_row_as_written_and_the_progress_line(tmp_path):
    lines: list[str] = []
    r = plain_row(row(mean_reward=np.float32(2.5), episodes=np.int64(3), mean_progress=float("nan")))
    assert r["mean_reward"] == 2.5 and type(r["episodes"]) is int and r["mean_progress"] is None
    append_metrics(tmp_path, r)                            # what the loop does between the two steps
    s = state_for(tmp_path, iteration=1, row=r, rows=[r])
    s.log = lines.append
    assert ProgressCallback().on_row_written(s)
    assert read_metrics(tmp_path) == [r]
    assert (tmp_path / METRICS_CSV).read_text().splitlines()[0].startswith("iteration,steps")
    assert len(lines) == 1 and lines[0].startswith("iter    1  steps     640")
    assert (tmp_path / "training_progress.png").stat().st_size > 0


def test_default_order():
    assert [type(c).__name__ for c in default_callbacks()] == \
        ["CheckpointCallback", "EvaluationCallback", "ProgressCallback", "CurriculumCallback", "StopCallback"]


def test_curriculum_ends_the_nominal_phase_and_a_nominal_evaluation_does_not_stop(tmp_path):
    args = ("stop.target_eval_completion=0.9", "curriculum.randomize_after_eval=0.8",
            "sim.randomization.latency.enabled=true")
    s = state_for(tmp_path, *args, iteration=1, row=row(eval_completion_rate=0.7, randomized=False))
    s.nominal_cfg = s.cfg.without_randomization()
    assert s.cfg.holds_back_randomization and s.nominal_cfg.sim_config().randomization.enabled_names == []
    assert CurriculumCallback().on_row_written(s) and s.nominal_cfg is not None        # 70 % < 80 %: stays nominal
    s.row = row(eval_completion_rate=1.0, randomized=False)
    assert CurriculumCallback().on_row_written(s) and s.nominal_cfg is None             # phase 2 from the next iteration
    assert StopCallback().on_row_written(s) and s.stop_reason == ""                     # a nominal 100 % does not stop
    s.row = row(eval_completion_rate=0.9, randomized=True)
    assert not StopCallback().on_row_written(s) and s.stop_reason.startswith("robust evaluation reached 90%")
    assert not state_for(tmp_path, *args[:2]).cfg.holds_back_randomization               # nothing to hold back
