"""Training configuration: ``TrainConfig``, loaded from YAML plus ``key.sub=value`` overrides.

Every value is checked BEFORE anything is built: unknown keys (with a did-you-mean), wrong types and
out-of-range values raise :class:`ConfigError` whose message starts with the dotted key, e.g.
``hyperparameters.lr: must be > 0, got -1.0``. The sections that other packages own are validated
by their owners: ``model_metadata`` by :class:`deepracer_inference.metadata.ModelMetadata`,
``episode`` by :class:`deepracer_sim.episode.EpisodeConfig`, ``sim`` by
:class:`deepracer_sim.config.SimConfig`. :func:`check_inputs` then loads the track and the reward
file, so a missing or broken file fails fast, before any model is built.

Hyperparameters keep AWS DeepRacer's names and defaults (``hyperparameters.json``). How they map
onto stable-baselines3 PPO:

==============================  =====================  ==============================================
DeepRacer name                  SB3 PPO                 note
==============================  =====================  ==============================================
batch_size (64)                 batch_size              minibatch size of the update
num_epochs (10)                 n_epochs                passes over each rollout
lr (3e-4)                       learning_rate           Adam
beta_entropy (0.01)             ent_coef                entropy bonus
discount_factor (0.999)         gamma
loss_type (mean_squared_error)  value loss              ``huber`` = smooth L1 (:class:`DeepRacerPPO`)
num_episodes_between_training   n_steps (per car)       see "Rollout length" below
stack_size (1)                  frame stack             observation (120, 160, stack_size)
e_greedy_value, epsilon_steps,  -                       accepted for AWS compatibility, no effect:
exploration_type                                        PPO explores by sampling its own distribution
term_cond_max_episodes          stop condition          stop after this many episodes
term_cond_avg_score             stop condition          stop when the iteration's mean episode reward
                                                        reaches it
==============================  =====================  ==============================================

Rollout length (the honest mapping of ``num_episodes_between_training``): SB3's PPO collects a fixed
number of steps per car per rollout, not a number of episodes. ``ppo.n_steps: auto`` (the default)
re-chooses that number before every iteration so that ``n_envs * n_steps`` is
``num_episodes_between_training`` times the mean episode length (in steps) of the PREVIOUS
iteration (``ppo.first_episode_steps`` for the first one), clamped to
``[ppo.min_n_steps, ppo.max_n_steps]``. So an iteration holds ~20 episodes, lagging the policy's
episode length by one iteration, and rollouts grow as the car learns to drive further, as on AWS.
Episodes are NOT cut at the rollout boundary (GAE bootstraps across it). An integer ``ppo.n_steps``
fixes the rollout length instead.
"""
from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from deepracer_common import options as _options
from deepracer_common.fileio import atomic_write_yaml
from deepracer_common.options import Options, OptionsError, did_you_mean, option

#: Folder of the YAML configs shipped with the package (``default.yaml``, ``demo.yaml``, ...).
CONFIG_DIR = Path(__file__).resolve().parent / "configs"

__all__ = ["ConfigError", "TrainConfig", "load_config", "check_inputs", "apply_overrides", "parse_override",
           "read_yaml", "shipped_config", "save_yaml", "describe", "did_you_mean", "CONFIG_DIR"]


class ConfigError(OptionsError):
    """A configuration problem; the message starts with the dotted key (or the file) at fault."""


class _Section(Options):
    """A section of the training config (deepracer_common's schema, raising ConfigError)."""

    error = ConfigError


_opt = option  # the field declaration of deepracer_common.options (kind, lo, hi, choices, unit, doc)


