"""``deepracer transfer``: the grid, held-out conditions, outputs on a tiny run, artifacts, Spearman."""
import csv
import math

import numpy as np
import pytest

from deepracer_agent.config import CONFIG_DIR, load_config
from deepracer_agent.transfer import (CORRELATION_MD, CORRELATION_PNG, HELD_OUT_TRACKS, TRANSFER_CSV, TRANSFER_MD,
                                      TRANSFER_PNG, TransferError, build_parser, cell_sim_overrides, check_held_out,
                                      main, rank, spearman, suite_cells, transfer, quick_cells)
from deepracer_agent.train import train

RUN_ARGS = ["n_envs=2", "ppo.n_steps=16", "hyperparameters.num_epochs=1", "hyperparameters.batch_size=32",
            "model_metadata.neural_network=DEEP_CONVOLUTIONAL_NETWORK_DEEP", "stop.max_iterations=2",
            "torch_threads=1"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    run = tmp_path_factory.mktemp("transfer") / "run"
    train(load_config(None, RUN_ARGS), run, progress_bar=False, log=None)
    return run


def test_spearman_on_known_ranks():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [9, 7, 5, 1]) == pytest.approx(-1.0)
    np.testing.assert_array_equal(rank([10, 20, 20, 30]), [1, 2.5, 2.5, 4])
    # ties: ranks x = 1, 2.5, 2.5, 4 and y = 1, 3, 2, 4 -> Pearson of the ranks
    rx, ry = np.array([1, 2.5, 2.5, 4]) - 2.5, np.array([1, 3, 2, 4]) - 2.5
    assert spearman([1, 2, 2, 3], [1, 3, 2, 4]) == pytest.approx((rx @ ry) / math.sqrt((rx @ rx) * (ry @ ry)))
    # the classic d^2 formula without ties: rho = 1 - 6 sum d^2 / (n (n^2 - 1))
    x, y = [3, 1, 4, 2, 5], [2, 1, 5, 3, 4]
    d = rank(x) - rank(y)
    assert spearman(x, y) == pytest.approx(1 - 6 * (d @ d) / (5 * 24))
    assert math.isnan(spearman([1, 1, 1], [1, 2, 3])) and math.isnan(spearman([1], [2]))


def test_the_suite_is_the_issue_grid_and_every_cell_is_a_valid_sim():
    cells = suite_cells()
    names = [c.name for c in cells]
    assert len(names) == len(set(names)) == 25
    for expected in ("nominal", "pitch-5deg", "pitch+5deg", "height-2cm", "height+2cm", "fov-10%", "fov+10%",
                     "fisheye", "brightness-40%", "brightness+40%", "contrast-40%", "contrast+40%", "noise8",
                     "blur3", "latency1", "latency2", "speed-20%", "speed+20%", "steer-3deg", "steer+3deg",
                     "track:oval", "track:tape_corridor"):
        assert expected in names
    from deepracer_sim.config import SimConfig

    for c in cells:
        over = cell_sim_overrides(c, {"randomization": {"camera_pose": {"enabled": True}}})
        sim = SimConfig.from_dict(over)
        assert sim.camera_mount.attitude == "resting" and sim.randomization.enabled_names == []


def test_shipped_training_configs_hold_the_suite_out():
    for path in sorted(CONFIG_DIR.glob("*.yaml")):
        check_held_out(load_config(path), source=path.name)
    with pytest.raises(TransferError, match="oval"):
        check_held_out(load_config(None, ["track=oval"]))
    assert set(HELD_OUT_TRACKS) <= {c.track for c in suite_cells() if c.track}


def test_suite_on_a_tiny_run_writes_table_heatmap_and_correlation(run_dir, capsys):
    assert main([str(run_dir), "--grid", "quick", "--trials", "2", "--workers", "1", "--max-steps", "30",
                 "--correlate", "--robust-trials", "2"]) == 0
    rows = list(csv.DictReader(open(run_dir / TRANSFER_CSV)))
    assert len(rows) == 2 * 3 * 2                       # 2 checkpoints x 3 cells x 2 trials
    assert {r["mode"] for r in rows} == {c.name for c in quick_cells()}
    md = (run_dir / TRANSFER_MD).read_text()
    assert md.startswith("| group | cell | iter_000001.zip | iter_000002.zip |")
    assert "| camera | pitch+5deg |" in md and "| | >= 5/6 in every cell |" in md
    assert (run_dir / TRANSFER_PNG).read_bytes()[:4] == b"\x89PNG"
    corr = (run_dir / CORRELATION_MD).read_text()
    assert "Spearman rank correlation, robust (plain) vs transfer suite, 2 checkpoints" in corr
    assert (run_dir / CORRELATION_PNG).read_bytes()[:4] == b"\x89PNG"
    assert "wrote" in capsys.readouterr().out


