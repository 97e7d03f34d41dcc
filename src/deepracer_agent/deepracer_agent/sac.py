"""SAC for continuous action spaces, as AWS DeepRacer trains it (``training_algorithm: sac``).

stable-baselines3's :class:`~stable_baselines3.SAC` with the DeepRacer networks of
:mod:`deepracer_agent.networks` (the metadata's ``neural_network`` CNN as ONE features extractor
shared by the actor and the two critics and trained by the critics' loss, the target critics with
their own Polyak-averaged copy: :func:`policy_class`; the network's dense heads as ``net_arch``)
on the env's ``Box(-1, 1, (2,))`` normalised ``[steering, speed]`` action, which the env maps onto
the metadata's ``{steering_angle: {low, high}, speed: {low, high}}`` ranges (as AWS's simapp scales
the network's [-1, 1] outputs). The policy is SB3's tanh-squashed Gaussian; the car drives its
deterministic mean ``tanh(mu)`` (exports carry it under AWS's continuous output name).

DRfC's ``hyperparameters.json`` names map onto SAC as:

=================  ==================  ==================================================
DeepRacer name     SB3 SAC             note
=================  ==================  ==================================================
sac_alpha (0.2)    ent_coef            fixed entropy temperature (as AWS's SAC)
lr (3e-4)          learning_rate       actor and critics (Adam)
batch_size (64)    batch_size          replay minibatch per gradient step
discount_factor    gamma
=================  ==================  ==================================================

``sac.*`` (see :class:`deepracer_agent.config.SACSettings`): ``buffer_size``, ``learning_starts``,
``tau``, ``train_freq``, ``gradient_steps``. The other PPO names (``num_epochs``, ``beta_entropy``,
``loss_type``) have no effect on SAC. An iteration of ``deepracer train`` collects the same number
of env steps as a PPO iteration would (``ppo.n_steps``: ``num_episodes_between_training``
episodes), updating every ``train_freq`` steps, and ends with a checkpoint.

Checkpoints (:mod:`deepracer_agent.checkpoint`, no pickle): the actor, critics and target critics,
and both Adam states. The replay buffer is NOT stored (a 10k-transition buffer of camera frames is
~0.4 GB): a resumed SAC run starts with an empty buffer and refills it (``learning_starts`` again).
"""
from __future__ import annotations

import functools
from typing import Any

ALGORITHM = "sac"
POLICY_CLASS = "SACPolicy"


def is_sac(cfg: Any) -> bool:
    """Whether the training config (TrainConfig) trains SAC (its metadata's training_algorithm)."""
    return cfg.metadata().training_algorithm == ALGORITHM


def sac_policy_kwargs(metadata: Any, options: Any = None) -> dict[str, Any]:
    """SB3 ``SACPolicy`` kwargs for the DeepRacer network that ``metadata`` names (the PPO kwargs
    of :func:`deepracer_agent.networks.policy_kwargs_for`, with SAC's ``pi``/``qf`` heads)."""
    from .networks import policy_kwargs_for

    kw = policy_kwargs_for(metadata, options)
    heads = list(kw.pop("net_arch")["pi"])
    kw["net_arch"] = {"pi": heads, "qf": list(heads)}
    kw["share_features_extractor"] = True      # one CNN, trained by the critics (policy_class)
    return kw


