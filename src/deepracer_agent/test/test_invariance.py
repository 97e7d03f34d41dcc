"""PPO's invariance term (``regularisation.invariance*``, DrAC's policy term): the frame transforms,
the KL on SB3's distributions (and the shared-object gotcha it avoids), that the copied PPO update is
SB3's when the term weighs nothing, that the term makes the policy more invariant, and the configs
that cannot run it fail with one line. On the real embedded env."""
import numpy as np
import pytest
import torch
from deepracer_agent.config import ConfigError, check_inputs, load_config
from deepracer_agent.invariance import (InvarianceOptions, action_distribution, policy_kl, transform_frames)
from deepracer_agent.train import TrainError, build_model, make_env

TINY = ["n_envs=2", "torch_threads=1", "ppo.n_steps=32", "hyperparameters.batch_size=16",
        "hyperparameters.num_epochs=2"]


def _model(*overrides: str):
    cfg = load_config(None, [*TINY, *overrides])
    track, reward = check_inputs(cfg)
    return build_model(cfg, make_env(cfg, track, reward), None)


def _frames(b: int = 6, c: int = 1, h: int = 20, w: int = 8) -> torch.Tensor:
    return torch.as_tensor(np.random.default_rng(0).integers(0, 256, (b, c, h, w)), dtype=torch.uint8)


def test_frames_shift_vertically_by_their_own_draw_and_invert_with_the_given_probability():
    x = _frames()
    shifted = transform_frames(x, InvarianceOptions(coef=1, shift_px=4, invert_probability=0.0),
                               torch.Generator().manual_seed(5))
    dy = torch.randint(-4, 5, (x.shape[0],), generator=torch.Generator().manual_seed(5))
    for i in range(x.shape[0]):
        rows = (torch.arange(x.shape[2]) - dy[i]).clamp(0, x.shape[2] - 1)   # edge rows repeated
        assert torch.equal(shifted[i], x[i][:, rows, :])
    assert shifted.dtype == torch.uint8 and not torch.equal(shifted, x)
    inverted = transform_frames(x, InvarianceOptions(coef=1, shift_px=0, invert_probability=1.0))
    assert torch.equal(inverted, 255 - x)
    assert torch.equal(transform_frames(x.float(), InvarianceOptions(coef=1, shift_px=0, invert_probability=0.0)),
                       x.float())
    half = transform_frames(torch.zeros(4000, 1, 2, 2), InvarianceOptions(coef=1, shift_px=0, invert_probability=0.5),
                            torch.Generator().manual_seed(1))
    assert 0.45 < float((half[:, 0, 0, 0] == 255).float().mean()) < 0.55


@pytest.mark.parametrize("space", ["discrete", "continuous"])
def test_kl_compares_two_calls_even_though_sb3_refills_one_distribution_object(space):
    meta = [] if space == "discrete" else [
        'model_metadata={"action_space_type":"continuous","action_space":'
        '{"steering_angle":{"low":-30,"high":30},"speed":{"low":0.5,"high":1.0}}}']
    model = _model(*meta)
    obs = torch.as_tensor(np.random.default_rng(1).integers(0, 256, (8, 1, 120, 160)), dtype=torch.float32)
    with torch.no_grad():
        first, second = model.policy.get_distribution(obs), model.policy.get_distribution(255 - obs)
        assert first is second                             # the gotcha: KL(first, second) would be 0
        a, b = action_distribution(model.policy, obs), action_distribution(model.policy, 255 - obs)
        kl = policy_kl(a, b)
    assert kl.shape == (8,) and bool((kl > 0).all())
    assert torch.allclose(policy_kl(a, a), torch.zeros(8), atol=1e-6)