# ------------------------------------------------------------------------------------ sections
@dataclass
class Hyperparameters(_Section):
    """AWS DeepRacer ``hyperparameters.json`` names and defaults (see the module docstring)."""

    batch_size: int = _opt(64, kind=int, lo=2, hi=65536, doc="PPO minibatch size")
    num_epochs: int = _opt(10, kind=int, lo=1, hi=1000, doc="passes over each rollout")
    lr: float = _opt(3e-4, lo=0.0, hi=1.0, lo_open=True, doc="Adam learning rate")
    beta_entropy: float = _opt(0.01, lo=0.0, hi=10.0, doc="entropy bonus (ent_coef)")
    discount_factor: float = _opt(0.999, lo=0.0, hi=1.0, doc="gamma")
    loss_type: str = _opt("mean_squared_error", kind=str, choices=("mean_squared_error", "huber"),
                          doc="value loss")
    num_episodes_between_training: int = _opt(20, kind=int, lo=1, hi=100000,
                                               doc="episodes per rollout (see ppo.n_steps)")
    stack_size: int = _opt(1, kind=int, lo=1, hi=16, doc="camera frames per observation")
    e_greedy_value: float = _opt(0.05, lo=0.0, hi=1.0, doc="AWS compatibility, no effect on PPO")
    epsilon_steps: int = _opt(10000, kind=int, lo=0, doc="AWS compatibility, no effect on PPO")
    exploration_type: str = _opt("categorical", kind=str, choices=("categorical", "additive_noise", "e_greedy"),
                                 doc="AWS compatibility, no effect on PPO")
    term_cond_max_episodes: int | None = _opt(None, kind=int, lo=1, allow_none=True,
                                              doc="stop after this many episodes")
    term_cond_avg_score: float | None = _opt(None, allow_none=True,
                                             doc="stop when an iteration's mean episode reward reaches it")
    sac_alpha: float = _opt(0.2, lo=0.0, hi=10.0, doc="SAC: fixed entropy temperature (ent_coef)")


@dataclass
class PPOSettings(_Section):
    """PPO settings DeepRacer does not expose (its fixed values are the defaults)."""

    n_steps: Any = _opt("auto", kind=int, also=("auto",), lo=1, hi=1_000_000,
                        doc="steps per car per rollout, or auto (from num_episodes_between_training)")
    first_episode_steps: int = _opt(30, kind=int, lo=1, doc="auto: episode length guess for iteration 1")
    min_n_steps: int = _opt(16, kind=int, lo=1, doc="auto: lower clamp of steps per car")
    max_n_steps: int = _opt(2048, kind=int, lo=1, doc="auto: upper clamp of steps per car")
    clip_range: float = _opt(0.2, lo=0.0, hi=1.0, lo_open=True, doc="PPO clip epsilon")
    gae_lambda: float = _opt(0.95, lo=0.0, hi=1.0, doc="GAE lambda")
    vf_coef: float = _opt(0.5, lo=0.0, doc="value loss weight")
    max_grad_norm: float = _opt(0.5, lo=0.0, lo_open=True, doc="gradient clipping")
    normalize_advantage: bool = _opt(True, kind=bool)
    continuous_policy: str = _opt("clipped", kind=str, choices=("clipped", "squashed"),
                                  doc="continuous action spaces: clipped (SB3's diagonal Gaussian, samples "
                                      "clipped to [-1, 1], the car drives the clipped mean) or squashed "
                                      "(tanh-squashed Gaussian, the car drives tanh(mean))")


@dataclass
class SACSettings(_Section):
    """SAC settings DeepRacer does not expose (``training_algorithm: sac`` in model_metadata).
    DRfC's names map as: sac_alpha -> ent_coef (fixed), lr -> learning_rate (actor and critics),
    batch_size -> batch_size (replay minibatch), discount_factor -> gamma."""

    buffer_size: int = _opt(10000, kind=int, lo=1, hi=10_000_000,
                            doc="replay buffer transitions (an uint8 frame pair each, ~38 kB per transition)")
    learning_starts: int = _opt(500, kind=int, lo=0, doc="env steps (all cars) before the first update")
    tau: float = _opt(0.005, lo=0.0, hi=1.0, lo_open=True, doc="target critic soft-update rate")
    train_freq: int = _opt(1, kind=int, lo=1, doc="vectorised env steps between updates")
    gradient_steps: int = _opt(1, kind=int, lo=1, hi=1000, doc="gradient steps per update")
    image_shift_px: int = _opt(0, kind=int, lo=0, hi=32,
                               doc="DrQ's augmentation: each replayed frame (and its next frame, drawn "
                                   "independently) shifted by up to +-N pixels, edge pixels repeated; 0 = off")
    auto_alpha: bool = _opt(False, kind=bool,
                            doc="learn the entropy temperature (SB3's 'auto', starting at sac_alpha, "
                                "target entropy -2), instead of AWS's fixed sac_alpha")


