"""DeepRacer's named networks (model_metadata ``neural_network``) as stable-baselines3 feature extractors.

Each network takes the RAW uint8 camera frames, channel-first ``(C, 120, 160)`` with C = frame
stack (SB3 transposes a channel-last ``(120, 160, C)`` env space itself), and divides by 255
INSIDE the network. Build the policy with ``normalize_images=False`` (what
:func:`policy_kwargs_for` returns) so SB3 only casts to float: the exported ONNX/IR graph then
takes raw 0-255 values, as DeepRacer's models do.

==================================  ==============================================================
``neural_network``                   layers (conv: [filters, kernel, stride], ReLU after each)
==================================  ==============================================================
DEEP_CONVOLUTIONAL_NETWORK_SHALLOW   conv [32,8,4] [64,4,2] [64,3,1] -> dense 512 ReLU (default)
DEEP_CONVOLUTIONAL_NETWORK           conv [32,5,2] [32,3,1] [64,3,2] [64,3,1] -> dense 64 tanh,
                                     dropout 0.3
DEEP_CONVOLUTIONAL_NETWORK_DEEP      conv [32,8,4] [32,4,2] [64,4,2] [64,3,1], batch norm after each
                                     conv -> dense 512, 512 ReLU; heads 256, 128 ReLU
==================================  ==============================================================

The paper's Table II regularisation maps onto :class:`NetworkOptions`: L2 (the optimizer's
``weight_decay``), dropout probability, batch norm on/off; the entropy bonus is PPO's
``ent_coef`` and is not a network option. Policy and value function get SEPARATE networks
(``share_features_extractor=False``), as in the paper.

Gotcha: dropout and batch norm act differently in train and eval mode. SB3 collects rollouts in
eval mode and trains in train mode; the exporter puts the policy in eval mode.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import torch
from stable_baselines3.common.distributions import SquashedDiagGaussianDistribution
from stable_baselines3.common.policies import ActorCriticCnnPolicy
from stable_baselines3.common.preprocessing import get_action_dim
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

#: name -> (conv layers [filters, kernel, stride], dense sizes, dense activation, default dropout,
#:          default batch norm, policy/value head sizes after the features)
_ARCHITECTURES: dict[str, dict[str, Any]] = {
    "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW": dict(
        conv=[(32, 8, 4), (64, 4, 2), (64, 3, 1)], dense=[512], activation=nn.ReLU,
        dropout=0.0, batch_norm=False, heads=[]),
    "DEEP_CONVOLUTIONAL_NETWORK": dict(
        conv=[(32, 5, 2), (32, 3, 1), (64, 3, 2), (64, 3, 1)], dense=[64], activation=nn.Tanh,
        dropout=0.3, batch_norm=False, heads=[]),
    "DEEP_CONVOLUTIONAL_NETWORK_DEEP": dict(
        conv=[(32, 8, 4), (32, 4, 2), (64, 4, 2), (64, 3, 1)], dense=[512, 512], activation=nn.ReLU,
        dropout=0.0, batch_norm=True, heads=[256, 128]),
}
NETWORK_NAMES = tuple(_ARCHITECTURES)
DEFAULT_NETWORK = "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW"


class NetworkError(ValueError):
    """An unknown network name or an invalid option; the message names it."""


@dataclass(frozen=True)
class NetworkOptions:
    """Regularisation options (the paper's Table II). ``None`` keeps the named network's default.

    dropout: probability after each dense layer of the feature extractor, in [0, 1).
    batch_norm: batch normalisation after each convolution.
    l2_weight_decay: L2 penalty, applied as Adam's ``weight_decay`` (>= 0).
    """

    dropout: float | None = None
    batch_norm: bool | None = None
    l2_weight_decay: float = 0.0

    def validate(self) -> None:
        if self.dropout is not None and not 0.0 <= self.dropout < 1.0:
            raise NetworkError(f"network option dropout={self.dropout}: must be in [0, 1)")
        if not self.l2_weight_decay >= 0.0:
            raise NetworkError(f"network option l2_weight_decay={self.l2_weight_decay}: must be >= 0")


class DeepRacerCNN(BaseFeaturesExtractor):
    """A DeepRacer convolutional network: raw 0-255 (N, C, H, W) floats -> (N, features_dim).

    ``observation_space`` must be a channel-first uint8 image ``Box`` (SB3 transposes channel-last
    env spaces before building the policy).
    """

    def __init__(self, observation_space: gym.spaces.Box, network: str = DEFAULT_NETWORK,
                 dropout: float | None = None, batch_norm: bool | None = None) -> None:
        if network not in _ARCHITECTURES:
            raise NetworkError(f"unknown neural_network {network!r}; expected one of {list(NETWORK_NAMES)}")
        shape = getattr(observation_space, "shape", None)
        if not isinstance(observation_space, gym.spaces.Box) or shape is None or len(shape) != 3:
            raise NetworkError(f"{network} needs a (C, H, W) image Box observation space, got {observation_space}")
        if shape[0] > shape[1] or shape[0] > shape[2]:
            raise NetworkError(f"{network} needs channel-first (C, H, W) images, got shape {shape} "
                               "(SB3 transposes channel-last image spaces itself; check the space's dtype is uint8)")
        arch = _ARCHITECTURES[network]
        dropout = arch["dropout"] if dropout is None else float(dropout)
        batch_norm = arch["batch_norm"] if batch_norm is None else bool(batch_norm)
        features_dim = arch["dense"][-1]
        super().__init__(observation_space, features_dim)

        layers: list[nn.Module] = []
        channels = shape[0]
        for filters, kernel, stride in arch["conv"]:
            layers.append(nn.Conv2d(channels, filters, kernel_size=kernel, stride=stride))
            if batch_norm:
                layers.append(nn.BatchNorm2d(filters))
            layers.append(nn.ReLU())
            channels = filters
        layers.append(nn.Flatten())
        self.cnn = nn.Sequential(*layers)
        with torch.no_grad():
            n_flatten = self.cnn.eval()(torch.zeros((1, *shape), dtype=torch.float32)).shape[1]
        self.cnn.train()

        dense: list[nn.Module] = []
        width = n_flatten
        for size in arch["dense"]:
            dense += [nn.Linear(width, size), arch["activation"]()]
            if dropout > 0.0:
                dense.append(nn.Dropout(dropout))
            width = size
        self.linear = nn.Sequential(*dense)
        self.network = network

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        """Raw 0-255 images (float or uint8) -> features; the /255 happens here, inside the graph."""
        return self.linear(self.cnn(observations.float() / 255.0))


def _network_name(metadata: Any) -> str:
    name = metadata if isinstance(metadata, str) else getattr(metadata, "neural_network", None)
    if name not in _ARCHITECTURES:
        raise NetworkError(f"unknown neural_network {name!r}; expected one of {list(NETWORK_NAMES)}")
    return name


def policy_kwargs_for(metadata: Any, options: NetworkOptions | None = None) -> dict[str, Any]:
    """SB3 ``ActorCriticPolicy`` kwargs for the network that ``metadata`` names.

    ``metadata`` is a :class:`deepracer_inference.metadata.ModelMetadata` (its ``neural_network``)
    or a network name. Use with ``PPO("CnnPolicy", env, policy_kwargs=policy_kwargs_for(meta))``.
    Separate policy and value networks; raw images (``normalize_images=False``); L2 through Adam's
    ``weight_decay``.
    """
    options = options or NetworkOptions()
    options.validate()
    name = _network_name(metadata)
    heads = list(_ARCHITECTURES[name]["heads"])
    optimizer_kwargs: dict[str, Any] = {"eps": 1e-5}  # SB3's default for Adam
    if options.l2_weight_decay > 0.0:
        optimizer_kwargs["weight_decay"] = float(options.l2_weight_decay)
    return {
        "features_extractor_class": DeepRacerCNN,
        "features_extractor_kwargs": {"network": name, "dropout": options.dropout,
                                      "batch_norm": options.batch_norm},
        "share_features_extractor": False,
        "normalize_images": False,
        "net_arch": {"pi": heads, "vf": list(heads)},
        "activation_fn": nn.ReLU,
        "optimizer_class": torch.optim.Adam,
        "optimizer_kwargs": optimizer_kwargs,
    }


# ------------------------------------------------------------------------------ continuous PPO
SQUASHED_POLICY_CLASS = "SquashedActorCriticCnnPolicy"


class SquashedActorCriticCnnPolicy(ActorCriticCnnPolicy):
    """Continuous PPO as AWS trains it: a tanh-squashed diagonal Gaussian over the normalised
    [-1, 1]^2 ``[steering, speed]`` box (the env / ModelMetadata scale it onto the ranges).

    The Gaussian lives in the pre-tanh space (``action_net`` gives its mean, ``log_std`` its
    state-independent log standard deviation); a sample is ``tanh(u)``, ``u ~ N(mean, std)``, and its
    log-probability carries the tanh correction ``- sum log(1 - a^2 + 1e-6)`` (SB3's
    :class:`SquashedDiagGaussianDistribution`; ``evaluate_actions`` recovers ``u = atanh(a)`` with
    ``a`` clamped to ``+-(1 - float32 eps)``, so stored actions at +-1 stay finite). The
    distribution has no closed-form entropy: SB3's PPO then uses ``-mean(log_prob)`` as the entropy
    estimate of ``ent_coef``. The deterministic action is ``tanh(mean)``, strictly inside (-1, 1):
    what the exports (ONNX, OpenVINO, the car's frozen graph) carry and what the car drives.

    Same parameters (names and shapes) as the plain ``ActorCriticCnnPolicy``; only the action
    distribution differs. SB3 asserts ``squash_output`` needs gSDE, so the flag is set after
    construction (``predict`` / rollouts then ``unscale_action`` — the identity on [-1, 1] —
    instead of clipping).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.pop("squash_output", None)
        super().__init__(*args, **kwargs)
        self._squash_output = True

    def _build(self, lr_schedule: Any) -> None:
        if self.use_sde:
            raise NetworkError("the squashed continuous PPO policy does not support gSDE (use_sde)")
        self.action_dist = SquashedDiagGaussianDistribution(get_action_dim(self.action_space))
        super()._build(lr_schedule)


def ppo_policy_class(metadata: Any, continuous_policy: str = "clipped") -> type:
    """The SB3 policy class for PPO on ``metadata``'s action space: for ``action_space_type:
    continuous`` and ``continuous_policy == "squashed"`` (config ``ppo.continuous_policy``) the
    tanh-squashed Gaussian, else SB3's ``ActorCriticCnnPolicy`` (a categorical for discrete spaces,
    the clipped diagonal Gaussian for continuous ones)."""
    if continuous_policy not in ("clipped", "squashed"):
        raise NetworkError(f"ppo.continuous_policy {continuous_policy!r}: expected 'clipped' or 'squashed'")
    continuous = getattr(metadata, "is_discrete", True) is False
    return SquashedActorCriticCnnPolicy if continuous and continuous_policy == "squashed" else ActorCriticCnnPolicy


class TanhHeadView:
    """A tanh-squashed policy as the exporter sees a PPO one (:mod:`deepracer_agent.export`): its
    actor's features extractor, dense layers (``mlp_extractor.policy_net`` / ``forward_actor``) and
    an action head ``Sequential(mean_head, Tanh)``: the deterministic action ``tanh(mean)`` in
    [-1, 1], what ``predict(deterministic=True)`` returns and what AWS's car drives. ``predict``
    is the wrapped policy's."""

    def __init__(self, policy: Any, features_extractor: Any, mlp_extractor: Any, mean_head: Any) -> None:
        self.wrapped = policy
        self.pi_features_extractor = features_extractor
        self.mlp_extractor = mlp_extractor
        self.action_net = nn.Sequential(mean_head, nn.Tanh())
        self.normalize_images = policy.normalize_images
        self.observation_space = policy.observation_space
        self.action_space = policy.action_space

    def predict(self, *args: Any, **kwargs: Any) -> Any:
        return self.wrapped.predict(*args, **kwargs)