def test_correlate_scores_the_one_family_per_trial_robust_evaluation_too(run_dir, tmp_path, capsys):
    out = tmp_path / "out"
    assert main([str(run_dir), "--cells", "nominal", "--trials", "2", "--workers", "1", "--max-steps", "30",
                 "--correlate", "--robust-trials", "2", "--robust-randomize", "one", "--out", str(out)]) == 0
    corr = (out / CORRELATION_MD).read_text()
    assert corr.startswith("| checkpoint | robust (plain) | robust (one family per trial) | transfer suite |")
    assert "Spearman rank correlation, robust (plain) vs transfer suite, 2 checkpoints" in corr
    assert "Spearman rank correlation, robust (one family per trial) vs transfer suite, 2 checkpoints" in corr
    assert "robust (randomized)" not in corr
    rows = list(csv.DictReader(open(run_dir / "robust_one" / "evaluation.csv")))
    assert sorted((r["checkpoint"][-8:], r["trial"], r["randomization"]) for r in rows) == [
        ("0001.zip", "0", "pitch"), ("0001.zip", "1", "height"), ("0002.zip", "0", "pitch"), ("0002.zip", "1", "height")]
    assert "wrote" in capsys.readouterr().out
    parse = build_parser().parse_args
    assert parse(["run"]).robust_randomize is None
    assert parse(["run", "--robust-randomize"]).robust_randomize == []            # alone: all, as before
    assert parse(["run", "--robust-randomize", "all", "one"]).robust_randomize == ["all", "one"]
    with pytest.raises(SystemExit):
        parse(["run", "--robust-randomize", "two"])
    assert "invalid choice: 'two'" in capsys.readouterr().err


def test_suite_is_deterministic_and_errors_are_one_line(run_dir, tmp_path, capsys):
    # (independence of the number of workers is evaluate's, tested there)
    kw = dict(cells=quick_cells()[1:2], trials=2, max_steps=30, seed=3, log=None, workers=1)
    ckpt = run_dir / "checkpoints" / "iter_000002.zip"
    a = transfer([ckpt], out_dir=tmp_path / "a", **kw)
    b = transfer([ckpt], out_dir=tmp_path / "b", **kw)
    assert a["rows"] == b["rows"] and len(a["rows"]) == 2
    assert main([str(run_dir), "--cells", "nope"]) == 2
    assert "unknown cell(s) ['nope']" in capsys.readouterr().err
    assert main([str(tmp_path / "missing")]) == 2
    assert "no such run folder" in capsys.readouterr().err


@pytest.mark.slow
def test_suite_accepts_an_exported_artifact(run_dir, tmp_path):
    from deepracer_agent.export import export_checkpoint

    art = export_checkpoint(run_dir / "checkpoints" / "iter_000002.zip", out=tmp_path / "artifact", force=True)
    res = transfer([art.folder], cells=quick_cells()[:1], trials=2, max_steps=30, workers=1, log=None,
                   out_dir=tmp_path / "out")
    assert not res["errors"] and len(res["rows"]) == 2
    ckpt = transfer([run_dir / "checkpoints" / "iter_000002.zip"], cells=quick_cells()[:1], trials=2, max_steps=30,
                    workers=1, log=None, out_dir=tmp_path / "out2")
    # the artifact drives like its checkpoint (same argmax actions up to float rounding)
    assert [r["steps"] for r in res["rows"]] == [r["steps"] for r in ckpt["rows"]]


def test_shipped_sim2real_trains_on_what_the_suite_varies():
    import math as m

    from deepracer_agent.config import shipped_config

    assert load_config(shipped_config("demo")).sim_config().camera_mount.attitude == "resting"
    for name in ("sim2real",):
        sim = load_config(shipped_config(name)).sim_config()
        r = sim.randomization
        assert sim.camera_mount.attitude == "resting", name
        assert r.camera_pose.enabled and m.degrees(r.camera_pose.pitch_rad) >= 5.0 - 1e-3 and r.camera_pose.height_m >= 0.02
        assert r.camera_pose.fov_rad >= 0.1 * 1.13 - 1e-3 and r.camera_pose.fisheye_probability > 0
        assert r.lighting.enabled and r.lighting.brightness >= 0.4 and r.lighting.contrast >= 0.4
        assert r.latency.enabled and (r.latency.min_frames, r.latency.frames) == (0, 2)
        assert r.actuation.enabled and r.actuation.speed_scale >= 0.2 and m.degrees(r.actuation.steering_bias_rad) >= 3
        assert r.colors.enabled