@dataclass
class Regularisation(_Section):
    """The paper's Table II (the entropy bonus is ``hyperparameters.beta_entropy``)."""

    l2: float = _opt(0.0, lo=0.0, doc="L2 weight decay (Adam weight_decay)")
    dropout: float | None = _opt(None, lo=0.0, hi=0.99, allow_none=True,
                                 doc="dropout after dense layers (null: the network's default)")
    batch_norm: bool | None = _opt(None, kind=bool, allow_none=True,
                                   doc="batch norm after convolutions (null: the network's default)")
    invariance: float = _opt(0.0, lo=0.0, hi=100.0,
                             doc="PPO: weight of the invariance term in PPO's loss (deepracer_agent.invariance, "
                                 "DrAC: the policy made to act alike on vertically shifted and inverted frames); "
                                 "0 = off")
    invariance_shift_px: int = _opt(12, kind=int, lo=0, hi=60,
                                    doc="invariance: largest vertical shift in image rows (~2.3 rows per "
                                        "degree of camera pitch on the resting car)")
    invariance_invert_probability: float = _opt(0.5, lo=0.0, hi=1.0,
                                                doc="invariance: chance a frame is inverted (255 - value)")


@dataclass
class StopConditions(_Section):
    """Training stops at the first condition met (all off = run until interrupted)."""

    max_wall_time_s: float | None = _opt(None, lo=0.0, lo_open=True, allow_none=True,
                                         doc="wall-clock seconds of training (resumes add up)")
    max_steps: int | None = _opt(None, kind=int, lo=1, allow_none=True, doc="environment steps (all cars)")
    max_iterations: int | None = _opt(None, kind=int, lo=1, allow_none=True, doc="training iterations")
    target_eval_completion: float | None = _opt(None, lo=0.0, hi=1.0, lo_open=True, allow_none=True,
                                                doc="stop when this fraction of robust-eval trials laps")
    target_eval_lap_time_s: float | None = _opt(None, lo=0.0, lo_open=True, allow_none=True,
                                                doc="with target_eval_completion: also need this mean lap time (s)")


@dataclass
class TrainEvaluation(_Section):
    """The quick robust evaluation run during training (for ``stop.target_eval_completion``)."""

    every_iterations: int = _opt(1, kind=int, lo=1, doc="evaluate the latest checkpoint every K iterations")
    start_after_steps: int = _opt(0, kind=int, lo=0, doc="no evaluation before this many env steps")
    trials: int = _opt(10, kind=int, lo=1, hi=1000, doc="robust trials (starts spread over the lap)")
    action_noise: float = _opt(0.1, lo=0.0, hi=1.0, doc="probability of a random action per step")
    both_directions: bool = _opt(True, kind=bool, doc="odd trials drive the track reversed")
    max_steps: int | None = _opt(None, kind=int, lo=1, allow_none=True,
                                 doc="step limit per trial (null: 3 laps at the slowest action speed)")


@dataclass
class Curriculum(_Section):
    """Randomization in after competence (issue 16): with ``randomize_after_eval`` set, training starts
    with ``sim.randomization`` off and the quick robust evaluation (``evaluation.*``) run nominal;
    once it laps in that fraction of its trials, the randomization comes on (new simulators, the
    same policy), and from then on the evaluation runs under it and only it counts for
    ``stop.target_eval_completion``. Checkpoints always carry the full config."""

    randomize_after_eval: float | None = _opt(None, lo=0.0, hi=1.0, lo_open=True, allow_none=True,
                                              doc="nominal robust-eval success that turns sim.randomization on "
                                                  "(null: randomization from the start)")


@dataclass
class CheckpointSettings(_Section):
    """Checkpoint retention. A DEEP_CONVOLUTIONAL_NETWORK_SHALLOW checkpoint (separate policy and
    value networks + Adam state) is ~140 MB, so long runs may want to keep only the latest few."""

    keep_last: int | None = _opt(None, kind=int, lo=1, allow_none=True,
                                 doc="keep only the newest N checkpoints (null: keep all)")
    every_s: float | None = _opt(None, lo=0.0, allow_none=True, unit="s",
                                 doc="GPU trainer (device=cuda): at most one checkpoint per this many seconds of "
                                     "training wall time (null: every iteration); the last iteration always has one")


