"""SAC's policy (deepracer_agent.sac.policy_class): the critic evaluated for the actor's loss gives
the actor SB3's exact gradients without back-propagating into the critic's CNN."""
import numpy as np
import pytest
import torch
from deepracer_agent.checkpoint import expected_spaces
from deepracer_agent.config import load_config
from deepracer_agent.sac import make_sac_policy
from stable_baselines3.common.policies import ContinuousCritic
from stable_baselines3.sac.policies import SACPolicy

META = ('model_metadata={"action_space_type":"continuous","training_algorithm":"sac",'
        '"neural_network":"DEEP_CONVOLUTIONAL_NETWORK_DEEP","action_space":'
        '{"steering_angle":{"low":-30,"high":30},"speed":{"low":0.5,"high":1.0}}}')


@pytest.fixture(scope="module")
def policy():
    torch.manual_seed(0)
    cfg = load_config(None, [META])
    obs_space, act_space = expected_spaces(cfg.to_dict())
    p = make_sac_policy(obs_space, act_space, cfg)
    p.set_training_mode(False)      # batch norm: the same statistics in both passes below
    return p


def _obs(n: int = 3) -> torch.Tensor:
    rng = np.random.default_rng(0)
    return torch.as_tensor(rng.integers(0, 256, (n, 1, 120, 160)), dtype=torch.float32)


def _cnn_grads(critic) -> list:
    return [q.grad for q in critic.features_extractor.parameters()]


def test_is_an_sb3_sac_policy_with_sb3s_weight_names(policy):
    assert isinstance(policy, SACPolicy)
    names = set(policy.state_dict())
    assert any(n.startswith("critic.features_extractor.") for n in names)
    assert any(n.startswith("critic_target.qf1.") for n in names)


def test_actor_loss_gradients_equal_sb3s_and_skip_the_critic_cnn(policy):
    obs = _obs()
    critic = policy.critic
    grads = {}
    for how in ("deepracer", "sb3"):
        policy.zero_grad(set_to_none=True)
        torch.manual_seed(1)                          # the same sampled actions both times
        actions_pi, log_prob = policy.actor.action_log_prob(obs)
        q = critic(obs, actions_pi) if how == "deepracer" else ContinuousCritic.forward(critic, obs, actions_pi)
        min_q, _ = torch.min(torch.cat(q, dim=1), dim=1, keepdim=True)
        (0.2 * log_prob.reshape(-1, 1) - min_q).mean().backward()
        grads[how] = [p.grad.clone() for p in policy.actor.parameters() if p.grad is not None]
        cnn = _cnn_grads(critic)
        if how == "deepracer":
            assert all(g is None for g in cnn), "the actor's loss must not reach the critic's CNN"
        else:
            assert any(g is not None and g.abs().sum() > 0 for g in cnn)
    assert len(grads["deepracer"]) == len(grads["sb3"]) > 0
    for a, b in zip(grads["deepracer"], grads["sb3"]):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)


def test_critic_loss_still_trains_the_critic_cnn(policy):
    policy.zero_grad(set_to_none=True)
    actions = torch.zeros((3, 2))                     # the replay buffer's actions: no gradient
    q1, q2 = policy.critic(_obs(), actions)
    (q1.pow(2).mean() + q2.pow(2).mean()).backward()
    assert all(g is not None for g in _cnn_grads(policy.critic))
    assert any(g.abs().sum() > 0 for g in _cnn_grads(policy.critic))
