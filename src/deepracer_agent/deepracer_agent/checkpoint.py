"""Training checkpoints that load without unpickling: THE checkpoint format of ``deepracer train``.

A checkpoint is a zip file (``checkpoints/iter_NNNNNN.zip``, ``best.zip``) holding exactly::

    checkpoint.json   {"format": "deepracer-checkpoint", "format_version": 1, "algorithm": "PPO",
                       "policy_class": "ActorCriticCnnPolicy", "observation_space": {...},
                       "action_space": {...}, "state": {"num_timesteps", "n_updates"},
                       "training": {iteration, steps, wall_time_s, ...}, "versions": {...},
                       "created_utc": "..."}
    config.json       the run's resolved training config (``TrainConfig.to_dict()``: network,
                      regularisation, frame stack, model_metadata / action space, ...)
    policy.npz        the policy's ``state_dict`` as numpy arrays (``np.load(allow_pickle=False)``)
                      (a tensor the state_dict lists under two names, SB3's shared feature extractor, is stored once)
    optimizer.npz     the optimizer's per-parameter state (Adam moments, step) as numpy arrays

Continuous PPO (``action_space_type: continuous``) records ``"policy_class":
"SquashedActorCriticCnnPolicy"`` (:class:`deepracer_agent.networks.SquashedActorCriticCnnPolicy`,
a tanh-squashed Gaussian; same parameter names and shapes as the plain policy). A continuous
checkpoint written before it (``ActorCriticCnnPolicy``: a clipped Gaussian) still evaluates and
exports as trained (:func:`make_policy` builds the class the header names) but is refused by
:func:`restore` (resume): its weights would load, yet the same weights mean a different policy.

SAC (``"algorithm": "SAC"``, ``"policy_class": "SACPolicy"``, :mod:`deepracer_agent.sac`): policy.npz
holds the actor, critics and target critics (the CNN the actor and critics share once, under the
actor's name; a checkpoint whose actor and critic CNNs differ is refused); optimizer.npz both Adam states, keys prefixed
``actor:`` / ``critic:``. The replay buffer is not stored: a resumed SAC run refills it.

Loading never unpickles anything: JSON and ``.npz`` read with ``allow_pickle=False`` (an object
array raises). Nothing from the file names code: the policy is rebuilt from ``config.json`` (the
named DeepRacer network of :mod:`deepracer_agent.networks`, the spaces derived from the frame stack
and the action space), the spaces recorded in ``checkpoint.json`` must agree with it, and every
weight must match the rebuilt network's names and shapes. The optimizer's hyperparameters
(``param_groups``) come from the config too, only its state is restored. Members other than the
four above, members over :data:`MAX_MEMBER_BYTES`, non-finite weights and a wrong format name are
refused with :class:`CheckpointError` naming the file.

A stable-baselines3 zip (round 1's format, with a cloudpickled ``data`` member) is refused with
:class:`LegacyCheckpointError`; :func:`convert_legacy` (``python -m deepracer_agent.checkpoint
convert OLD.zip --config RUN/config.resolved.yaml``) rewrites one without unpickling ``data``:
``policy.pth`` / ``policy.optimizer.pth`` through ``torch.load(weights_only=True)`` and the step
counters from ``data``'s plain JSON fields.

Users: ``train`` (save, ``--resume``), ``evaluate`` (incl. ``--watch``), ``export``, the Gym-bridge
node; the decoupled trainer's ``.npz`` weight transport shares the array conversion below.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import io
import json
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from deepracer_common.fileio import atomic_open, atomic_path

FORMAT = "deepracer-checkpoint"
FORMAT_VERSION = 1
HEADER = "checkpoint.json"
CONFIG = "config.json"
POLICY = "policy.npz"
OPTIMIZER = "optimizer.npz"
MEMBERS = (HEADER, CONFIG, POLICY, OPTIMIZER)
REQUIRED = (HEADER, CONFIG, POLICY)
MAX_MEMBER_BYTES = 2 << 30        # 2 GiB per member (a DEEP network + Adam state is ~0.2 GB)
MAX_JSON_BYTES = 16 << 20         # checkpoint.json / config.json
POLICY_CLASS = "ActorCriticCnnPolicy"
SAC_POLICY_CLASS = "SACPolicy"     # deepracer_agent.sac: actor + 2 critics + target critics
SQUASHED_POLICY_CLASS = "SquashedActorCriticCnnPolicy"   # continuous PPO: tanh-squashed Gaussian
POLICY_CLASSES = {POLICY_CLASS: "PPO", SQUASHED_POLICY_CLASS: "PPO", SAC_POLICY_CLASS: "SAC"}
LEGACY_MEMBERS = ("data", "policy.pth")


class CheckpointError(ValueError):
    """A checkpoint cannot be read or does not fit; the message starts with the file."""


class LegacyCheckpointError(CheckpointError):
    """A stable-baselines3 zip (pickled ``data``): refused, convert it with :func:`convert_legacy`."""


# ------------------------------------------------------------------------------ arrays <-> torch
def dump_npz(arrays: Mapping[str, np.ndarray]) -> bytes:
    """Arrays -> .npz bytes (uncompressed; object arrays are refused)."""
    for k, v in arrays.items():
        if np.asarray(v).dtype == object:
            raise ValueError(f"array '{k}' has dtype object; only numeric arrays can be stored")
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def load_npz(data: bytes) -> dict[str, np.ndarray]:
    """.npz bytes -> arrays, with ``allow_pickle=False`` (a pickled array raises ValueError)."""
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _aliases(state: Mapping[str, Any]) -> dict[str, str]:
    """Keys of ``state`` whose tensor IS an earlier key's tensor (same storage, offset, shape,
    strides) -> that earlier key. SB3's ActorCriticPolicy lists its shared feature extractor twice
    (``features_extractor.*`` and ``pi_features_extractor.*``): saving both doubled a camera
    network's weights on disk."""
    first: dict[tuple, str] = {}
    out: dict[str, str] = {}
    for k, v in state.items():
        try:
            ident = (v.untyped_storage().data_ptr(), v.storage_offset(), tuple(v.shape), tuple(v.stride()), str(v.dtype))
        except (AttributeError, RuntimeError):
            continue
        if v.numel() and ident in first:
            out[k] = first[ident]
        else:
            first.setdefault(ident, k)
    return out


