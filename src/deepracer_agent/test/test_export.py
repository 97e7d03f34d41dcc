"""deepracer export: a tiny trained checkpoint -> artifact; torch, ONNX Runtime and OpenVINO agree."""
import json
import tarfile

import numpy as np
import pytest
import torch
from stable_baselines3 import PPO

from deepracer_agent import checkpoint
from deepracer_agent.config import TrainConfig
from deepracer_agent.export import ExportError, export_checkpoint, exportable_policy, main, self_check_frames
from deepracer_agent.networks import policy_kwargs_for
from deepracer_inference.artifact import load_artifact
from deepracer_inference.engine import Policy
from deepracer_inference.metadata import ModelMetadata
from test_networks import TinyCameraEnv

pytestmark = pytest.mark.slow   # > 20 s per test on the 2-core CI machine (make test-fast skips it)


def train_config(meta, stack_size=1):
    """The training config a checkpoint of ``meta``'s network and action space carries."""
    return TrainConfig.from_dict({"model_metadata": meta.to_dict(), "hyperparameters": {"stack_size": stack_size}})


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """run/model_metadata.json + run/checkpoints/tiny.zip (one PPO update of 32 steps, DEEP network: batch norm)."""
    run = tmp_path_factory.mktemp("run")
    meta = ModelMetadata.default()
    meta.neural_network = "DEEP_CONVOLUTIONAL_NETWORK_DEEP"
    meta.save(run / "model_metadata.json")
    model = PPO("CnnPolicy", TinyCameraEnv(), policy_kwargs=policy_kwargs_for(meta), n_steps=32, batch_size=32,
                n_epochs=1, device="cpu", seed=0)
    model.learn(32)  # one PPO update: trained weights (batch-norm statistics moved), still fast
    (run / "checkpoints").mkdir()
    checkpoint.save(model, run / "checkpoints" / "tiny.zip", train_config(meta))
    return run


def test_export_agrees_across_engines(run_dir, tmp_path, capsys):
    out = tmp_path / "artifact"
    assert main([str(run_dir / "checkpoints" / "tiny.zip"), "--out", str(out), "--fp16"]) == 0
    assert "argmax agrees on 40/40" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["manifest.json", "model.onnx", "model.xml", "model.bin", "model_fp16.xml", "model_fp16.bin",
         "model_metadata.json"])
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp leftovers
    manifest = json.loads((out / "manifest.json").read_text())
    check = manifest["self_check"]
    assert check["passed"] and check["frames"] == 40
    for engine in ("onnxruntime", "openvino_f32"):
        assert check["engines"][engine]["argmax_agree"] == 40
        assert check["engines"][engine]["max_abs_diff"] < 1e-5
    assert manifest["input"]["shape"] == [1, 1, 120, 160] and manifest["output"]["name"] == "action_probabilities"
    with tarfile.open(tmp_path / "artifact.tar.gz") as tar:
        assert "artifact/model.onnx" in tar.getnames()

    # The inference side (no torch) agrees with the torch policy on fresh frames, via both engines.
    module = exportable_policy(checkpoint.make_policy(run_dir / "checkpoints" / "tiny.zip"), True)
    frames = self_check_frames(1, n_random=4, seed=7)
    with torch.no_grad():
        reference = np.stack([module(torch.from_numpy(f[None]))[0].numpy() for f in frames])
    for source, engine in ((out, "openvino"), (tmp_path / "artifact.tar.gz", "onnxruntime")):
        policy = Policy.from_path(source, engine=engine)
        for f, ref in zip(frames, reference):
            policy.reset()
            d = policy.decide_preprocessed(f[0].astype(np.uint8))
            assert d.action_index == int(np.argmax(ref))
            assert np.max(np.abs(np.array(d.probabilities) - ref)) < 1e-5