def test_the_update_is_sb3s_ppo_when_the_term_weighs_nothing():
    import copy

    from stable_baselines3 import PPO

    model = _model("regularisation.invariance=1e-12")
    model.learn(64)                                  # a trained policy, a fresh rollout in the buffer
    model.rollout_buffer.full = True
    saved = copy.deepcopy((model.policy.state_dict(), model.policy.optimizer.state_dict(), model._n_updates))

    def update(train) -> dict:
        model.policy.load_state_dict(saved[0])
        model.policy.optimizer.load_state_dict(copy.deepcopy(saved[1]))   # torch adopts the tensors given
        model._n_updates = saved[2]
        np.random.seed(7)                            # the minibatch order
        train()
        return copy.deepcopy(model.policy.state_dict())

    sb3 = update(lambda: PPO.train(model))
    sb3_kl = model.logger.name_to_value["train/approx_kl"]
    ours = update(model.train)                       # DeepRacerPPO.train -> invariance.ppo_train
    assert model.logger.name_to_value["train/invariance_kl"] > 0.0
    assert model.logger.name_to_value["train/approx_kl"] == pytest.approx(sb3_kl, rel=1e-4)
    for name, p in sb3.items():
        assert torch.allclose(p, ours[name], atol=1e-6), name
    assert any(not torch.equal(p, saved[0][n]) for n, p in ours.items())   # it did train


def test_the_term_makes_the_policy_act_more_alike_on_transformed_frames():
    options = InvarianceOptions(coef=1.0, shift_px=12, invert_probability=0.5)

    def kl_on_rollout(model) -> float:
        obs = torch.as_tensor(model.rollout_buffer.observations.reshape(-1, 1, 120, 160), dtype=torch.float32)
        with torch.no_grad():
            return float(policy_kl(action_distribution(model.policy, obs), action_distribution(
                model.policy, transform_frames(obs, options, torch.Generator().manual_seed(0)))).mean())

    plain, regularised = _model(), _model("regularisation.invariance=30")
    for model in (plain, regularised):
        model.learn(64)
    # the same rollouts feed both updates up to the last one; compare on the last rollout, 5 more epochs
    for model in (plain, regularised):
        model.n_epochs = 5
        model.train()
    assert kl_on_rollout(regularised) < 0.5 * kl_on_rollout(plain)


def test_configs_that_cannot_run_the_term_say_so():
    sac = ('model_metadata={"action_space_type":"continuous","training_algorithm":"sac","action_space":'
           '{"steering_angle":{"low":-30,"high":30},"speed":{"low":0.5,"high":1.0}}}')
    with pytest.raises(TrainError, match="regularisation.invariance: PPO only"):
        _model("regularisation.invariance=1", sac, "sac.buffer_size=64")
    with pytest.raises(ConfigError, match="regularisation.invariance_invert_probability"):
        load_config(None, ["regularisation.invariance_invert_probability=1.5"])
    with pytest.raises(ConfigError, match="regularisation.invariance"):
        load_config(None, ["regularisation.invariance=-1"])
    from deepracer_agent.torch_train import TorchTrainError, _check

    with pytest.raises(TorchTrainError, match="regularisation.invariance"):
        _check(load_config(None, ["regularisation.invariance=1", "device=cpu-torch", "stop.max_steps=10"]), None, "cpu")


def test_the_bench_measures_how_alike_a_checkpoint_acts_under_the_transforms(tmp_path):
    """``python bench/bench_transfer.py invariance CHECKPOINT`` (BENCHMARKS.md, "Fifth round")."""
    from bench_scripts import load_bench
    from deepracer_agent.train import train

    bench = load_bench("bench_transfer")
    cfg = load_config(None, [*TINY, "stop.max_steps=64", "regularisation.invariance=1"])
    train(cfg, tmp_path / "run", progress_bar=False)
    ckpt = sorted((tmp_path / "run" / "checkpoints").glob("iter_*.zip"))[-1]
    import argparse

    assert bench.main(["invariance", str(ckpt)]) == 0                # the command line prints JSON
    row = bench.bench_invariance(argparse.Namespace(models=[str(ckpt)]))[str(ckpt)]
    assert row["frames"] > 10
    for name in ("shift12", "inverted", "pitch-5deg", "pitch+5deg", "scene:concrete"):
        assert row[f"kl_{name}"] >= 0.0 and 0.0 <= row[f"same_action_{name}"] <= 1.0
    assert row["kl_inverted"] > 0.0                   # an untrained policy still sees the difference
