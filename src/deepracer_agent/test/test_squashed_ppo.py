"""Continuous PPO's tanh-squashed Gaussian (networks.SquashedActorCriticCnnPolicy): log-prob with the
tanh correction, deterministic action tanh(mean), PPO updates, the no-pickle checkpoint (and the
refusal to resume an old clipped-Gaussian one), and exports that carry tanh(mean)."""
import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.policies import ActorCriticCnnPolicy

from deepracer_agent import checkpoint
from deepracer_agent.config import TrainConfig
from deepracer_agent.networks import SquashedActorCriticCnnPolicy, policy_kwargs_for, ppo_policy_class
from deepracer_inference.metadata import ModelMetadata

META = ModelMetadata.continuous((-30, 30), (0.5, 1.0))
META.neural_network = "DEEP_CONVOLUTIONAL_NETWORK"      # the smallest of the three: fast on CPU


class ContinuousCameraEnv(gym.Env):
    """(120, 160, 1) uint8 frames, actions in Box(-1, 1, (2,)), reward for steering right."""

    observation_space = gym.spaces.Box(0, 255, (120, 160, 1), np.uint8)
    action_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        return self.observation_space.sample(), {}

    def step(self, action):
        return self.observation_space.sample(), float(action[0]), False, False, {}


def _model(seed=0, cls=SquashedActorCriticCnnPolicy, **kw):
    return PPO(cls, ContinuousCameraEnv(), policy_kwargs=policy_kwargs_for(META), n_steps=16, batch_size=8,
               n_epochs=2, device="cpu", seed=seed, **kw)


def _obs(n=6, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 1, 120, 160)).astype(np.float32)


def _mean(policy, obs):
    with torch.no_grad():
        latent = policy.mlp_extractor.forward_actor(policy.pi_features_extractor(torch.from_numpy(obs)))
        return policy.action_net(latent).numpy().astype(np.float64)


def _set_bias(policy, bias):
    """Push the pre-tanh mean outside [-1, 1], where tanh(mean) and clip(mean) differ."""
    with torch.no_grad():
        policy.action_net.weight.mul_(0.01)
        policy.action_net.bias.copy_(torch.tensor(bias))


def _train_config():
    return TrainConfig.from_dict({"model_metadata": META.to_dict(), "hyperparameters": {"stack_size": 1}})


def test_ppo_continuous_policy_squashed_picks_the_squashed_policy():
    assert ppo_policy_class(META, "squashed") is SquashedActorCriticCnnPolicy
    assert ppo_policy_class(META) is ActorCriticCnnPolicy                        # the default: clipped
    assert ppo_policy_class(ModelMetadata.default(), "squashed") is ActorCriticCnnPolicy   # discrete
    assert TrainConfig.from_dict({"ppo": {"continuous_policy": "squashed"}}).ppo.continuous_policy == "squashed"
    with pytest.raises(ValueError, match="continuous_policy"):
        TrainConfig.from_dict({"ppo": {"continuous_policy": "tanh"}})
    policy = _model().policy
    assert policy.squash_output and type(policy.action_dist).__name__ == "SquashedDiagGaussianDistribution"
    # same parameters as the plain Gaussian policy: names and shapes
    plain = _model(cls=ActorCriticCnnPolicy).policy
    assert {k: v.shape for k, v in policy.state_dict().items()} == {k: v.shape for k, v in plain.state_dict().items()}


def test_log_prob_matches_a_reference_with_the_tanh_correction():
    policy = _model().policy
    policy.set_training_mode(False)
    obs = _obs()
    mean = _mean(policy, obs)
    std = np.exp(policy.log_std.detach().numpy().astype(np.float64))
    rng = np.random.default_rng(1)
    u = mean + std * rng.standard_normal(mean.shape)
    actions = np.tanh(u)
    actions[0] = [1.0, -1.0]                # stored actions at the bounds: finite (SB3 clamps atanh)
    _values, log_prob, entropy = policy.evaluate_actions(torch.from_numpy(obs), torch.from_numpy(actions).float())
    log_prob = log_prob.detach().numpy()
    assert entropy is None                  # PPO then uses -mean(log_prob) as the entropy estimate
    assert np.all(np.isfinite(log_prob))
    eps = np.finfo(np.float32).eps
    a = np.clip(actions.astype(np.float32), -1 + eps, 1 - eps).astype(np.float64)
    g = np.arctanh(a)
    gauss = -0.5 * ((g - mean) / std) ** 2 - np.log(std) - 0.5 * np.log(2 * np.pi)
    reference = gauss.sum(1) - np.log(1 - a ** 2 + 1e-6).sum(1)
    assert np.allclose(log_prob[1:], reference[1:], rtol=1e-4, atol=1e-3)
    # at the bounds the float32 atanh is coarse: same order, not the same digits
    assert abs(log_prob[0] - reference[0]) < 0.05 * abs(reference[0])
    # and the correction matters: the plain Gaussian's log-density of atanh(a) differs
    assert not np.allclose(log_prob[1:], gauss.sum(1)[1:], atol=1e-2)