def policy_to_arrays(policy: Any) -> dict[str, np.ndarray]:
    """``state_dict`` -> {name: numpy array} (CPU copies); a tensor listed under two names (an alias,
    see :func:`_aliases`) is stored once, under its first name."""
    state = policy.state_dict(keep_vars=True)
    alias = _aliases(state)
    return {k: v.detach().cpu().numpy().copy() for k, v in state.items() if k not in alias}


def arrays_to_policy(policy: Any, arrays: Mapping[str, np.ndarray]) -> None:
    """Load arrays into ``policy``; raises ValueError naming missing/unexpected/mis-shaped keys."""
    import torch as th

    own = policy.state_dict()
    shared = _aliases(policy.state_dict(keep_vars=True))
    for k, src in shared.items():     # e.g. a SAC checkpoint of separate actor and critic CNNs
        if k in arrays and src in arrays and not np.array_equal(arrays[k], arrays[src]):
            raise ValueError(f"policy weights {src!r} and {k!r} differ, but this network shares them "
                             "(a checkpoint of a network that did not share them)")
    alias = {k: src for k, src in shared.items() if k not in arrays and src in arrays}
    arrays = {**arrays, **{k: arrays[src] for k, src in alias.items()}}    # aliases stored once
    missing, unexpected = sorted(set(own) - set(arrays)), sorted(set(arrays) - set(own))
    if missing or unexpected:
        raise ValueError(f"policy weights do not match the network: missing {missing[:5]}, "
                         f"unexpected {unexpected[:5]}")
    for k, v in own.items():
        if tuple(arrays[k].shape) != tuple(v.shape):
            raise ValueError(f"policy weight {k!r} has shape {arrays[k].shape}, network expects {tuple(v.shape)}")
    policy.load_state_dict({k: th.as_tensor(np.array(arrays[k])) for k in own})


def optimizer_to_arrays(optimizer: Any) -> tuple[dict[str, np.ndarray], bytes]:
    """Adam (or any torch optimizer) state -> (arrays ``"<param index>/<name>"``, JSON of param_groups)."""
    import torch as th

    sd = optimizer.state_dict()
    arrays = {}
    for pid, st in sd["state"].items():
        for name, val in st.items():
            arrays[f"{pid}/{name}"] = (val.detach().cpu().numpy() if th.is_tensor(val) else np.asarray(val))
    return arrays, json.dumps(sd["param_groups"]).encode()