# ------------------------------------------------------------------------------------ validation
def _check_metadata(name: str, value: Any) -> dict[str, Any]:
    """model_metadata: a mapping in the AWS format or a path to a model_metadata.json; returns the
    validated mapping (so the resolved config is self-contained)."""
    from deepracer_inference.metadata import MetadataError, ModelMetadata

    try:
        if isinstance(value, (str, os.PathLike)):
            meta = ModelMetadata.load(Path(value).expanduser())
        elif isinstance(value, Mapping):
            if "action_space" not in value:  # e.g. {neural_network: ...}: the rest from the default
                value = {**ModelMetadata.default().to_dict(), **value}
            meta = ModelMetadata.from_dict(value, source=name)
        else:
            raise ConfigError(f"{name}: expected a mapping (AWS model_metadata.json content) or a path, "
                              f"got {value!r}")
    except MetadataError as exc:
        msg = str(exc)
        raise ConfigError(msg if msg.startswith(name) else f"{name}: {msg}") from None
    return meta.to_dict()


def _given(built: Options, data: Mapping[str, Any]) -> dict[str, Any]:
    """The keys the user gave, with the normalised values of ``built`` (``"6e2"`` -> 600.0)."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        normalised = getattr(built, key)
        if isinstance(normalised, Options) and isinstance(value, Mapping):
            out[key] = _given(normalised, value)
        else:
            out[key] = copy.deepcopy(normalised)
    return out


def _check_episode(name: str, value: Any) -> dict[str, Any]:
    """``episode``: validated by :class:`deepracer_sim.episode.EpisodeConfig` (kept as the given keys)."""
    from deepracer_sim.episode import EpisodeConfig

    if not isinstance(value, Mapping):
        raise ConfigError(f"{name}: expected a mapping of keys, got {type(value).__name__} {value!r}")
    return _given(EpisodeConfig.from_dict(value, prefix=name, error=ConfigError), value)


def _check_sim(name: str, value: Any) -> dict[str, Any]:
    """``sim``: validated by :class:`deepracer_sim.config.SimConfig` (kept as the given keys)."""
    from deepracer_sim.config import SimConfig

    if not isinstance(value, Mapping):
        raise ConfigError(f"{name}: expected a mapping of keys, got {type(value).__name__} {value!r}")
    return _given(SimConfig.from_dict(value, prefix=name, error=ConfigError), value)


@dataclass
class TrainConfig(_Section):
    """Everything ``deepracer train`` needs. Build with :func:`load_config` / :meth:`from_dict`."""

    track: str = _opt("reinvent2018_like", kind=str, doc="built-in track name, .npy path or aws:NAME (an AWS world of $DEEPRACER_SIMAPP_DIR)")
    train_tracks: list | None = _opt(None, kind=list, item=str, allow_none=True,
                                     doc="train on these tracks in turn, one per iteration (null: track); "
                                         "track stays the evaluation track")
    reward_file: str = _opt("centerline", kind=str,
                            doc="reward .py path or a shipped example name (deepracer_agent/rewards)")
    reward_timeout_s: float | None = _opt(3.0, lo=0.0, hi=3600.0, lo_open=True, allow_none=True,
                                          doc="a reward call running longer (s) stops training with an error "
                                              "(null: no limit)")
    model_metadata: Any = _opt(None, kind=_check_metadata, allow_none=True,
                               doc="AWS model_metadata.json content (mapping; keys left out come from the default) or a path; null: the paper's 10 actions")
    hyperparameters: Hyperparameters = _opt(kind=Hyperparameters, default_factory=Hyperparameters)
    ppo: PPOSettings = _opt(kind=PPOSettings, default_factory=PPOSettings)
    sac: SACSettings = _opt(kind=SACSettings, default_factory=SACSettings)
    regularisation: Regularisation = _opt(kind=Regularisation, default_factory=Regularisation)
    episode: dict = _opt(kind=_check_episode, default_factory=dict,
                         doc="deepracer_sim.episode.EpisodeConfig options")
    sim: dict = _opt(kind=_check_sim, default_factory=dict, doc="deepracer_sim SimConfig options (randomization...)")
    n_envs: int = _opt(4, kind=int, lo=1, hi=4096, doc="cars in the batched simulator")
    seed: int = _opt(0, kind=int, lo=0, hi=2**32 - 1,
                     doc="seeds the simulator, PPO and evaluation (PPO's numpy seed is 32-bit)")
    device: str = _opt("cpu", kind=str, choices=("cpu", "cuda", "auto", "cpu-torch", "cuda-sb3"),
                      doc="cpu / auto / cuda-sb3: SB3 PPO on the numba simulator, on that torch device; "
                          "cuda: the GPU trainer (deepracer_agent.torch_train: torch simulator + PPO on the GPU); "
                          "cpu-torch: the same GPU trainer on torch's CPU backend (tests)")
    torch_threads: int | None = _opt(None, kind=int, lo=1, hi=256, allow_none=True,
                                     doc="torch CPU threads (null: torch's choice); more than the cores only slows "
                                         "training down (hundreds starve the main thread: Ctrl-C then takes minutes)")
    stop: StopConditions = _opt(kind=StopConditions, default_factory=StopConditions)
    evaluation: TrainEvaluation = _opt(kind=TrainEvaluation, default_factory=TrainEvaluation)
    curriculum: Curriculum = _opt(kind=Curriculum, default_factory=Curriculum)
    checkpoints: CheckpointSettings = _opt(kind=CheckpointSettings, default_factory=CheckpointSettings)

    # -------------------------------------------------------------------- construction
    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, prefix: str = "", *,
                  error: type[OptionsError] | None = None) -> "TrainConfig":
        """Validate a nested mapping; errors (:class:`ConfigError`) name the dotted key."""
        return super().from_dict(data, prefix, error=error)

    # -------------------------------------------------------------------- derived objects
    def metadata(self):
        """The validated :class:`~deepracer_inference.metadata.ModelMetadata`."""
        from deepracer_inference.metadata import ModelMetadata

        if self.model_metadata is None:
            return ModelMetadata.default()
        return ModelMetadata.from_dict(self.model_metadata, source="model_metadata")

    def episode_config(self):
        from deepracer_sim.episode import EpisodeConfig

        return EpisodeConfig.from_dict(self.episode, prefix="episode")

    def sim_config(self):
        from deepracer_sim.config import SimConfig

        return SimConfig.from_dict(self.sim)

    @property
    def holds_back_randomization(self) -> bool:
        """True when the curriculum starts this config without its (enabled) randomization."""
        enabled = any(isinstance(v, Mapping) and v.get("enabled") for v in (self.sim.get("randomization") or {}).values())
        return self.curriculum.randomize_after_eval is not None and enabled

    def without_randomization(self) -> "TrainConfig":
        """A copy with ``sim.randomization`` removed (every option off): the curriculum's first phase."""
        data = self.to_dict()
        data["sim"] = {k: v for k, v in data["sim"].items() if k != "randomization"}
        return TrainConfig.from_dict(data)

    def network_options(self):
        from .networks import NetworkOptions

        r = self.regularisation
        return NetworkOptions(dropout=r.dropout, batch_norm=r.batch_norm, l2_weight_decay=r.l2)

    def invariance_options(self):
        from .invariance import InvarianceOptions

        r = self.regularisation
        return InvarianceOptions(coef=r.invariance, shift_px=r.invariance_shift_px,
                                 invert_probability=r.invariance_invert_probability)


