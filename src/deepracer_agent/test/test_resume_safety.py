"""Resume never loses what is saved: validate first / write last, corrupt checkpoints set aside (never
pruned in place of valid ones), refusal instead of a silent restart, stale temp files cleaned, one
training per run folder (lock naming its holder, a dead holder's lock taken over)."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

from deepracer_agent.config import load_config
from deepracer_agent.run_lock import LOCK_NAME, RunLock, read_holder
from deepracer_agent.train import TrainError, complete_checkpoints, read_metrics, train

TINY = ["n_envs=2", "ppo.n_steps=32", "hyperparameters.num_epochs=1", "hyperparameters.batch_size=32",
        "model_metadata.neural_network=DEEP_CONVOLUTIONAL_NETWORK_DEEP", "torch_threads=1"]


@pytest.fixture(scope="module")
def base_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("resume") / "run"
    train(load_config(None, TINY + ["stop.max_iterations=2"]), run, progress_bar=False, log=None)
    return run


@pytest.fixture
def run(base_run, tmp_path):
    dest = tmp_path / "run"
    shutil.copytree(base_run, dest)
    return dest


def _resume_cfg(run, *overrides):
    return load_config(run / "config.resolved.yaml", list(overrides))


def _snapshot(run):
    return {p.relative_to(run): p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file() and p.name != LOCK_NAME}


def test_a_failed_resume_changes_nothing(run):
    before = _snapshot(run)
    cfg = _resume_cfg(run, "model_metadata.neural_network=DEEP_CONVOLUTIONAL_NETWORK_SHALLOW")
    with pytest.raises(TrainError, match="cannot resume: .*iter_000002.zip"):
        train(cfg, run, resume=True, progress_bar=False, log=None)
    after = _snapshot(run)
    tensorboard = {k for k in after if k.parts[0] == "tensorboard"}
    assert {k: v for k, v in after.items() if k not in tensorboard} == \
        {k: v for k, v in before.items() if k not in tensorboard}
    # ... so a plain --resume still works afterwards
    result = train(_resume_cfg(run, "stop.max_iterations=3"), run, resume=True, progress_bar=False, log=None)
    assert result.iterations == 3 and [r["iteration"] for r in read_metrics(run)] == [1, 2, 3]


def _corrupt(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def test_only_corrupt_checkpoints_refuse_to_restart(run):
    for path, _ in complete_checkpoints(run, verify=False):
        _corrupt(path)
    before = _snapshot(run)
    with pytest.raises(TrainError, match="no valid checkpoint to resume from .*iter_000001.zip: sha256"):
        train(_resume_cfg(run), run, resume=True, progress_bar=False, log=None)
    assert _snapshot(run) == before and len(read_metrics(run)) == 2
    shutil.rmtree(run / "checkpoints")
    with pytest.raises(TrainError, match="has 2 rows .* but there is no checkpoint"):
        train(_resume_cfg(run), run, resume=True, progress_bar=False, log=None)
    assert len(read_metrics(run)) == 2


def test_corrupt_newest_is_set_aside_and_never_pruned_for(run):
    newest = run / "checkpoints" / "iter_000002.zip"
    _corrupt(newest)
    corrupt = newest.read_bytes()
    (run / "checkpoints" / ".iter_000003.tmp-4242.zip").write_bytes(b"x" * 4096)   # disk full / kill -9
    (run / ".metrics.jsonl.tmp-4242").write_text("{}")
    (run / ".evaluation.csv.tmp-4242").write_text("a live evaluate --watch owns this")
    logged = []
    result = train(_resume_cfg(run, "checkpoints.keep_last=1", "stop.max_iterations=2"), run, resume=True,
                   progress_bar=False, log=logged.append)
    text = "\n".join(logged)
    assert "resuming from iter_000001.zip" in text
    assert "setting aside 1 invalid checkpoint" in text and "dropping 1 row(s) after iteration 1" in text
    assert "removed 2 stale temp file(s)" in text
    assert result.iterations == 2
    assert [p.name for p, _ in complete_checkpoints(run)] == ["iter_000002.zip"]     # the new, valid one
    assert (run / "checkpoints" / "invalid" / "iter_000002.zip").read_bytes() == corrupt
    assert (run / "checkpoints" / "invalid" / "iter_000002.json").is_file()
    assert [r["iteration"] for r in read_metrics(run)] == [1, 2]
    assert not (run / "checkpoints" / ".iter_000003.tmp-4242.zip").exists()
    assert not (run / ".metrics.jsonl.tmp-4242").exists() and (run / ".evaluation.csv.tmp-4242").exists()


HOLD = "import sys, time; from deepracer_agent.run_lock import RunLock; RunLock(sys.argv[1]).acquire(); " \
       "print('held', flush=True); time.sleep(120)"


def test_second_training_is_refused_naming_the_holder_and_a_dead_holder_is_taken_over(run, capsys):
    from deepracer_agent.commands.train import main

    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(run)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(TrainError, match=f"in use by pid {holder.pid} on host {socket.gethostname()} since"):
            train(_resume_cfg(run), run, resume=True, progress_bar=False, log=None)
        assert main(["--run-dir", str(run), "--resume", "--no-progress-bar"]) == 2
        err = capsys.readouterr().err
        assert f"in use by pid {holder.pid}" in err and err.count("\n") == 1
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
        holder.stdout.close()
    assert read_holder(run)["pid"] == holder.pid          # the dead holder's record is still there ...
    with RunLock(run) as lock:                            # ... and the lock is taken over
        assert lock.previous["pid"] == holder.pid and read_holder(run)["pid"] == os.getpid()
    assert read_holder(run) is None                       # released: emptied, never deleted
    assert (run / LOCK_NAME).exists()


def test_lock_is_exclusive_within_one_process_too(tmp_path):
    with RunLock(tmp_path):
        start = time.monotonic()
        with pytest.raises(Exception, match=f"pid {os.getpid()}"):
            RunLock(tmp_path).acquire()
        assert time.monotonic() - start < 1.0              # refused at once, never waits
