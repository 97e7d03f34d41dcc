"""`deepracer demo` (train, evaluate, select) with a user's config, tiny sizes."""
import pytest

from deepracer_agent import demo


@pytest.mark.slow
def test_demo_with_a_config_without_the_robust_target_runs_through(tmp_path, capsys):
    """A config whose stop has no target_eval_completion (only a step budget) used to crash the demo's
    first line with a TypeError; it trains to its step budget, evaluates and selects."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text("track: reinvent2018_like\nreward_file: centerline\nn_envs: 1\nppo: {n_steps: 16}\n"
                   "hyperparameters: {batch_size: 16, num_epochs: 1}\nepisode: {max_steps: 8}\n"
                   "stop: {max_steps: 32, target_eval_completion: null}\nevaluation: {max_steps: 5}\n"
                   "checkpoints: {keep_last: 2}\n")
    run = tmp_path / "run"
    code = demo.main(["--config", str(cfg), "--run-dir", str(run), "--trials", "1", "--workers", "1", "--no-export"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "Stops after 32 steps or after 600 s" in out
    assert "max_steps 32 reached" in out
    assert (run / "best.zip").is_file()
