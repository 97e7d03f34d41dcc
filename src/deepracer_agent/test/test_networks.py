"""DeepRacer named networks: PPO builds with them, raw 0-255 input, separate policy/value networks."""
import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.policies import ActorCriticCnnPolicy

from deepracer_agent.networks import NETWORK_NAMES, DeepRacerCNN, NetworkError, NetworkOptions, policy_kwargs_for
from deepracer_inference.metadata import ModelMetadata


class TinyCameraEnv(gym.Env):
    """(120, 160, 1) uint8 frames, 10 discrete actions, reward for action 3."""

    observation_space = gym.spaces.Box(0, 255, (120, 160, 1), np.uint8)
    action_space = gym.spaces.Discrete(10)

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        return self.observation_space.sample(), {}

    def step(self, action):
        return self.observation_space.sample(), float(action == 3), False, False, {}


@pytest.mark.parametrize("name", NETWORK_NAMES)
def test_ppo_builds_and_predicts(name):
    meta = ModelMetadata.default()
    meta.neural_network = name
    model = PPO("CnnPolicy", TinyCameraEnv(), policy_kwargs=policy_kwargs_for(meta), n_steps=8, batch_size=8,
                device="cpu", seed=0)
    policy = model.policy
    assert isinstance(policy, ActorCriticCnnPolicy)
    assert policy.pi_features_extractor is not policy.vf_features_extractor  # separate networks
    assert policy.normalize_images is False
    action, _ = model.predict(TinyCameraEnv.observation_space.sample(), deterministic=True)
    assert 0 <= int(action) < 10
    obs = torch.as_tensor(np.stack([TinyCameraEnv.observation_space.sample().transpose(2, 0, 1)] * 2))
    actions, values, log_prob = policy(obs)
    assert actions.shape == (2,) and values.shape == (2, 1) and torch.all(log_prob <= 0)


def test_division_by_255_is_inside_the_network():
    space = gym.spaces.Box(0, 255, (1, 120, 160), np.uint8)
    net = DeepRacerCNN(space, "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW").eval()
    raw = torch.randint(0, 256, (2, 1, 120, 160)).float()
    with torch.no_grad():
        assert torch.allclose(net(raw), net.linear(net.cnn(raw / 255.0)))
        assert torch.allclose(net(raw.to(torch.uint8)), net(raw))


def test_architectures_and_options():
    space = gym.spaces.Box(0, 255, (2, 120, 160), np.uint8)
    mid = DeepRacerCNN(space, "DEEP_CONVOLUTIONAL_NETWORK")
    assert mid.features_dim == 64 and any(isinstance(m, torch.nn.Dropout) and m.p == 0.3 for m in mid.linear)
    assert [m.kernel_size[0] for m in mid.cnn if isinstance(m, torch.nn.Conv2d)] == [5, 3, 3, 3]
    deep = DeepRacerCNN(space, "DEEP_CONVOLUTIONAL_NETWORK_DEEP")
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in deep.cnn) == 4 and deep.features_dim == 512
    no_bn = DeepRacerCNN(space, "DEEP_CONVOLUTIONAL_NETWORK_DEEP", batch_norm=False, dropout=0.1)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in no_bn.cnn)
    assert sum(isinstance(m, torch.nn.Dropout) for m in no_bn.linear) == 2
    kwargs = policy_kwargs_for("DEEP_CONVOLUTIONAL_NETWORK_DEEP", NetworkOptions(l2_weight_decay=1e-4))
    assert kwargs["net_arch"] == {"pi": [256, 128], "vf": [256, 128]}
    assert kwargs["optimizer_kwargs"]["weight_decay"] == 1e-4 and kwargs["share_features_extractor"] is False
    with pytest.raises(NetworkError, match="unknown neural_network 'RESNET'"):
        policy_kwargs_for("RESNET")
    with pytest.raises(NetworkError, match="dropout=1.5"):
        policy_kwargs_for("DEEP_CONVOLUTIONAL_NETWORK", NetworkOptions(dropout=1.5))
    with pytest.raises(NetworkError, match="channel-first"):
        DeepRacerCNN(gym.spaces.Box(0, 255, (120, 160, 1), np.uint8))
