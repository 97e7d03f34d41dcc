"""SAC's policy (deepracer_agent.sac.policy_class): one camera CNN shared by the actor and the critics,
trained by the critics' loss only; the actor's loss reaches the actor's own layers and gets SB3's
gradients for them; the target critics keep their own CNN."""
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
    p.set_training_mode(False)      # batch norm: the same statistics in every pass below
    return p


def _obs(n: int = 3) -> torch.Tensor:
    rng = np.random.default_rng(0)
    return torch.as_tensor(rng.integers(0, 256, (n, 1, 120, 160)), dtype=torch.float32)


def _ids(params) -> set:
    return {id(p) for p in params}


def test_one_cnn_for_actor_and_critics_owned_by_the_critics_optimizer(policy):
    assert isinstance(policy, SACPolicy)
    cnn = _ids(policy.actor.features_extractor.parameters())
    assert policy.critic.features_extractor is policy.actor.features_extractor
    assert policy.critic_target.features_extractor is not policy.actor.features_extractor
    critic_opt = _ids(p for g in policy.critic.optimizer.param_groups for p in g["params"])
    actor_opt = _ids(p for g in policy.actor.optimizer.param_groups for p in g["params"])
    assert cnn <= critic_opt and not cnn & actor_opt
    assert _ids(policy.actor.mu.parameters()) <= actor_opt
    assert critic_opt == _ids(policy.critic.parameters())


def test_actor_loss_trains_the_actor_head_only_with_sb3s_gradients(policy):
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
        grads[how] = [p.grad.clone() for p in policy.actor.mu.parameters()]
        if how == "deepracer":
            assert all(p.grad is None for p in policy.actor.features_extractor.parameters()), \
                "the actor's loss must not reach the shared CNN"
    for a, b in zip(grads["deepracer"], grads["sb3"]):
        assert a.abs().sum() > 0
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)


def test_critic_loss_trains_the_shared_cnn(policy):
    policy.zero_grad(set_to_none=True)
    actions = torch.zeros((3, 2))                     # the replay buffer's actions: no gradient
    q1, q2 = policy.critic(_obs(), actions)
    (q1.pow(2).mean() + q2.pow(2).mean()).backward()
    grads = [p.grad for p in policy.critic.features_extractor.parameters()]
    assert all(g is not None for g in grads) and any(g.abs().sum() > 0 for g in grads)


def test_checkpoint_arrays_store_the_shared_cnn_once_and_refuse_separate_ones(policy):
    from deepracer_agent.checkpoint import arrays_to_policy, policy_to_arrays

    arrays = policy_to_arrays(policy)
    assert any(k.startswith("actor.features_extractor.") for k in arrays)
    assert not any(k.startswith("critic.features_extractor.") for k in arrays)      # stored once
    arrays_to_policy(policy, arrays)                                                  # round trip
    # an older SAC checkpoint: the critics' CNN differs from the actor's -> refused, not mixed up
    old = dict(arrays)
    for k, v in arrays.items():
        if k.startswith("actor.features_extractor."):
            old["critic." + k[len("actor."):]] = v + 1.0
    with pytest.raises(ValueError, match="differ, but this network shares them"):
        arrays_to_policy(policy, old)
