"""The TF frozen graph writer: each DeepRacer network, as the stock car loads it (OpenVINO's TF
frontend, AWS's input name, NHWC [1, 120, 160, 1]), gives torch's outputs on real rendered frames."""
import numpy as np
import openvino as ov
import pytest
import torch
from stable_baselines3 import PPO

from aws_helpers import rendered_frames
from deepracer_agent.export import ExportError, exportable_policy, layers_from_policy
from deepracer_agent.frozen_graph import FrozenGraphError, Layer, build_graph_def, write_frozen_graph
from deepracer_agent.networks import NETWORK_NAMES, policy_kwargs_for
from deepracer_inference.artifact import AWS_INPUT_NAME, AWS_OUTPUT_NAME
from deepracer_inference.metadata import ModelMetadata
from test_networks import TinyCameraEnv


@pytest.fixture(scope="module")
def frames():
    return rendered_frames(40, seed=3)


def decisive_policy(network: str, continuous: bool = False):
    """A PPO policy of ``network`` in eval mode with clearly separated action probabilities (SB3 starts
    the head at gain 0.01, i.e. near-uniform) and moved batch-norm statistics (so folding matters)."""
    import gymnasium as gym

    env = TinyCameraEnv()
    if continuous:
        env.action_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    meta = ModelMetadata.default()
    meta.neural_network = network
    model = PPO("CnnPolicy", env, policy_kwargs=policy_kwargs_for(meta), n_steps=8, batch_size=8, device="cpu",
                seed=0)
    policy = model.policy
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        policy.action_net.weight.mul_(100.0)
        for m in policy.pi_features_extractor.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(torch.rand(m.num_features, generator=gen) * 0.2)
                m.running_var.copy_(0.5 + torch.rand(m.num_features, generator=gen))
                m.weight.copy_(0.5 + torch.rand(m.num_features, generator=gen))
                m.bias.copy_(torch.rand(m.num_features, generator=gen) * 0.1)
    policy.set_training_mode(False)
    return policy


def car_runner(pb):
    """model.pb converted as the car does: TF frontend, AWS's input name, fixed NHWC shape, f32."""
    model = ov.convert_model(str(pb), input=[(f"{AWS_INPUT_NAME}:0", [1, 120, 160, 1])])
    assert [sorted(p.get_names()) for p in model.inputs] == [[f"{AWS_INPUT_NAME}:0"]]
    assert AWS_OUTPUT_NAME + ":0" in model.outputs[0].get_names()
    compiled = ov.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    return lambda frame: compiled(frame[None, :, :, None].astype(np.float32))[0][0]


@pytest.mark.parametrize("network", NETWORK_NAMES)
def test_every_network_matches_torch_through_the_car_loader(network, frames, tmp_path):
    policy = decisive_policy(network)
    pb = write_frozen_graph(tmp_path / "model.pb", layers_from_policy(policy), discrete=True)
    run = car_runner(pb)
    module = exportable_policy(policy, discrete=True)
    with torch.no_grad():
        reference = module(torch.from_numpy(frames[:, None].astype(np.float32))).numpy()
    got = np.stack([run(f) for f in frames])
    assert np.max(np.abs(got - reference)) < 1e-5
    assert np.array_equal(np.argmax(got, axis=1), np.argmax(reference, axis=1))
    assert len(set(np.argmax(reference, axis=1))) > 1, "frames should not all choose one action"
    ops = {n.op for n in build_graph_def(layers_from_policy(policy)).node}
    assert ops >= {"Placeholder", "RealDiv", "Conv2D", "BiasAdd", "Relu", "Transpose", "Reshape", "MatMul", "Softmax"}
    assert ("FusedBatchNorm" not in ops) and ("FusedBatchNormV3" not in ops)   # folded into the convs


def test_continuous_policy_outputs_the_mean_under_the_policy_name(frames, tmp_path):
    policy = decisive_policy("DEEP_CONVOLUTIONAL_NETWORK_SHALLOW", continuous=True)
    pb = write_frozen_graph(tmp_path / "model.pb", layers_from_policy(policy), discrete=False)
    graph = build_graph_def(layers_from_policy(policy), discrete=False)
    assert [n.op for n in graph.node if n.name == AWS_OUTPUT_NAME] == ["Identity"]
    run = car_runner(pb)
    with torch.no_grad():
        reference = exportable_policy(policy, discrete=False)(torch.from_numpy(frames[:, None].astype(np.float32))).numpy()
    got = np.stack([run(f) for f in frames])
    assert got.shape == (40, 2) and np.max(np.abs(got - reference)) < 1e-5


def test_bad_networks_get_clear_errors():
    conv = Layer("conv", np.zeros((4, 1, 3, 3), np.float32), np.zeros(4, np.float32), 1)
    with pytest.raises(FrozenGraphError, match="layer 0: conv weight .* does not take 3 channels"):
        build_graph_def([conv], in_channels=3)
    with pytest.raises(FrozenGraphError, match="layer 2: dense weight \\(2, 5\\) does not take 74576 inputs"):
        build_graph_def([conv, Layer("flatten"), Layer("dense", np.zeros((2, 5), np.float32), np.zeros(2, np.float32))])
    with pytest.raises(FrozenGraphError, match="never flattens"):
        build_graph_def([conv])
    with pytest.raises(FrozenGraphError, match="unknown kind 'maxpool'"):
        build_graph_def([conv, Layer("maxpool")])
    policy = decisive_policy("DEEP_CONVOLUTIONAL_NETWORK_SHALLOW")
    policy.pi_features_extractor.cnn[1] = torch.nn.ELU()
    with pytest.raises(ExportError, match="layer ELU cannot be written as a TF frozen graph"):
        layers_from_policy(policy)
