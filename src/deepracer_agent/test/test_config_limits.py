"""Config values that used to end in a traceback (issue 21 item 12) are one clear line now, and
Ctrl-C still stops a training."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from deepracer_agent.config import ConfigError, check_memory, load_config
from deepracer_agent.commands.train import main


@pytest.mark.parametrize("override, message", [
    ("torch_threads=1000", "torch_threads: must be <= 256, got 1000"),
    ("seed=4294967296", "seed: must be <= 4294967295, got 4294967296"),
    ("n_envs=4096", "n_envs x ppo.max_n_steps: a rollout of 4096 cars x 2048 steps needs 161.4 GB"),
])
def test_one_line_instead_of_a_traceback(override, message, tmp_path, capsys):
    if override.startswith("n_envs"):
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        if total > 160e9:
            pytest.skip("this machine could hold that rollout")
    assert main(["--run-dir", str(tmp_path / "run"), "--no-progress-bar", override]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err, err
    assert not (tmp_path / "run").exists()            # nothing written for a refused config


def test_memory_check_names_the_keys():
    cfg = load_config(None, ["n_envs=8", "ppo.n_steps=1000"])
    check_memory(cfg, total_bytes=64 << 30)           # 8 x 1000 frames: 154 MB, fine
    with pytest.raises(ConfigError, match=r"n_envs x ppo.n_steps: a rollout of 8 cars x 1000 steps needs 0.2 GB"):
        check_memory(cfg, total_bytes=100 << 20)


def test_non_utf8_config_is_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"track: caf\xe9\n")              # Latin-1, not UTF-8
    assert main(["--config", str(bad), "--run-dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not UTF-8" in err and str(bad) in err, err


def _ignore_sigint() -> None:   # what a non-interactive shell does to a job started with `&`
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["sigint_from_a_background_shell", "sigterm"])
def test_ctrl_c_stops_training_and_keeps_the_checkpoints(tmp_path, sig):
    """kill -INT (even when the shell started training with SIGINT ignored) and SIGTERM (docker stop)
    both end the training through its checkpoint-and-status path, exit status 0."""
    run = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "deepracer_agent.commands.train", "--run-dir", str(run), "--no-progress-bar", "n_envs=2",
         "ppo.n_steps=32", "hyperparameters.num_epochs=1", "hyperparameters.batch_size=32", "torch_threads=2",
         "model_metadata.neural_network=DEEP_CONVOLUTIONAL_NETWORK_DEEP", "stop.max_iterations=500"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, preexec_fn=_ignore_sigint)
    try:
        deadline = time.monotonic() + 300
        while not (run / "checkpoints" / "iter_000001.json").exists():
            assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read()
            time.sleep(0.1)
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert json.loads((run / "status.json").read_text())["stop_reason"] == "interrupted"
    assert "stopped: interrupted" in out