def test_deterministic_action_is_tanh_of_the_mean():
    policy = _model().policy
    _set_bias(policy, [1.5, -2.0])
    policy.set_training_mode(False)
    obs = _obs(3)
    want = np.tanh(_mean(policy, obs))
    assert np.all(np.abs(want[:, 0] - np.tanh(1.5)) < 0.05)    # outside the clip box before tanh
    for o, w in zip(obs, want):
        act, _ = policy.predict(o.transpose(1, 2, 0).astype(np.uint8), deterministic=True)
        assert np.allclose(act, w, atol=1e-5) and np.all(np.abs(act) < 1.0)
    sampled = np.stack([policy.predict(obs[0].transpose(1, 2, 0).astype(np.uint8))[0] for _ in range(50)])
    assert np.all(np.abs(sampled) <= 1.0) and sampled.std(0).min() > 0.01


@pytest.mark.slow   # 3 rollouts + 6 minibatch updates of the CNN: ~30 s on the loaded 2-core box
def test_ppo_updates_run_and_move_the_weights():
    model = _model(ent_coef=0.01)
    before = {k: v.clone() for k, v in model.policy.state_dict().items()}
    model.learn(48)                          # 3 rollouts of 16 steps, 2 epochs of 2 minibatches each
    logged = model.logger.name_to_value
    assert model._n_updates == 6
    for key in ("train/entropy_loss", "train/policy_gradient_loss", "train/value_loss", "train/approx_kl"):
        assert np.isfinite(logged[key]), key
    after = model.policy.state_dict()
    assert not torch.equal(before["action_net.weight"], after["action_net.weight"])
    assert not torch.equal(before["log_std"], after["log_std"])
    assert all(torch.isfinite(v).all() for v in after.values() if v.is_floating_point())


def test_checkpoint_restores_it_and_refuses_to_resume_an_old_clipped_gaussian(tmp_path):
    model = _model()
    _set_bias(model.policy, [1.5, -2.0])
    path = checkpoint.save(model, tmp_path / "squashed.zip", _train_config())
    assert checkpoint.read(path).header["policy_class"] == "SquashedActorCriticCnnPolicy"
    policy = checkpoint.make_policy(path)
    assert type(policy) is SquashedActorCriticCnnPolicy
    o = _obs(1)[0].transpose(1, 2, 0).astype(np.uint8)
    model.policy.set_training_mode(False)
    assert np.allclose(policy.predict(o, deterministic=True)[0], model.policy.predict(o, deterministic=True)[0])
    checkpoint.restore(_model(seed=3), path)                   # resume: fits

    old_model = _model(cls=ActorCriticCnnPolicy)              # continuous PPO before this change
    old = checkpoint.save(old_model, tmp_path / "old.zip", _train_config())
    assert checkpoint.read(old).header["policy_class"] == "ActorCriticCnnPolicy"
    assert type(checkpoint.make_policy(old)) is ActorCriticCnnPolicy   # evaluates/exports as trained
    with pytest.raises(checkpoint.CheckpointError, match="ActorCriticCnnPolicy checkpoint .* does not fit this "
                                                        "SquashedActorCriticCnnPolicy model"):
        checkpoint.restore(_model(), old)


@pytest.mark.slow   # ONNX + OpenVINO + the frozen graph: ~20-40 s on the loaded 2-core box
def test_exports_carry_tanh_of_the_mean(tmp_path):
    from deepracer_agent.export import export_checkpoint
    from deepracer_inference.engine import Policy

    model = _model()
    _set_bias(model.policy, [1.5, -2.0])                      # tanh != clip: the exports must squash
    META.save(tmp_path / "model_metadata.json")
    path = checkpoint.save(model, tmp_path / "squashed.zip", _train_config())
    result = export_checkpoint(path, out=tmp_path / "artifact", aws=True)
    assert result.manifest["output"]["name"] == "action_mean" and result.manifest["self_check"]["passed"]
    assert result.aws, result.aws_skipped
    frames = _obs(4, seed=5).astype(np.uint8)
    want = np.tanh(_mean(model.policy, frames.astype(np.float32)))
    sources = [(result.folder, "openvino"), (result.folder, "onnxruntime"), (result.aws["pb_only"], "openvino")]
    for source, engine in sources:
        policy = Policy.from_path(source, engine=engine)
        for f, w in zip(frames, want):
            policy.reset()
            d = policy.decide_preprocessed(f[0])
            assert np.allclose(d.action, w, atol=1e-4), (source, engine, d.action, w)
            assert (d.steering_deg, d.speed_m_s) == pytest.approx(META.action_to_drive(w), abs=1e-3)