# ------------------------------------------------------------------------------------ loading
def parse_override(text: str) -> tuple[list[str], Any]:
    """``"hyperparameters.lr=1e-3"`` -> (["hyperparameters", "lr"], 0.001). Values are YAML."""
    return _options.parse_override(text, ConfigError)


def apply_overrides(data: Mapping[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """A deep copy of ``data`` with each ``key.sub=value`` set (sections created as needed)."""
    return _options.apply_overrides(data, overrides, ConfigError)


def read_yaml(path: str | Path) -> dict[str, Any]:
    """A YAML mapping from a file; ConfigError naming the file when missing or malformed."""
    return _options.read_yaml(path, ConfigError)


def shipped_config(name: str) -> Path:
    """Path of a YAML config shipped in ``deepracer_agent/configs`` (``default``, ``demo``...)."""
    path = CONFIG_DIR / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))
        raise ConfigError(f"no shipped config {name!r}{did_you_mean(name, known)}; shipped: {', '.join(known)}")
    return path


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> TrainConfig:
    """YAML file (None: built-in defaults) + overrides -> validated :class:`TrainConfig`.

    Relative ``track`` / ``reward_file`` / ``model_metadata`` paths in a file are resolved against
    the file's folder (so a config travels with its reward file).
    """
    data: dict[str, Any] = {}
    if path is not None:
        data = read_yaml(path)
        base = Path(path).expanduser().resolve().parent

        def resolve(value: Any) -> Any:
            if isinstance(value, str) and (value.endswith((".py", ".npy", ".json")) or "/" in value):
                candidate = Path(value).expanduser()
                if not candidate.is_absolute():
                    return str(base / candidate)
            return value
        for key in ("track", "reward_file", "model_metadata"):
            data[key] = resolve(data[key]) if key in data else None
            if data[key] is None and key != "model_metadata":
                del data[key]
        if isinstance(data.get("train_tracks"), list):
            data["train_tracks"] = [resolve(v) for v in data["train_tracks"]]
    data = apply_overrides(data, list(overrides or []))
    try:
        return TrainConfig.from_dict(data)
    except ConfigError as exc:
        if path is not None:
            raise ConfigError(f"{exc} (in {path})") from None
        raise


