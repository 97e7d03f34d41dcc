"""Invariance regularisation for PPO (issue 16): a policy that acts alike on a pitched camera and an
inverted palette, without rolling out under them (DrAC's policy term, Raileanu et al. 2021).

Randomizing the camera pitch or the palette in the rollouts makes the demo's task harder: on the
2-core CPU, pitch +-5 deg from scratch needed > 3.5x the demo's steps and still lost most of the
transfer suite (BENCHMARKS.md, "Third round"). Here the rollouts stay nominal and PPO's loss on each
minibatch ``x`` gains one term:

    loss = PPO's loss + coef * mean( KL( pi(.|x) [no gradient] || pi(.|T(x)) ) )

with ``T`` a random transform per frame:

- a vertical shift of up to ``shift_px`` rows, edge rows repeated (the camera's pitch: on the
  resting car a render at +-5 deg aligns with the nominal one shifted by 11-12 rows, ~2.3 rows per
  degree; the default 12 covers the suite's +-5 deg);
- with probability ``invert_probability``, the inverted image ``255 - x`` (dark lines on a light
  road: the suite's held-out ``concrete`` palette is close to the inverted default style).

The value network is not regularised (it never drives the car). Cost: one more forward and backward
pass of the policy network per minibatch (the target is the clean forward PPO's terms use, detached).

Why inside PPO's loss and not a pass of its own after PPO's epochs (tried first, measured: the
policy never learned): a separate pass on the near-zero KL of a young policy is all noise, and
Adam, normalising each gradient, turns that noise into full-size steps (with PPO's optimizer it
also replays PPO's momentum on the old rollout). In PPO's loss, Adam's scale is PPO's gradient.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["InvarianceOptions", "transform_frames", "action_distribution", "detached", "policy_kl", "ppo_train"]


@dataclass(frozen=True)
class InvarianceOptions:
    """``regularisation.invariance*`` of the training config. ``coef`` 0 switches it off.

    coef: weight of the KL term in PPO's loss (>= 0; 0 = off; DrAC used 0.1).
    shift_px: largest vertical shift, in image rows (>= 0).
    invert_probability: chance that a frame is inverted, in [0, 1].
    """

    coef: float = 0.0
    shift_px: int = 12
    invert_probability: float = 0.5

    @property
    def enabled(self) -> bool:
        return self.coef > 0.0


def transform_frames(obs: Any, options: InvarianceOptions, generator: Any = None) -> Any:
    """``T(obs)``: each frame of the batch ``obs`` (N, C, H, W; raw 0-255 values, float or uint8)
    shifted vertically by its own integer draw in ``[-shift_px, shift_px]`` rows and, with
    ``invert_probability``, inverted. The frame stack of a sample (its C channels) moves together."""
    import torch
    from deepracer_sim.torch_augment import shift_edge_repeat

    n = obs.shape[0]
    out = obs
    if options.shift_px > 0:
        shift = torch.randint(-options.shift_px, options.shift_px + 1, (n,), device=obs.device, generator=generator)
        out = shift_edge_repeat(out, 2, shift)
    if options.invert_probability > 0.0:
        flip = torch.rand(n, device=obs.device, generator=generator) < options.invert_probability
        out = torch.where(flip.view(n, 1, 1, 1), 255 - out, out)
    return out


def action_distribution(policy: Any, obs: Any) -> Any:
    """The torch distribution of ``policy``'s actions on ``obs`` (categorical; for continuous
    spaces the Gaussian before any tanh squashing).

    Gotcha: SB3's ``policy.get_distribution`` returns the policy's ONE ``action_dist`` object,
    refilled on every call, so two calls give the same object holding the second result; the torch
    distribution inside it is new on each call, so take it at once."""
    return policy.get_distribution(obs).distribution


def detached(distribution: Any) -> Any:
    """The same torch action distribution (categorical or normal) with no gradient to its parameters."""
    import torch

    if isinstance(distribution, torch.distributions.Categorical):
        return torch.distributions.Categorical(logits=distribution.logits.detach())
    return torch.distributions.Normal(distribution.loc.detach(), distribution.scale.detach())


def policy_kl(target: Any, current: Any) -> Any:
    """Per-sample KL(target || current) of two torch action distributions of the same kind (from
    :func:`action_distribution`; a tanh-squashed Gaussian's KL equals its Gaussian's, the same
    bijection applied to both), summed over action dimensions."""
    import torch

    kl = torch.distributions.kl_divergence(target, current)
    return kl.sum(-1) if kl.ndim > 1 else kl


def ppo_train(model: Any, value_loss_fn: Any) -> None:
    """SB3 2.9's ``PPO.train`` (MIT licence; the same minibatches, clipping, logging and early stop)
    with DrAC's policy term added to each minibatch's loss:
    ``coef * mean(KL(pi(.|x) [no gradient] || pi(.|T(x))))``. ``value_loss_fn(returns, values)`` is
    the value loss (``loss_type``). Used by ``DeepRacerPPO.train`` when ``model.invariance`` is on."""
    import numpy as np
    import torch
    from gymnasium import spaces
    from stable_baselines3.common.utils import explained_variance

    policy, options, generator = model.policy, model.invariance, model.invariance_generator
    policy.set_training_mode(True)
    model._update_learning_rate(policy.optimizer)
    clip_range = model.clip_range(model._current_progress_remaining)
    clip_range_vf = None if model.clip_range_vf is None else model.clip_range_vf(model._current_progress_remaining)
    entropy_losses, pg_losses, value_losses, clip_fractions, inv_losses = [], [], [], [], []
    approx_kl_divs: list = []
    continue_training = True
    for epoch in range(model.n_epochs):
        approx_kl_divs = []
        for data in model.rollout_buffer.get(model.batch_size):
            actions = data.actions.long().flatten() if isinstance(model.action_space, spaces.Discrete) else data.actions
            # evaluate_actions, split so that the clean distribution also serves as the KL's target
            dist = policy.get_distribution(data.observations)
            clean = dist.distribution               # taken before the next call refills ``dist``
            log_prob, entropy = dist.log_prob(actions), dist.entropy()
            values = policy.predict_values(data.observations).flatten()
            advantages = data.advantages
            if model.normalize_advantage and len(advantages) > 1:
                advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
            ratio = torch.exp(log_prob - data.old_log_prob)
            policy_loss = -torch.min(advantages * ratio,
                                     advantages * torch.clamp(ratio, 1 - clip_range, 1 + clip_range)).mean()
            pg_losses.append(policy_loss.item())
            clip_fractions.append(torch.mean((torch.abs(ratio - 1) > clip_range).float()).item())
            values_pred = values if clip_range_vf is None else data.old_values + torch.clamp(
                values - data.old_values, -clip_range_vf, clip_range_vf)
            value_loss = value_loss_fn(data.returns, values_pred)
            value_losses.append(value_loss.item())
            entropy_loss = -torch.mean(-log_prob) if entropy is None else -torch.mean(entropy)
            entropy_losses.append(entropy_loss.item())

            inv_loss = policy_kl(detached(clean), action_distribution(
                policy, transform_frames(data.observations, options, generator))).mean()
            inv_losses.append(inv_loss.item())
            loss = (policy_loss + model.ent_coef * entropy_loss + model.vf_coef * value_loss
                    + options.coef * inv_loss)

            with torch.no_grad():
                log_ratio = log_prob - data.old_log_prob
                approx_kl_div = torch.mean((torch.exp(log_ratio) - 1) - log_ratio).cpu().numpy()
                approx_kl_divs.append(approx_kl_div)
            if model.target_kl is not None and approx_kl_div > 1.5 * model.target_kl:
                continue_training = False
                break
            policy.optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(policy.parameters(), model.max_grad_norm)
            policy.optimizer.step()
        model._n_updates += 1
        if not continue_training:
            break

    buf = model.rollout_buffer
    record = model.logger.record
    record("train/entropy_loss", np.mean(entropy_losses))
    record("train/policy_gradient_loss", np.mean(pg_losses))
    record("train/value_loss", np.mean(value_losses))
    record("train/approx_kl", np.mean(approx_kl_divs))
    record("train/clip_fraction", np.mean(clip_fractions))
    record("train/loss", loss.item())
    record("train/explained_variance", explained_variance(buf.values.flatten(), buf.returns.flatten()))
    record("train/invariance_kl", np.mean(inv_losses))
    if hasattr(policy, "log_std"):
        record("train/std", torch.exp(policy.log_std).mean().item())
    record("train/n_updates", model._n_updates, exclude="tensorboard")
    record("train/clip_range", clip_range)
    if clip_range_vf is not None:
        record("train/clip_range_vf", clip_range_vf)
