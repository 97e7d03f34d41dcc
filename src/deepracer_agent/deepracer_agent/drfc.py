"""DRfC / console ``hyperparameters.json`` and ``model_metadata.json``, accepted unchanged.

``deepracer train --hyperparameters hyperparameters.json --model-metadata model_metadata.json``
reads the files a DRfC (or console) user already has and turns them into config overrides. What this
module decides, key by key (one printed ``warning:`` line per thing not built, training proceeds):

hyperparameters.json
    - every key of :class:`~deepracer_agent.config.Hyperparameters` is used (``lr``, ``batch_size``,
      ``num_epochs``, ``beta_entropy``, ``discount_factor``, ``loss_type``,
      ``num_episodes_between_training``, ``stack_size``, ``term_cond_max_episodes``,
      ``term_cond_avg_score``; ``e_greedy_value``/``epsilon_steps``/``exploration_type`` are accepted
      and have no effect on PPO, as in simapp's PPO);
    - ``sac_alpha``: SAC's (fixed) entropy temperature, used when ``training_algorithm`` is ``sac``;
    - lenient forms simapp accepts: numbers written as strings (``"64"``, ``"3e-4"``), any case
      (``"Huber"``, ``"Categorical"``), ``loss_type`` ``"mean squared error"`` (the console's
      spelling) = ``mean_squared_error``; an unknown key -> warning, ignored (simapp ignores it too).

model_metadata.json
    - ``action_space_type`` any case; missing: ``continuous`` for a ``{low, high}`` mapping, else
      ``discrete``; action values written as strings are numbers; ``neural_network`` any case;
    - ``training_algorithm`` any case: ``clipped_ppo`` trains PPO, ``sac`` trains stable-baselines3's SAC
      on the (continuous) action space (:mod:`deepracer_agent.sac`);
    - ``sensor``: ``STEREO_CAMERAS``, ``LIDAR``, ``SECTOR_LIDAR``, ``DISCRETIZED_SECTOR_LIDAR`` are
      not built -> warning; the model is trained on ``FRONT_FACING_CAMERA`` (what the run's
      model_metadata.json then says, so a car never receives a model for sensors it was not trained on);
    - ``version``, as simapp's ``ModelMetadata.parse_model_metadata`` applies it: read as a number;
      missing = 2 when ``sensor`` is given, else 1. Below 2, ``sensor`` is ignored (simapp's legacy
      ``observation`` input: the front camera); ``neural_network`` is read at every version
      (missing: DEEP_CONVOLUTIONAL_NETWORK_SHALLOW). Below 3 simapp drives its older car physics
      (``get_speed_factor``: 3.5 for version 2, 1.0 for version 1, 2.77 from 3 on), which is not built
      here -> warning, the version-3+ car is simulated; the run's file keeps the version given.
      (Where simapp would stop -- version >= 2 without ``sensor`` -- the front camera is assumed.)

A file that is not JSON, or a value that cannot be a number, is a one-line error naming the file
and key.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any
from collections.abc import Callable, Mapping

from deepracer_common.options import to_number

from .config import ConfigError, Hyperparameters, did_you_mean

UNBUILT_SENSORS = ("STEREO_CAMERAS", "LIDAR", "SECTOR_LIDAR", "DISCRETIZED_SECTOR_LIDAR")
_LOSS_ALIASES = {"mean squared error": "mean_squared_error", "mean_squared_error": "mean_squared_error",
                 "mse": "mean_squared_error", "huber": "huber"}


def _read_json(path: str | Path, what: str) -> dict[str, Any]:
    path = Path(path).expanduser()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{what} {path}: file not found") from None
    except OSError as exc:
        raise ConfigError(f"{what} {path}: cannot read: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise ConfigError(f"{what} {path}: not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{what} {path}: expected a JSON object, got {type(data).__name__}")
    return data


def _number(value: Any, where: str, integer: bool = False) -> float | int:
    """A number, also written as a string (``"64"``, ``"3e-4"``)."""
    number = to_number(value)     # the schema's one reading of numbers (strings such as "3e-4" too)
    if number is None or not math.isfinite(number):
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    value = number
    if integer:
        if float(value) != int(value):
            raise ConfigError(f"{where}: expected a whole number, got {value!r}")
        return int(value)
    return float(value)


def hyperparameter_overrides(data: Mapping[str, Any], source: str = "hyperparameters.json",
                             warn: Callable[[str], None] = print) -> dict[str, Any]:
    """``{name: value}`` for :class:`Hyperparameters` from a DRfC/console hyperparameters mapping."""
    import dataclasses

    fields = {f.name: f for f in dataclasses.fields(Hyperparameters)}
    out: dict[str, Any] = {}
    for key, value in data.items():
        where = f"{source}: {key}"
        if key not in fields:
            warn(f"warning: {where}: not a DeepRacer hyperparameter{did_you_mean(key, list(fields))}; ignored")
            continue
        meta = fields[key].metadata
        kind = meta["rule"].kind if "rule" in meta else meta.get("kind")      # deepracer_common.options rule
        if value is None:
            out[key] = None
        elif kind is str:
            text = str(value).strip().lower()
            out[key] = _LOSS_ALIASES.get(text, text) if key == "loss_type" else text
        else:
            out[key] = _number(value, where, integer=kind is int)
    return out


def model_metadata_dict(data: Mapping[str, Any], source: str = "model_metadata.json",
                        warn: Callable[[str], None] = print) -> dict[str, Any]:
    """A DRfC/console model_metadata mapping in the form :class:`ModelMetadata` validates (see the
    module docstring for every decision)."""
    meta = dict(data)
    raw_version = meta.get("version", "2" if "sensor" in meta else "1")
    version = _number(raw_version, f"{source}: version")
    meta["version"] = str(raw_version).strip()
    space = meta.get("action_space")
    kind = meta.get("action_space_type")
    kind = str(kind).strip().lower() if kind is not None else ("continuous" if isinstance(space, Mapping) else "discrete")
    meta["action_space_type"] = kind
    meta["action_space"] = _action_space_numbers(space, source)
    if version < 2:
        if "sensor" in meta:
            warn(f"warning: {source}: version {meta['version']} < 2: sensor is ignored, as simapp does "
                 "(a legacy model: the front camera)")
        meta.pop("sensor", None)
    if version < 3:
        warn(f"warning: {source}: version {meta['version']} < 3 selects simapp's older car physics (speed factor "
             f"{3.5 if version >= 2 else 1.0} instead of 2.77), which is not built here; training simulates the "
             "version-3+ car")
    if "neural_network" in meta and isinstance(meta["neural_network"], str):
        meta["neural_network"] = meta["neural_network"].strip().upper()
    algo = meta.get("training_algorithm")
    if isinstance(algo, str):
        meta["training_algorithm"] = algo.strip().lower()
    if "sensor" in meta:
        meta["sensor"] = _built_sensors(meta["sensor"], source, warn)
    for key in ("preprocess_type", "lidar_config", "regional"):   # newer console keys, nothing to apply
        meta.pop(key, None)
    return meta


def _action_space_numbers(space: Any, source: str) -> Any:
    """Action values written as strings -> numbers (a malformed space is left to ModelMetadata)."""
    if isinstance(space, list):
        return [{k: (_number(v, f"{source}: action_space[{i}].{k}") if k in ("steering_angle", "speed") else v)
                 for k, v in a.items()} if isinstance(a, Mapping) else a for i, a in enumerate(space)]
    if isinstance(space, Mapping):
        return {name: ({k: _number(v, f"{source}: action_space.{name}.{k}") if k in ("low", "high") else v
                        for k, v in rng.items()} if isinstance(rng, Mapping) else rng) for name, rng in space.items()}
    return space


def _built_sensors(sensors: Any, source: str, warn: Callable[[str], None]) -> Any:
    """The sensors this workspace builds (one warning naming those it does not)."""
    if isinstance(sensors, str):
        sensors = [sensors]
    if not isinstance(sensors, list):
        return sensors                     # ModelMetadata names the problem
    names = [str(s).strip().upper() for s in sensors]
    unbuilt = [s for s in names if s in UNBUILT_SENSORS]
    if unbuilt:
        warn(f"warning: {source}: sensor {', '.join(unbuilt)} not built yet; training on "
             "FRONT_FACING_CAMERA only (the run's model_metadata.json says so)")
        return ["FRONT_FACING_CAMERA"]
    return names or ["FRONT_FACING_CAMERA"]


def load_files(hyperparameters: str | Path | None, model_metadata: str | Path | None,
               warn: Callable[[str], None] = print) -> list[str]:
    """``key=value`` config overrides (``deepracer_agent.config`` syntax) for the two DRfC files."""
    overrides: list[str] = []
    if hyperparameters is not None:
        for key, value in hyperparameter_overrides(_read_json(hyperparameters, "--hyperparameters"),
                                                   source=str(hyperparameters), warn=warn).items():
            overrides.append(f"hyperparameters.{key}={json.dumps(value)}")
    if model_metadata is not None:
        meta = model_metadata_dict(_read_json(model_metadata, "--model-metadata"), source=str(model_metadata),
                                   warn=warn)
        overrides.append(f"model_metadata={json.dumps(meta)}")
    return overrides


def hyperparameters_json(cfg: Any) -> dict[str, Any]:
    """The run's hyperparameters in DRfC's ``hyperparameters.json`` shape (for ``ip/``)."""
    return {k: v for k, v in cfg.to_dict()["hyperparameters"].items() if v is not None}