def arrays_to_optimizer(optimizer: Any, arrays: Mapping[str, np.ndarray], groups_json: bytes | None = None) -> None:
    """Restore the state written by :func:`optimizer_to_arrays`. ``groups_json`` None keeps the
    optimizer's own ``param_groups`` (learning rate, betas, weight decay from the config).
    Raises ValueError when the state does not fit the optimizer's parameters."""
    import torch as th

    current = optimizer.state_dict()
    groups = current["param_groups"] if groups_json is None else json.loads(groups_json)
    n_params = sum(len(g["params"]) for g in current["param_groups"])
    state: dict[int, dict[str, Any]] = {}
    for key, val in arrays.items():
        pid, sep, name = key.partition("/")
        if not sep or not pid.isdigit() or not 0 <= int(pid) < n_params:
            raise ValueError(f"optimizer state {key!r} does not name one of the {n_params} parameters")
        state.setdefault(int(pid), {})[name] = th.as_tensor(np.array(val))
    params = [p for g in optimizer.param_groups for p in g["params"]]
    for pid, st in state.items():
        for name, val in st.items():
            if name != "step" and tuple(val.shape) != tuple(params[pid].shape):
                raise ValueError(f"optimizer state {pid}/{name} has shape {tuple(val.shape)}, "
                                 f"parameter {pid} has {tuple(params[pid].shape)}")
    optimizer.load_state_dict({"state": state, "param_groups": groups})


# ------------------------------------------------------------------------------ spaces
def space_to_json(space: Any) -> dict[str, Any]:
    """A gymnasium ``Box`` / ``Discrete`` as plain JSON (what the header records)."""
    from gymnasium import spaces

    if isinstance(space, spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n), "start": int(space.start)}
    if isinstance(space, spaces.Box):
        low, high = np.asarray(space.low), np.asarray(space.high)
        uniform = low.size and np.all(low == low.flat[0]) and np.all(high == high.flat[0])
        return {"type": "Box", "shape": [int(s) for s in space.shape], "dtype": str(space.dtype),
                "low": float(low.flat[0]) if uniform else low.tolist(),
                "high": float(high.flat[0]) if uniform else high.tolist()}
    raise CheckpointError(f"cannot record a {type(space).__name__} space in a checkpoint")


def expected_spaces(config: Mapping[str, Any]) -> tuple[Any, Any]:
    """(observation, action) spaces of the policy a training config builds: channel-first
    ``Box(0, 255, (stack, 120, 160), uint8)`` (SB3 transposes the env's channel-last frames) and
    ``Discrete(A)`` or ``Box(-1, 1, (2,), float32)``."""
    from gymnasium import spaces

    from .batch import OBS_HEIGHT_PX, OBS_WIDTH_PX
    from .config import TrainConfig

    cfg = config if isinstance(config, TrainConfig) else TrainConfig.from_dict(config)
    meta = cfg.metadata()
    obs = spaces.Box(0, 255, (cfg.hyperparameters.stack_size, OBS_HEIGHT_PX, OBS_WIDTH_PX), dtype=np.uint8)
    act = spaces.Discrete(meta.n_actions) if meta.is_discrete else spaces.Box(-1.0, 1.0, (2,), dtype=np.float32)
    return obs, act


# ------------------------------------------------------------------------------ the file
@dataclass
class Checkpoint:
    """A checkpoint read (and checked) by :func:`read`; nothing in it is code."""

    path: Path
    header: dict[str, Any]
    config: dict[str, Any]
    policy: dict[str, np.ndarray]
    optimizer: dict[str, np.ndarray] | None

    @property
    def num_timesteps(self) -> int:
        return int(self.header["state"]["num_timesteps"])

    def train_config(self) -> Any:
        """The embedded config as a validated :class:`~deepracer_agent.config.TrainConfig`."""
        from .config import ConfigError, TrainConfig

        try:
            return TrainConfig.from_dict(self.config)
        except ConfigError as exc:
            raise CheckpointError(f"{self.path}: {CONFIG}: {exc}") from None

    def metadata(self) -> Any:
        """The :class:`~deepracer_inference.metadata.ModelMetadata` the policy was trained with."""
        return self.train_config().metadata()


def _versions() -> dict[str, str]:
    out = {}
    for module in ("torch", "stable_baselines3", "numpy"):
        mod = sys.modules.get(module)
        out[module] = str(getattr(mod, "__version__", "unknown")) if mod else "not loaded"
    return out


