"""export -> the stock car's archive -> OpenVINO's TF frontend with AWS's input name -> the same
actions as torch (and probabilities as the ONNX model's) on 40 frames rendered by the embedded sim."""
import json
import tarfile

import numpy as np
import onnxruntime as ort
import openvino as ov
import pytest
import torch
from stable_baselines3 import PPO

from aws_helpers import rendered_frames
from deepracer_agent import checkpoint
from deepracer_agent.config import TrainConfig
from deepracer_agent.export import exportable_policy, main
from deepracer_agent.networks import policy_kwargs_for
from deepracer_inference.artifact import AWS_INPUT_NAME, AWS_OUTPUT_NAME
from deepracer_inference.engine import Policy
from deepracer_inference.metadata import ModelMetadata
from test_networks import TinyCameraEnv

pytestmark = pytest.mark.slow        # a full export with its self-checks (~40 s of CPU)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A SHALLOW checkpoint (seeded initial weights, a decisive action head so actions are clearly
    separated), exported with `deepracer export`; returns (run folder, torch module)."""
    run = tmp_path_factory.mktemp("run")
    meta = ModelMetadata.default()                      # SHALLOW, the paper's 10 actions
    meta.save(run / "model_metadata.json")
    model = PPO("CnnPolicy", TinyCameraEnv(), policy_kwargs=policy_kwargs_for(meta), n_steps=32, batch_size=32,
                n_epochs=1, device="cpu", seed=0)
    with torch.no_grad():  # SB3 starts the head at gain 0.01 (near-uniform); a fixed decisive head instead
        model.policy.action_net.weight.normal_(0.0, 0.3, generator=torch.Generator().manual_seed(0))
    checkpoint.save(model, run / "shallow.zip", TrainConfig.from_dict({"model_metadata": meta.to_dict()}))
    assert main([str(run / "shallow.zip"), "--out", str(run / "artifact")]) == 0
    module = exportable_policy(checkpoint.make_policy(run / "shallow.zip"), discrete=True)
    return run, module


@pytest.fixture(scope="module")
def frames():
    return rendered_frames(40, seed=5)


def test_stock_car_archive_gives_torch_actions(exported, frames, tmp_path):
    run, module = exported
    with tarfile.open(run / "pb-only-model.tar.gz") as tar:
        assert sorted(tar.getnames()) == ["model.pb", "model_metadata.json"]
        tar.extractall(tmp_path, filter="data")
    meta = json.loads((tmp_path / "model_metadata.json").read_text())
    assert meta["action_space_type"] == "discrete" and len(meta["action_space"]) == 10
    assert meta["neural_network"] == "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW" and meta["sensor"] == ["FRONT_FACING_CAMERA"]

    # what the car's model optimizer does: the TF frontend, AWS's input name, NHWC [1, 120, 160, 1]
    model = ov.convert_model(str(tmp_path / "model.pb"), input=[(f"{AWS_INPUT_NAME}:0", [1, 120, 160, 1])])
    assert f"{AWS_OUTPUT_NAME}:0" in model.outputs[0].get_names()
    compiled = ov.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    car = np.stack([compiled(f[None, :, :, None].astype(np.float32))[0][0] for f in frames])

    with torch.no_grad():
        reference = module(torch.from_numpy(frames[:, None].astype(np.float32))).numpy()
    session = ort.InferenceSession(str(run / "artifact" / "model.onnx"), providers=["CPUExecutionProvider"])
    onnx_out = np.stack([session.run(None, {"observation": f[None, None].astype(np.float32)})[0][0] for f in frames])
    assert np.array_equal(np.argmax(car, axis=1), np.argmax(reference, axis=1))
    assert np.max(np.abs(car - onnx_out)) < 1e-5
    assert len(set(np.argmax(reference, axis=1))) > 1, "the frames should not all choose one action"


def test_openvino_archive_and_console_folder(exported, frames, tmp_path):
    run, module = exported
    with tarfile.open(run / "openvino-model.tar.gz") as tar:
        assert sorted(tar.getnames()) == ["model.bin", "model.pb", "model.xml", "model_metadata.json"]
        tar.extractall(tmp_path, filter="data")
    assert 'version="11"' in (tmp_path / "model.xml").read_text()[:400]
    ir = ov.Core().read_model(str(tmp_path / "model.xml"))
    assert list(ir.inputs[0].get_shape()) == [1, 120, 160, 1]                          # NHWC, as custom cars read
    assert f"{AWS_INPUT_NAME}:0" in ir.inputs[0].get_names()

    with torch.no_grad():
        reference = np.argmax(module(torch.from_numpy(frames[:, None].astype(np.float32))).numpy(), axis=1)
    folder = run / "artifact_aws_model"
    assert (folder / "agent" / "model.pb").is_file() and (folder / "model_metadata.json").is_file()
    for source in (folder, run / "pb-only-model.tar.gz", run / "openvino-model.tar.gz"):
        policy = Policy.from_path(source)
        assert policy.artifact.kind == "aws" and policy.artifact.layout == "NHWC"
        chosen = []
        for f in frames:
            policy.reset()
            chosen.append(policy.decide_preprocessed(f).action_index)
        assert chosen == reference.tolist(), source