def check_inputs(cfg: TrainConfig) -> tuple[Any, Any]:
    """Load the track and the reward function now (fail fast, before any model is built).

    The reward is test-called with sample params on the track (objects keys included), as AWS's
    validator does, on a throwaway instance. Returns ``(track, reward_function)``; raises
    :class:`ConfigError` naming the file (and line).
    """
    from deepracer_tracks.library import load_track
    from deepracer_tracks.track import TrackError

    from .reward import RewardFunctionError, load_reward_function, resolve_reward, validate_reward_function

    try:
        track = load_track(cfg.track)
    except (TrackError, OSError, ValueError) as exc:
        raise ConfigError(f"track: {exc}") from None
    for i, name in enumerate(cfg.train_tracks or []):
        try:
            load_track(name)
        except (TrackError, OSError, ValueError) as exc:
            raise ConfigError(f"train_tracks[{i}]: {exc}") from None
    try:
        reward = load_reward_function(resolve_reward(cfg.reward_file), timeout_s=cfg.reward_timeout_s)
        validate_reward_function(reward, track)
    except RewardFunctionError as exc:
        raise ConfigError(f"reward_file: {exc}") from None
    if cfg.ppo.n_steps == "auto" and cfg.ppo.min_n_steps > cfg.ppo.max_n_steps:
        raise ConfigError(f"ppo.min_n_steps: must be <= ppo.max_n_steps ({cfg.ppo.max_n_steps}), "
                          f"got {cfg.ppo.min_n_steps}")
    check_memory(cfg)
    return track, reward


def rollout_memory_bytes(cfg: TrainConfig) -> int:
    """Bytes the largest rollout of ``cfg`` holds: SB3's rollout buffer (uint8 frames + 7 float32 and
    the action per step and car) and the float32 minibatch copy of the frames."""
    steps = cfg.ppo.max_n_steps if cfg.ppo.n_steps == "auto" else int(cfg.ppo.n_steps)
    frame = cfg.hyperparameters.stack_size * 120 * 160
    return cfg.n_envs * steps * (frame + 7 * 4 + 8) + cfg.hyperparameters.batch_size * frame * 4


def check_memory(cfg: TrainConfig, total_bytes: int | None = None) -> None:
    """ConfigError naming the keys when the rollout cannot fit in this machine's memory (instead of a
    MemoryError traceback, or the OOM killer, minutes into the run)."""
    if total_bytes is None:
        try:
            total_bytes = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):
            return
    need = rollout_memory_bytes(cfg)
    if need > 0.8 * total_bytes:
        steps_key = "ppo.max_n_steps" if cfg.ppo.n_steps == "auto" else "ppo.n_steps"
        raise ConfigError(f"n_envs x {steps_key}: a rollout of {cfg.n_envs} cars x "
                          f"{cfg.ppo.max_n_steps if cfg.ppo.n_steps == 'auto' else cfg.ppo.n_steps} steps needs "
                          f"{need / 1e9:.1f} GB of memory, this machine has {total_bytes / 1e9:.1f} GB; use fewer "
                          f"cars or steps")


def save_yaml(data: Mapping[str, Any], path: str | Path) -> None:
    """Write YAML atomically (deepracer_common.fileio)."""
    atomic_write_yaml(path, dict(data), default_flow_style=None)


def describe() -> list[tuple[str, Any, str]]:
    """(dotted key, default, doc) for every option of :class:`TrainConfig` (for the README table)."""
    return [(name, default, doc) for name, default, _unit, doc in TrainConfig.describe()]
