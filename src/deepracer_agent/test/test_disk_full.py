"""A full disk during export and training: one clear line, nothing half-written left, --resume works.

Two ways to fill a disk: a 2 MB tmpfs (needs root and ``mount``; skipped otherwise) and
``RLIMIT_FSIZE`` in a subprocess (works anywhere: writes past the limit fail with EFBIG, the same
OSError path as ENOSPC; Python ignores SIGXFSZ)."""
import json
import resource
import subprocess
import sys

import pytest

from deepracer_agent import checkpoint
from deepracer_agent.config import TrainConfig
from test_checkpoint import _tiny_model

LIMIT = 3 << 20   # bytes any one file may grow to


def _limited(limit=LIMIT):
    def preexec():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return preexec


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    from deepracer_inference.metadata import ModelMetadata

    meta = ModelMetadata.default()
    meta.neural_network = "DEEP_CONVOLUTIONAL_NETWORK_DEEP"
    path = tmp_path_factory.mktemp("ck") / "c.zip"
    return checkpoint.save(_tiny_model(meta), path, TrainConfig.from_dict({"model_metadata": meta.to_dict()}))


def test_export_on_a_full_disk_is_one_line_and_leaves_nothing(ckpt, tmp_path):
    out = tmp_path / "art"
    res = subprocess.run([sys.executable, "-m", "deepracer_agent.export", str(ckpt), "--out", str(out)],
                         capture_output=True, text=True, timeout=300, preexec_fn=_limited())
    assert res.returncode == 1, res.stdout + res.stderr
    assert res.stderr.strip().count("\n") == 0 and "Traceback" not in res.stderr, res.stderr
    assert "deepracer export:" in res.stderr and "cannot write the artifact (File too large)" in res.stderr
    assert list(tmp_path.iterdir()) == []          # no artifact, no hidden temp folder or archive


def test_export_refuses_up_front_when_the_disk_is_too_small(ckpt, tmp_path):
    tiny = tmp_path / "tiny"
    tiny.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(tiny)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        from deepracer_agent.export import ExportError, export_checkpoint

        with pytest.raises(ExportError, match=r"MB free, the artifact needs about"):
            export_checkpoint(ckpt, tiny / "art")
        assert list(tiny.iterdir()) == []
    finally:
        subprocess.run(["umount", str(tiny)], check=True)


@pytest.mark.slow
def test_training_on_a_full_disk_stops_with_one_line_and_resumes(tmp_path):
    run = tmp_path / "run"
    args = [sys.executable, "-m", "deepracer_agent.commands.train", "--run-dir", str(run), "--no-progress-bar", "n_envs=2",
            "ppo.n_steps=32", "hyperparameters.num_epochs=1", "hyperparameters.batch_size=32", "torch_threads=1",
            "model_metadata.neural_network=DEEP_CONVOLUTIONAL_NETWORK_DEEP", "stop.max_iterations=1"]
    res = subprocess.run(args, capture_output=True, text=True, timeout=300, preexec_fn=_limited())
    assert res.returncode == 2, res.stdout + res.stderr
    lines = [line for line in res.stderr.splitlines() if line.startswith("deepracer train:")]
    assert len(lines) == 1 and "Traceback" not in res.stderr, res.stderr
    assert "(File too large); free space, then --resume" in lines[0] and "no checkpoint yet" in lines[0]
    assert json.loads((run / "status.json").read_text())["state"] == "failed"
    assert not [p for p in run.rglob(".*") if ".tmp-" in p.name]     # the torn checkpoint temp is gone
    res = subprocess.run(args[:6] + ["--resume"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "no checkpoint yet" in res.stdout and (run / "checkpoints" / "iter_000001.json").is_file()