def test_refuses_to_overwrite_and_bad_inputs(run_dir, tmp_path):
    ckpt = run_dir / "checkpoints" / "tiny.zip"
    out = tmp_path / "a"
    out.mkdir()
    with pytest.raises(ExportError, match="already exists"):
        export_checkpoint(ckpt, out)
    with pytest.raises(ExportError, match="checkpoint not found"):
        export_checkpoint(run_dir / "missing.zip", tmp_path / "b", metadata=run_dir / "model_metadata.json")
    other = ModelMetadata.discrete([-30, 0, 30], [1.0])
    other.neural_network = "DEEP_CONVOLUTIONAL_NETWORK_DEEP"
    other.save(tmp_path / "three.json")
    with pytest.raises(ExportError, match="does not match the 3 discrete actions"):
        export_checkpoint(ckpt, tmp_path / "c", metadata=tmp_path / "three.json")
    assert not (tmp_path / "c").exists() and not list(tmp_path.glob(".*"))
    (tmp_path / "junk.zip").write_bytes(b"junk")
    with pytest.raises(ExportError, match="cannot load the checkpoint"):
        export_checkpoint(tmp_path / "junk.zip", tmp_path / "d", metadata=run_dir / "model_metadata.json")
    assert main([str(tmp_path / "junk.zip"), "--out", str(tmp_path / "e")]) == 1


def test_force_replaces_atomically(run_dir, tmp_path):
    ckpt = run_dir / "checkpoints" / "tiny.zip"
    first = export_checkpoint(ckpt, tmp_path / "m")
    again = export_checkpoint(ckpt, tmp_path / "m", force=True)
    assert again.folder == first.folder and load_artifact(again.folder).metadata.n_actions == 10
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m", "m.tar.gz", "m_aws_model", "openvino-model.tar.gz",
                                                          "pb-only-model.tar.gz"]
    assert sorted(str(p.relative_to(tmp_path / "m_aws_model")) for p in (tmp_path / "m_aws_model").rglob("*")) == [
        "agent", "agent/model.pb", "model_metadata.json"]
    assert again.manifest["aws_model_pb"]["self_check"]["argmax_agree"] == 40   # DEEP network: batch norm folded


class StackedContinuousEnv(TinyCameraEnv):
    observation_space = __import__("gymnasium").spaces.Box(0, 255, (120, 160, 2), np.uint8)
    action_space = __import__("gymnasium").spaces.Box(-1.0, 1.0, (2,), np.float32)

    def step(self, action):
        return self.observation_space.sample(), 0.0, False, False, {}


def test_continuous_frame_stacked_export(tmp_path):
    meta = ModelMetadata.continuous((-30, 30), (0.5, 2.0))
    meta.neural_network = "DEEP_CONVOLUTIONAL_NETWORK_DEEP"
    meta.save(tmp_path / "model_metadata.json")  # no frame_stack key: the exporter records 2
    model = PPO("CnnPolicy", StackedContinuousEnv(), policy_kwargs=policy_kwargs_for(meta), n_steps=8,
                batch_size=8, device="cpu", seed=1)
    checkpoint.save(model, tmp_path / "cont.zip", train_config(meta, stack_size=2))
    result = export_checkpoint(tmp_path / "cont.zip")
    assert result.folder == tmp_path / "cont_artifact"
    assert result.aws == {} and "2 stacked frames" in result.aws_skipped       # the stock car feeds one frame
    assert not (tmp_path / "pb-only-model.tar.gz").exists()
    assert result.manifest["output"] == {"name": "action_mean", "shape": [1, 2], "dtype": "float32"}
    assert result.manifest["input"]["shape"] == [1, 2, 120, 160]
    assert result.manifest["self_check"]["engines"]["openvino_f32"]["max_abs_diff"] < 1e-4

    policy = Policy.from_path(result.folder)
    assert policy.artifact.frame_stack == 2
    module = exportable_policy(model.policy, discrete=False)
    a, b = (np.full((120, 160), v, np.uint8) for v in (30, 220))
    policy.decide_preprocessed(a)
    d = policy.decide_preprocessed(b)
    with torch.no_grad():
        mean = module(torch.from_numpy(np.stack([a, b]).astype(np.float32)[None]))[0].numpy()
    assert np.allclose(d.action, mean, atol=1e-4)
    assert (d.steering_deg, d.speed_m_s) == pytest.approx(meta.action_to_drive(mean), abs=1e-3)