@functools.lru_cache(maxsize=None)
def policy_class() -> Any:
    """``DeepRacerSACPolicy``: SB3's ``SACPolicy`` with ONE camera CNN shared by the actor and the
    critics and trained by the critics' loss only (SAC-AE's and DrQ's recipe for SAC on pixels).

    Why: with SB3's default (separate CNNs, each trained by its own loss) the actor's CNN died on
    the demo task: after ~450 gradient steps (lr 1e-3, SB3's SAC clips no gradients) 96 % of its
    convolution outputs and 88 % of its dense units were never positive on camera frames, its
    features were the same for every frame and the car drove one constant action (std 3e-4 over a
    lap) while the critics' CNN stayed alive (BENCHMARKS.md, section 1b).

    How, per gradient step of SB3's ``SAC.train`` (unchanged):

    - the critic computes the shared CNN's features WITH a graph for its TD loss (the replay
      buffer's actions carry no gradient): the critics' optimizer trains the CNN;
    - the actor sees the features detached (``no_grad``): the actor's optimizer holds its dense
      layers and heads only;
    - the critic evaluated for the actor's loss (its actions carry the actor's gradient) computes
      the features without a graph too: the actor needs only ``dQ/da``;
    - the target critics keep their own CNN, Polyak-averaged with ``tau`` like their heads.

    Per gradient step that is 4 CNN forward passes (3 without a graph) and 1 backward pass, against
    SB3's 5 and 3. The exported actor is the same network (CNN, dense layers, ``tanh(mu)``); the
    checkpoint stores the shared CNN once (under the actor's and the critic's names)."""
    import torch
    from stable_baselines3.common.policies import ContinuousCritic
    from stable_baselines3.sac.policies import Actor, SACPolicy

    class DeepRacerActor(Actor):
        def extract_features(self, obs: Any, features_extractor: Any) -> Any:
            with torch.no_grad():       # the critics train the shared CNN; the actor reads it
                return super().extract_features(obs, features_extractor)

    class DeepRacerCritic(ContinuousCritic):
        def forward(self, obs: Any, actions: Any) -> tuple[Any, ...]:
            # a graph through the CNN only for the critics' own loss (replay actions, no gradient)
            with torch.set_grad_enabled(torch.is_grad_enabled() and not actions.requires_grad):
                features = self.extract_features(obs, self.features_extractor)
            qvalue_input = torch.cat([features, actions], dim=1)
            return tuple(q_net(qvalue_input) for q_net in self.q_networks)

    class DeepRacerSACPolicy(SACPolicy):
        def make_actor(self, features_extractor: Any = None) -> Any:
            actor_kwargs = self._update_features_extractor(self.actor_kwargs, features_extractor)
            return DeepRacerActor(**actor_kwargs).to(self.device)

        def make_critic(self, features_extractor: Any = None) -> Any:
            critic_kwargs = self._update_features_extractor(self.critic_kwargs, features_extractor)
            return DeepRacerCritic(**critic_kwargs).to(self.device)

        def _build(self, lr_schedule: Any) -> None:
            super()._build(lr_schedule)
            if not self.share_features_extractor:
                return
            # SB3 trains a shared CNN with the actor's loss; here the critics' optimizer owns it
            shared = {id(p) for p in self.actor.features_extractor.parameters()}
            self.actor.optimizer = self.optimizer_class(
                [p for p in self.actor.parameters() if id(p) not in shared], lr=lr_schedule(1), **self.optimizer_kwargs)
            self.critic.optimizer = self.optimizer_class(self.critic.parameters(), lr=lr_schedule(1),
                                                         **self.optimizer_kwargs)

    return DeepRacerSACPolicy


def shift_images(images: Any, max_px: int, generator: Any = None) -> Any:
    """DrQ's random shift: each image of the batch ``images`` (B, C, H, W; any dtype, uint8 frames
    stay uint8) moved by its own integer offset in ``[-max_px, max_px]`` pixels along both axes,
    the edge pixels repeated into the space it leaves (as padding with 'replicate' and cropping
    back does). ``max_px`` 0 returns ``images`` itself."""
    import torch
    from deepracer_sim.torch_augment import shift_edge_repeat

    if max_px <= 0:
        return images
    dy, dx = torch.randint(-max_px, max_px + 1, (2, images.shape[0]), device=images.device, generator=generator)
    # image b shows what lies dy rows / dx columns further on: a move by -dy, -dx
    return shift_edge_repeat(shift_edge_repeat(images, 2, -dy), 3, -dx)