def write(path: str | Path, config: Mapping[str, Any], policy: Mapping[str, np.ndarray],
          optimizer: Mapping[str, np.ndarray] | None, observation_space: Any, action_space: Any,
          num_timesteps: int = 0, n_updates: int = 0, training: Mapping[str, Any] | None = None,
          policy_class: str = POLICY_CLASS) -> Path:
    """Write a checkpoint atomically (:func:`deepracer_common.fileio.atomic_open`)."""
    path = Path(path)
    header = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "algorithm": POLICY_CLASSES[policy_class],
        "policy_class": policy_class,
        "observation_space": space_to_json(observation_space), "action_space": space_to_json(action_space),
        "state": {"num_timesteps": int(num_timesteps), "n_updates": int(n_updates)},
        "training": dict(training or {}), "versions": _versions(),
        "created_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    members = {HEADER: json.dumps(header, indent=1).encode(), CONFIG: json.dumps(dict(config), indent=1).encode(),
               POLICY: dump_npz(policy)}
    if optimizer is not None:
        members[OPTIMIZER] = dump_npz(optimizer)
    with atomic_open(path, "wb") as fh:          # temp file beside path, fsync, os.replace
        with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED) as zf:
            for name, data in members.items():
                zf.writestr(name, data)
    return path


def save(model: Any, path: str | Path, config: Any, training: Mapping[str, Any] | None = None) -> Path:
    """Save an SB3 PPO ``model`` trained with ``config`` (a TrainConfig or its dict) to ``path``."""
    cfg = config.to_dict() if hasattr(config, "to_dict") else dict(config)
    policy = model.policy
    from .sac import is_sac_policy, optimizers

    if is_sac_policy(policy):
        opt = {}
        for prefix, optim in optimizers(policy).items():
            arrays, _groups = optimizer_to_arrays(optim)
            opt.update({f"{prefix}:{k}": v for k, v in arrays.items()})
        opt.update(_temperature_arrays(model))
        return write(path, cfg, policy_to_arrays(policy), opt, policy.observation_space, policy.action_space,
                     num_timesteps=int(model.num_timesteps), n_updates=int(getattr(model, "_n_updates", 0)),
                     training=training, policy_class=SAC_POLICY_CLASS)
    name = type(policy).__name__
    if name not in (POLICY_CLASS, SQUASHED_POLICY_CLASS):
        raise CheckpointError(f"{path}: only {POLICY_CLASS} / {SQUASHED_POLICY_CLASS} policies are saved, got {name}")
    opt, _groups = optimizer_to_arrays(policy.optimizer)
    return write(path, cfg, policy_to_arrays(policy), opt, policy.observation_space, policy.action_space,
                 num_timesteps=int(model.num_timesteps), n_updates=int(getattr(model, "_n_updates", 0)),
                 training=training, policy_class=name)


TEMPERATURE_KEY = "temperature:log_ent_coef"


def _temperature_arrays(model: Any) -> dict[str, np.ndarray]:
    """A SAC model's learned temperature (``sac.auto_alpha``: ``log_ent_coef`` and its Adam state,
    kept in optimizer.npz under ``temperature:``); nothing for a fixed ``sac_alpha``."""
    log_coef = getattr(model, "log_ent_coef", None)
    if log_coef is None or getattr(model, "ent_coef_optimizer", None) is None:
        return {}
    arrays, _groups = optimizer_to_arrays(model.ent_coef_optimizer)
    return {TEMPERATURE_KEY: log_coef.detach().cpu().numpy().copy(),
            **{f"temperature:adam:{k}": v for k, v in arrays.items()}}


def _restore_temperature(model: Any, optimizer: Mapping[str, np.ndarray]) -> None:
    """Put :func:`_temperature_arrays` back (a checkpoint without them keeps the model's start value)."""
    import torch

    log_coef = getattr(model, "log_ent_coef", None)
    if log_coef is None or TEMPERATURE_KEY not in optimizer:
        return
    with torch.no_grad():
        log_coef.copy_(torch.as_tensor(optimizer[TEMPERATURE_KEY], device=log_coef.device))
    head = "temperature:adam:"
    arrays_to_optimizer(model.ent_coef_optimizer, {k[len(head):]: v for k, v in optimizer.items() if k.startswith(head)})


