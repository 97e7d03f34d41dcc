"""``deepracer launch sim_drive.launch.xml model:=<bad path>`` fails at once (issue 21 item 10): the
inference node exits 1 naming the model, the runner stops the graph and exits 1 (before: one error
line, then the graph idled forever)."""
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def test_a_bad_model_path_fails_the_launch(tmp_path):
    env = dict(os.environ, ROS_DOMAIN_ID=str(30 + os.getpid() % 60), ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST")
    t0 = time.monotonic()
    res = subprocess.run([sys.executable, "-m", "deepracer_common.cli", "launch",
                          str(REPO / "launch" / "sim_drive.launch.xml"), f"model:={tmp_path / 'no_such_model'}"],
                         capture_output=True, text=True, timeout=120, env=env)
    out = res.stdout + res.stderr
    assert res.returncode == 1, out
    assert time.monotonic() - t0 < 60
    assert "cannot be loaded, nothing to drive: model artifact" in out and "no_such_model: not found" in out
    assert "[launch] failed: inference_node: exited with code 1" in out