@functools.lru_cache(maxsize=None)
def shifting_replay_buffer() -> Any:
    """``ShiftingReplayBuffer``: SB3's ReplayBuffer whose samples carry DrQ's random shift
    (:func:`shift_images`) on the observations and, independently drawn, the next observations;
    what is stored stays the camera's frames (so the Redis-fed buffer of the decoupled trainer
    and a resumed run see the same data)."""
    from stable_baselines3.common.buffers import ReplayBuffer
    from stable_baselines3.common.type_aliases import ReplayBufferSamples

    class ShiftingReplayBuffer(ReplayBuffer):
        def __init__(self, *args: Any, image_shift_px: int = 0, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.image_shift_px = int(image_shift_px)

        def _get_samples(self, batch_inds: Any, env: Any = None) -> Any:
            s = super()._get_samples(batch_inds, env)
            if self.image_shift_px <= 0 or s.observations.ndim != 4:
                return s
            return ReplayBufferSamples(shift_images(s.observations, self.image_shift_px), s.actions,
                                       shift_images(s.next_observations, self.image_shift_px),
                                       s.dones, s.rewards, *s[5:])

    return ShiftingReplayBuffer


def build_sac(cfg: Any, env: Any) -> Any:
    """A new SB3 SAC model for ``cfg`` (a TrainConfig with a continuous ``sac`` metadata) over ``env``.

    ``sac.auto_alpha`` learns the temperature from ``sac_alpha`` (SB3's ``"auto_<alpha>"``, target
    entropy -2 = -dim(action)); ``sac.image_shift_px`` replays frames through DrQ's random shift."""
    from stable_baselines3 import SAC

    hp, s = cfg.hyperparameters, cfg.sac
    ent_coef: Any = f"auto_{float(hp.sac_alpha)!r}" if s.auto_alpha else float(hp.sac_alpha)
    extra: dict[str, Any] = {}
    if s.image_shift_px:
        extra = {"replay_buffer_class": shifting_replay_buffer(),
                 "replay_buffer_kwargs": {"image_shift_px": s.image_shift_px}}
    return SAC(policy_class(), env, learning_rate=hp.lr, buffer_size=s.buffer_size, learning_starts=s.learning_starts,
               batch_size=hp.batch_size, tau=s.tau, gamma=hp.discount_factor, train_freq=s.train_freq,
               gradient_steps=s.gradient_steps, ent_coef=ent_coef,
               policy_kwargs=sac_policy_kwargs(cfg.metadata(), cfg.network_options()),
               seed=cfg.seed, device="cuda" if cfg.device == "cuda-sb3" else cfg.device, verbose=0, **extra)


def make_sac_policy(observation_space: Any, action_space: Any, cfg: Any, device: str = "cpu") -> Any:
    """A bare SB3 SAC policy (actor + critics) for ``cfg``, for loading a checkpoint's weights."""
    lr = float(cfg.hyperparameters.lr)
    return policy_class()(observation_space, action_space, lambda _p: lr,
                     **sac_policy_kwargs(cfg.metadata(), cfg.network_options())).to(device)


def is_sac_policy(policy: Any) -> bool:
    from stable_baselines3.sac.policies import SACPolicy

    return isinstance(policy, SACPolicy)


def optimizers(policy: Any) -> dict[str, Any]:
    """The SAC policy's optimizers by checkpoint prefix."""
    return {"actor": policy.actor.optimizer, "critic": policy.critic.optimizer}


def _sac_view(policy: Any) -> Any:
    """A SAC policy as the exporter sees a PPO one: a :class:`~deepracer_agent.networks.TanhHeadView`
    of its actor (features extractor, ``latent_pi`` dense layers, head ``mu``): ``tanh(mu)``."""
    from .networks import TanhHeadView

    actor = policy.actor

    class _Mlp:
        policy_net = actor.latent_pi

        @staticmethod
        def forward_actor(features: Any) -> Any:
            return actor.latent_pi(features)

    return TanhHeadView(policy, actor.features_extractor, _Mlp(), actor.mu)


def export_view(policy: Any) -> Any:
    """``policy`` itself (discrete or plain-Gaussian PPO), or the
    :class:`~deepracer_agent.networks.TanhHeadView` of a squashed one (SAC's actor, squashed
    continuous PPO): the exported head is the deterministic action, ``tanh(mean)``."""
    from .networks import SquashedActorCriticCnnPolicy, TanhHeadView

    if isinstance(policy, SquashedActorCriticCnnPolicy):
        return TanhHeadView(policy, policy.pi_features_extractor, policy.mlp_extractor, policy.action_net)
    return _sac_view(policy) if is_sac_policy(policy) else policy


__all__ = [
    "ALGORITHM",
    "POLICY_CLASS",
    "build_sac",
    "export_view",
    "is_sac",
    "is_sac_policy",
    "make_sac_policy",
    "optimizers",
    "policy_class",
    "sac_policy_kwargs",
    "shift_images",
    "shifting_replay_buffer",
]
