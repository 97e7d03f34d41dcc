"""``deepracer evaluate``: trial layout and metrics, determinism, parallel workers, corrupt checkpoints,
outputs (CSV, Markdown, plot, selection), --watch on a finished run and --randomize [all|one]."""
import csv
import hashlib
import json
import shutil

import numpy as np
import pytest

from deepracer_agent.config import load_config
from deepracer_agent.evaluate import (EVAL_CSV, EVAL_MD, EVAL_PNG, ONE_FAMILIES, EvaluateError, build_parser,
                                      deep_merge, main, naive_trials, randomize_mode, robust_trials, robust_units,
                                      run_trials, evaluate, watch)
from deepracer_agent.selection import BEST_ZIP, SELECTED_JSON
from deepracer_agent.train import complete_checkpoints, train

RUN_ARGS = ["n_envs=2", "ppo.n_steps=16", "hyperparameters.num_epochs=1", "hyperparameters.batch_size=32",
            "model_metadata.neural_network=DEEP_CONVOLUTIONAL_NETWORK_DEEP", "stop.max_iterations=2",
            "torch_threads=1"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    run = tmp_path_factory.mktemp("eval") / "run"
    train(load_config(None, RUN_ARGS), run, progress_bar=False, log=None)
    return run


def test_trial_layout():
    assert naive_trials()[0].start_fraction == 0.0 and not naive_trials()[0].reversed
    specs = robust_trials(10, action_noise=0.1)
    assert [s.start_fraction for s in specs] == pytest.approx([k / 10 for k in range(10)])
    assert [s.reversed for s in specs] == [k % 2 == 1 for k in range(10)]
    assert all(s.action_noise == 0.1 for s in specs)
    assert not any(s.reversed for s in robust_trials(4, both_directions=False))


def test_run_trials_metrics_with_a_scripted_driver():
    from deepracer_inference.metadata import ModelMetadata
    from deepracer_tracks.library import load_track

    track, meta = load_track("oval"), ModelMetadata.default()
    straight = [i for i, a in enumerate(meta.actions) if a.steering_angle_deg == 0 and a.speed_m_s == 1.0][0]
    trials = run_trials(lambda obs: np.full(len(obs), straight), robust_trials(4, action_noise=0.0), track, meta,
                        seed=0, max_steps=400)
    assert [t["trial"] for t in trials] == [0, 1, 2, 3]
    assert [t["direction"] for t in trials] == ["forward", "reversed", "forward", "reversed"]
    for t in trials:
        assert t["episode_status"] in ("off_track", "time_up", "lap_complete", "immobilized", "reversed")
        assert t["off_track_count"] == int(t["episode_status"] == "off_track")
        assert t["elapsed_time_in_milliseconds"] == round(t["steps"] * 1000 / 15)
        assert 0.0 <= t["completion_percentage"] <= 100.0
        assert t["reset_count"] == 0 and t["crash_count"] == 0
    # Driving straight on an oval leaves the road before a lap.
    assert any(t["episode_status"] == "off_track" for t in trials)
    assert all(t["lap_time_s"] is None for t in trials if t["episode_status"] != "lap_complete")


def test_evaluation_is_deterministic_for_a_seed_and_independent_of_workers(run_dir, tmp_path):
    kw = dict(trials=3, max_steps=60, seed=5, log=None)
    a = evaluate([run_dir], workers=1, out_dir=tmp_path / "a", **kw)
    b = evaluate([run_dir], workers=1, out_dir=tmp_path / "b", **kw)
    c = evaluate([run_dir], workers=2, out_dir=tmp_path / "c", **kw)
    assert a["rows"] and not a["errors"]
    assert len(a["rows"]) == 2 * (1 + 3)             # 2 checkpoints x (naive + 3 robust)
    assert a["rows"] == b["rows"] == c["rows"]
    assert (tmp_path / "a" / EVAL_CSV).read_text() == (tmp_path / "c" / EVAL_CSV).read_text()


def test_outputs_and_corrupt_checkpoint_skipped(run_dir, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    bad = run / "checkpoints" / "iter_000003.zip"
    bad.write_bytes(b"this is not a zip file")
    (run / "checkpoints" / "iter_000003.json").write_text(json.dumps(
        {"iteration": 3, "steps": 96, "wall_time_s": 9.0, "bytes": bad.stat().st_size,
         "sha256": hashlib.sha256(bad.read_bytes()).hexdigest()}))
    assert main([str(run), "--trials", "2", "--workers", "1", "--max-steps", "40"]) == 0
    out = capsys.readouterr().out
    assert "iter_000003.zip" in out and "cannot load checkpoint" in out
    rows = list(csv.DictReader(open(run / EVAL_CSV)))
    assert {r["iteration"] for r in rows} == {"1", "2"}
    assert {"completion_percentage", "elapsed_time_in_milliseconds", "episode_status", "off_track_count",
            "crash_count", "immobilized_count", "reversed_count", "reset_count"} <= set(rows[0])
    md = (run / EVAL_MD).read_text()
    assert md.startswith("| checkpoint | track | naive | robust laps")
    assert "iter_000001.zip" in md and "Skipped:" in md and str(bad) in md
    assert (run / EVAL_PNG).read_bytes()[:4] == b"\x89PNG"
    sel = json.loads((run / SELECTED_JSON).read_text())
    assert sel["iteration"] in (1, 2)
    assert (run / BEST_ZIP).read_bytes() == open(sel["path"], "rb").read()


def test_watch_scores_every_checkpoint_of_a_finished_run(run_dir, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    for name in (EVAL_CSV, EVAL_MD, EVAL_PNG, SELECTED_JSON, BEST_ZIP):
        (run / name).unlink(missing_ok=True)
    assert json.loads((run / "status.json").read_text())["state"] == "finished"
    watch(run, poll_s=0.1, idle_timeout_s=5, trials=2, max_steps=30, workers=1, naive=False, log=None)
    rows = list(csv.DictReader(open(run / EVAL_CSV)))
    assert {r["checkpoint"] for r in rows} == {str(p) for p, _ in complete_checkpoints(run)}
    assert {r["mode"] for r in rows} == {"robust"}


def test_randomize_one_gives_each_robust_trial_one_family_cycling_with_continuous_draws():
    """--randomize one: 9 families, trial k gets family k mod 9, each unit switches on exactly its
    family's section (the run's own training randomization off), drawn per car within the suite's range."""
    from deepracer_sim.config import SimConfig
    from deepracer_sim.randomization import draw_car

    cfg = load_config(None, ["sim.randomization.colors.enabled=true", "sim.randomization.camera_pose.enabled=true",
                             "sim.randomization.camera_pose.fisheye_probability=0.5"]).to_dict()
    names = list(ONE_FAMILIES)
    assert names == ["pitch", "height", "fov", "lighting", "noise", "blur", "latency", "speed", "steering"]
    units = robust_units("ckpt.zip", 3, "oval", robust_trials(20), cfg, "one", seed=4)
    assert [u.family for u in units] == names and {u.mode for u in units} == {"robust"}
    assert sorted(s.index for u in units for s in u.specs) == list(range(20))     # every trial exactly once
    draws = {}
    for k, u in enumerate(units):
        assert [s.index for s in u.specs] == list(range(k, 20, 9)) and not u.randomize
        assert {s.reversed for s in u.specs} == {False, True}                      # both directions
        sim = SimConfig.from_dict(deep_merge(cfg["sim"], u.sim_overrides))
        assert sim.randomization.enabled_names == list(ONE_FAMILIES[u.family]), u.family
        draws[u.family] = [draw_car(sim.randomization, np.zeros((8, 3)), 4, car, 1) for car in range(8)]
    pitch = [d.camera_dpitch_rad for d in draws["pitch"]]
    assert max(abs(p) for p in pitch) <= 0.0873 and len(set(pitch)) == 8           # continuous, not the extremes
    assert all(d.camera_dz_m == d.camera_dfov_rad == 0.0 and not d.fisheye for d in draws["pitch"])
    assert all(abs(d.camera_dz_m) <= 0.02 and d.camera_dpitch_rad == 0.0 for d in draws["height"])
    assert all(0.8 <= d.speed_scale <= 1.2 and d.steering_bias_rad == 0.0 for d in draws["speed"])
    assert all(abs(d.steering_bias_rad) <= 0.0524 and d.speed_scale == 1.0 for d in draws["steering"])
    assert {d.latency_frames for d in draws["latency"]} <= {0, 1, 2}
    assert all(0.0 <= d.blur_px <= 3.0 for d in draws["blur"]) and draws["noise"][0].sensor_sigma == 8.0
    assert all((d.palette == 0).all() for d in draws["lighting"])                 # colours stay off
    # all / plain: one unit with every trial; fewer trials than families: only the first families
    assert [len(u.specs) for u in robust_units("c", 1, "oval", robust_trials(10), cfg, True, 0)] == [10]
    assert [(u.family, u.randomize) for u in robust_units("c", 1, "oval", robust_trials(3), cfg, "all", 0)] == [
        (None, True)]
    assert [u.family for u in robust_units("c", 1, "oval", robust_trials(3), cfg, "one", 0)] == names[:3]
    assert (randomize_mode(False), randomize_mode(True), randomize_mode("one")) == (None, "all", "one")
    with pytest.raises(EvaluateError, match="randomize: expected"):
        randomize_mode("two")


def test_randomize_one_through_main_is_deterministic_and_writes_its_outputs(run_dir, tmp_path, capsys):
    ckpt = run_dir / "checkpoints" / "iter_000002.zip"
    argv = [str(ckpt), "--randomize", "one", "--trials", "3", "--no-naive", "--workers", "1", "--max-steps", "30",
            "--seed", "2"]
    assert main(argv + ["--out", str(tmp_path / "a")]) == 0
    out = capsys.readouterr().out
    assert "robust reinvent2018_like [pitch]" in out and "[fov]" in out and "wrote" in out
    rows = list(csv.DictReader(open(tmp_path / "a" / EVAL_CSV)))
    assert sorted((r["trial"], r["randomization"]) for r in rows) == [("0", "pitch"), ("1", "height"), ("2", "fov")]
    assert {r["mode"] for r in rows} == {"robust"}
    assert "/3 |" in (tmp_path / "a" / EVAL_MD).read_text()                   # the 3 trials fold into one score
    assert (tmp_path / "a" / EVAL_PNG).read_bytes()[:4] == b"\x89PNG"
    b = evaluate([ckpt], trials=3, naive=False, randomize="one", workers=1, seed=2, max_steps=30, log=None,
                 out_dir=tmp_path / "b")
    assert (tmp_path / "a" / EVAL_CSV).read_text() == (tmp_path / "b" / EVAL_CSV).read_text()
    assert [r["randomization"] for r in b["rows"]] == ["pitch", "height", "fov"]


def test_randomize_option_values_and_a_bad_one(capsys):
    parse = build_parser().parse_args
    assert parse(["run"]).randomize is False
    assert parse(["run", "--randomize", "--no-naive"]).randomize == "all"     # alone: as before
    assert parse(["run", "--randomize", "one"]).randomize == "one"
    with pytest.raises(SystemExit) as exc:
        main(["run", "--randomize", "two"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "argument --randomize: invalid choice: 'two'" in err and "Traceback" not in err