def _member(zf: zipfile.ZipFile, name: str, path: Path, limit: int) -> bytes:
    info = zf.getinfo(name)
    if info.file_size > limit:
        raise CheckpointError(f"{path}: member {name} is {info.file_size} bytes, more than the {limit} allowed")
    try:
        return zf.read(info)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
        raise CheckpointError(f"{path}: member {name} cannot be read ({exc})") from None


def _json(data: bytes, name: str, path: Path) -> dict[str, Any]:
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise CheckpointError(f"{path}: {name} is not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise CheckpointError(f"{path}: {name} must hold a JSON object, got {type(value).__name__}")
    return value


def _arrays(data: bytes, name: str, path: Path) -> dict[str, np.ndarray]:
    try:
        arrays = load_npz(data)
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise CheckpointError(f"{path}: {name} is not a plain numpy .npz ({exc})") from None
    for key, arr in arrays.items():
        if arr.dtype.kind not in "fiub":
            raise CheckpointError(f"{path}: {name}: array {key!r} has dtype {arr.dtype}, expected numbers")
        if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
            raise CheckpointError(f"{path}: {name}: array {key!r} holds NaN or infinite values")
    return arrays


def read(path: str | Path, arrays: bool = True) -> Checkpoint:
    """Read and check a checkpoint file (no torch needed, nothing unpickled). Raises
    :class:`LegacyCheckpointError` for an SB3 zip and :class:`CheckpointError` for anything else.
    ``arrays=False`` reads only the header and config (``policy`` is then empty)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise CheckpointError(f"{path}: not a checkpoint zip ({exc})") from None
    with zf:
        names = zf.namelist()
        if HEADER not in names and all(m in names for m in LEGACY_MEMBERS):
            raise LegacyCheckpointError(
                f"{path}: a stable-baselines3 zip with a pickled 'data' member; it is not loaded because "
                f"unpickling can run code. Convert it once (reads only its weights): python -m "
                f"deepracer_agent.checkpoint convert {path} --config RUN/config.resolved.yaml")
        unknown = sorted(set(names) - set(MEMBERS))
        if unknown or len(names) != len(set(names)):
            raise CheckpointError(f"{path}: unexpected member(s) {unknown or 'duplicated'}; a {FORMAT} zip "
                                  f"holds only {', '.join(MEMBERS)}")
        missing = [m for m in REQUIRED if m not in names]
        if missing:
            raise CheckpointError(f"{path}: not a {FORMAT} file (missing {', '.join(missing)})")
        header = _json(_member(zf, HEADER, path, MAX_JSON_BYTES), HEADER, path)
        if header.get("format") != FORMAT:
            raise CheckpointError(f"{path}: {HEADER}: format {header.get('format')!r}, expected {FORMAT!r}")
        if header.get("format_version") != FORMAT_VERSION:
            raise CheckpointError(f"{path}: {HEADER}: format_version {header.get('format_version')!r}; this "
                                  f"version of deepracer reads {FORMAT_VERSION}")
        if header.get("policy_class") not in POLICY_CLASSES:
            raise CheckpointError(f"{path}: {HEADER}: policy_class {header.get('policy_class')!r}, "
                                  f"expected one of {sorted(POLICY_CLASSES)}")
        state = header.get("state")
        if not isinstance(state, dict) or not all(isinstance(state.get(k), int) and not isinstance(state.get(k), bool)
                                                  and state.get(k) >= 0 for k in ("num_timesteps", "n_updates")):
            raise CheckpointError(f"{path}: {HEADER}: 'state' needs non-negative integers num_timesteps and n_updates")
        config = _json(_member(zf, CONFIG, path, MAX_JSON_BYTES), CONFIG, path)
        policy = _arrays(_member(zf, POLICY, path, MAX_MEMBER_BYTES), POLICY, path) if arrays else {}
        optimizer = (_arrays(_member(zf, OPTIMIZER, path, MAX_MEMBER_BYTES), OPTIMIZER, path)
                     if arrays and OPTIMIZER in names else None)
    return Checkpoint(path, header, config, policy, optimizer)


def _check_spaces(ckpt: Checkpoint, obs: Any, act: Any) -> None:
    for key, space in (("observation_space", obs), ("action_space", act)):
        want = space_to_json(space)
        if ckpt.header.get(key) != want:
            raise CheckpointError(f"{ckpt.path}: {HEADER} records {key} {ckpt.header.get(key)}, but its "
                                  f"{CONFIG} builds {want}")


def _check_algorithm(ckpt: Checkpoint, cfg: Any) -> bool:
    """Whether the checkpoint is SAC's; its header and its config must agree."""
    from .sac import is_sac

    sac = ckpt.header.get("policy_class") == SAC_POLICY_CLASS
    if sac != is_sac(cfg):
        raise CheckpointError(f"{ckpt.path}: {HEADER} records policy_class {ckpt.header.get('policy_class')!r}, but "
                              f"its {CONFIG} trains {cfg.metadata().training_algorithm}")
    return sac


def make_policy(ckpt: Checkpoint | str | Path, device: str = "cpu") -> Any:
    """The policy of a checkpoint, rebuilt from its config and loaded, in eval mode (evaluate, export):
    an SB3 ``ActorCriticCnnPolicy`` (PPO) or ``SACPolicy`` (SAC; both have ``predict``)."""
    from stable_baselines3.common.policies import ActorCriticCnnPolicy

    from .networks import NetworkError, SquashedActorCriticCnnPolicy, policy_kwargs_for
    from .sac import make_sac_policy

    ckpt = ckpt if isinstance(ckpt, Checkpoint) else read(ckpt)
    cfg = ckpt.train_config()
    obs, act = expected_spaces(cfg)
    _check_spaces(ckpt, obs, act)
    sac = _check_algorithm(ckpt, cfg)
    try:
        if sac:
            policy = make_sac_policy(obs, act, cfg, device)
        else:
            kwargs = policy_kwargs_for(cfg.metadata(), cfg.network_options())
            lr = float(cfg.hyperparameters.lr)
            # the class the header names: an old plain-Gaussian continuous checkpoint evaluates and
            # exports as it was trained (clipped mean), a squashed one as tanh(mean)
            cls = SquashedActorCriticCnnPolicy if ckpt.header.get("policy_class") == SQUASHED_POLICY_CLASS \
                else ActorCriticCnnPolicy
            policy = cls(obs, act, lambda _progress: lr, **kwargs).to(device)
    except NetworkError as exc:
        raise CheckpointError(f"{ckpt.path}: {CONFIG}: {exc}") from None
    try:
        arrays_to_policy(policy, ckpt.policy)
    except (ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{ckpt.path}: {exc}") from None
    policy.set_training_mode(False)
    return policy


def restore(model: Any, ckpt: Checkpoint | str | Path) -> None:
    """Load a checkpoint into a PPO ``model`` built from the run's config (``--resume``): weights,
    optimizer state and step counters. Raises :class:`CheckpointError` (``model`` may then be
    half-loaded: build a new one) when the spaces, network or optimizer do not fit."""
    ckpt = ckpt if isinstance(ckpt, Checkpoint) else read(ckpt)
    _check_spaces(ckpt, model.observation_space, model.action_space)
    from .sac import is_sac_policy, optimizers

    sac = is_sac_policy(model.policy)
    if sac != (ckpt.header.get("policy_class") == SAC_POLICY_CLASS):
        raise CheckpointError(f"{ckpt.path}: a {ckpt.header.get('algorithm')} checkpoint does not fit a "
                              f"{'SAC' if sac else 'PPO'} model")
    recorded, wanted = ckpt.header.get("policy_class"), type(model.policy).__name__
    if not sac and recorded != wanted:
        # same parameter shapes, different action distribution: resuming would silently turn a
        # clipped Gaussian into a tanh-squashed one (or back), so refuse rather than load
        raise CheckpointError(f"{ckpt.path}: a {recorded} checkpoint (the plain, clipped Gaussian of continuous PPO "
                              f"before the tanh-squashed policy) does not fit this {wanted} model; it still "
                              "evaluates and exports as trained, but resume training from a new run")
    try:
        arrays_to_policy(model.policy, ckpt.policy)
        if ckpt.optimizer is not None and sac:
            for prefix, optim in optimizers(model.policy).items():
                head = f"{prefix}:"
                arrays_to_optimizer(optim, {k[len(head):]: v for k, v in ckpt.optimizer.items() if k.startswith(head)})
            _restore_temperature(model, ckpt.optimizer)
        elif ckpt.optimizer is not None:
            arrays_to_optimizer(model.policy.optimizer, ckpt.optimizer)
    except (ValueError, RuntimeError, KeyError) as exc:
        raise CheckpointError(f"{ckpt.path}: does not fit the model of the config: {exc}") from None
    model.num_timesteps = ckpt.num_timesteps
    model._n_updates = int(ckpt.header["state"]["n_updates"])


# ------------------------------------------------------------------------------ legacy SB3 zips
def convert_legacy(old: str | Path, config: Any, out: str | Path) -> Path:
    """Rewrite a stable-baselines3 zip as a checkpoint without unpickling its ``data``: weights through
    ``torch.load(weights_only=True)``, spaces and network from ``config`` (the run's TrainConfig, dict
    or YAML path), step counters from ``data``'s plain JSON fields. The result is checked by rebuilding
    the policy before it replaces ``out``."""
    import torch

    from .config import load_config

    old = Path(old).expanduser()
    cfg = load_config(config) if isinstance(config, (str, Path)) else config
    cfg_dict = cfg.to_dict() if hasattr(cfg, "to_dict") else dict(cfg)
    try:
        with zipfile.ZipFile(old) as zf:
            def tensors(name: str) -> dict[str, Any]:
                data = _member(zf, name, old, MAX_MEMBER_BYTES)
                return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
            policy_sd = tensors("policy.pth")
            opt_sd = tensors("policy.optimizer.pth") if "policy.optimizer.pth" in zf.namelist() else None
            try:
                plain = json.loads(_member(zf, "data", old, MAX_JSON_BYTES).decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                plain = {}
    except (zipfile.BadZipFile, OSError, KeyError) as exc:
        raise CheckpointError(f"{old}: not a stable-baselines3 zip ({exc})") from None
    except Exception as exc:  # noqa: BLE001 - torch's weights-only unpickler refuses with many kinds
        raise CheckpointError(f"{old}: weights cannot be read safely ({type(exc).__name__}: {exc})") from None

    def count(key: str) -> int:
        v = plain.get(key) if isinstance(plain, dict) else None
        return v if isinstance(v, int) and not isinstance(v, bool) and v >= 0 else 0
    policy = {k: v.detach().cpu().numpy() for k, v in policy_sd.items() if torch.is_tensor(v)}
    optimizer = None
    if isinstance(opt_sd, dict) and isinstance(opt_sd.get("state"), dict):
        optimizer = {f"{pid}/{name}": (val.cpu().numpy() if torch.is_tensor(val) else np.asarray(val))
                     for pid, st in opt_sd["state"].items() for name, val in st.items()}
    obs, act = expected_spaces(cfg_dict)
    out = Path(out).expanduser()
    with atomic_path(out) as tmp:                # replaces out only once the result loads
        write(tmp, cfg_dict, policy, optimizer, obs, act, num_timesteps=count("num_timesteps"),
              n_updates=count("_n_updates"), training={"converted_from": old.name})
        make_policy(tmp)
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m deepracer_agent.checkpoint {info,convert}``."""
    p = argparse.ArgumentParser(prog="python -m deepracer_agent.checkpoint",
                                description="Inspect or convert deepracer training checkpoints (no pickle).")
    sub = p.add_subparsers(dest="cmd", required=True)
    info = sub.add_parser("info", help="print a checkpoint's header")
    info.add_argument("checkpoint")
    conv = sub.add_parser("convert", help="rewrite a stable-baselines3 zip (weights only) in this format")
    conv.add_argument("old")
    conv.add_argument("--config", required=True, help="the run's config.resolved.yaml")
    conv.add_argument("--out", help="output path (default: OLD with .converted.zip)")
    args = p.parse_args(argv)
    from .config import ConfigError

    try:
        if args.cmd == "info":
            ckpt = read(args.checkpoint)
            print(json.dumps(ckpt.header, indent=1))
            return 0
        out = args.out or str(Path(args.old).with_suffix("")) + ".converted.zip"
        print(f"wrote {convert_legacy(args.old, args.config, out)}")
        return 0
    except (CheckpointError, ConfigError) as exc:
        print(f"deepracer checkpoint: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

__all__ = ["Checkpoint", "CheckpointError", "LegacyCheckpointError", "read", "write", "save", "make_policy",
           "restore", "convert_legacy", "expected_spaces", "policy_to_arrays", "arrays_to_policy",
           "optimizer_to_arrays", "arrays_to_optimizer", "dump_npz", "load_npz"]
