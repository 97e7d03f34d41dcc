"""``model_metadata.json``: parsing, validation and THE action-space mapping (numpy only).

This module is the one place that knows what an action index (or a continuous network output)
means in physical terms. The training env, the exporter, the inference node and the car all call
it; it deliberately imports neither torch nor rclpy.

The file format is AWS DeepRacer's::

    {
      "action_space": [{"steering_angle": -30, "speed": 0.5}, ...],        # discrete
      "action_space": {"steering_angle": {"low": -30, "high": 30},         # continuous
                       "speed": {"low": 0.5, "high": 1.0}},
      "action_space_type": "discrete" | "continuous",
      "sensor": ["FRONT_FACING_CAMERA"],
      "neural_network": "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW",
      "training_algorithm": "clipped_ppo",
      "version": "5"
    }

Units follow DeepRacer's user contract: ``steering_angle`` in DEGREES (positive = left),
``speed`` in m/s. The limits (steering +-30 deg, speed 0.1..4 m/s) are read from the vehicle
description (:func:`deepracer_description.vehicle.load_vehicle`), not hard-coded here.

Continuous actions: the network (and the training env's ``Box``) works in NORMALISED units,
``[-1, 1]`` per dimension, mapped linearly onto ``[low, high]``; :meth:`ModelMetadata.action_to_drive`
does that mapping (pass ``normalized=False`` for actions already in degrees and m/s, as AWS's
simulator receives them). Out-of-range inputs are clipped to the declared range, never beyond.

Unknown top-level keys that AWS tools write (``preprocess_type``, ``regional_parameters``...) are
kept in :attr:`ModelMetadata.extra` and written back by :meth:`ModelMetadata.to_dict`, so a file
round-trips unchanged.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, NamedTuple, Sequence

import numpy as np

from deepracer_common.fileio import atomic_write_json

ACTION_SPACE_TYPES = ("discrete", "continuous")
SUPPORTED_SENSORS = ("FRONT_FACING_CAMERA",)
KNOWN_UNSUPPORTED_SENSORS = ("STEREO_CAMERAS", "LIDAR", "SECTOR_LIDAR", "DISCRETIZED_SECTOR_LIDAR")
NEURAL_NETWORKS = (
    "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW",
    "DEEP_CONVOLUTIONAL_NETWORK",
    "DEEP_CONVOLUTIONAL_NETWORK_DEEP",
)
TRAINING_ALGORITHMS = ("clipped_ppo", "sac")
KNOWN_UNSUPPORTED_ALGORITHMS: tuple[str, ...] = ()
#: SAC (as on AWS) acts in a continuous space only.
CONTINUOUS_ONLY_ALGORITHMS = ("sac",)

#: The paper's default action space: 2 speeds x 5 steering angles (10 discrete actions).
DEFAULT_STEERING_ANGLES_DEG = (-30.0, -15.0, 0.0, 15.0, 30.0)
DEFAULT_SPEEDS_M_S = (0.5, 1.0)

_TOLERANCE = 1e-6  # slack for limits read from a URDF in radians (30 deg = 0.5235987... rad)


class MetadataError(ValueError):
    """A ``model_metadata.json`` (or a dict in its format) is invalid; the message names the
    source and the field, e.g. ``model_metadata.json: action_space[3].speed: ...``."""


class DriveLimits(NamedTuple):
    """Command limits of the car: steering in degrees (symmetric), speed in m/s."""

    max_steering_deg: float
    min_speed_m_s: float
    max_speed_m_s: float

    @classmethod
    def from_vehicle(cls, vehicle: Any) -> "DriveLimits":
        """Limits of a :class:`deepracer_description.vehicle.VehicleGeometry`."""
        return cls(math.degrees(vehicle.max_steering_angle_rad),
                   float(vehicle.min_speed_m_s), float(vehicle.max_speed_m_s))


def default_limits() -> DriveLimits:
    """Limits of the default DeepRacer description (``load_vehicle()``, cached there)."""
    from deepracer_description.vehicle import load_vehicle  # numpy-only package; lazy for import speed

    return DriveLimits.from_vehicle(load_vehicle())


@dataclass(frozen=True)
class DiscreteAction:
    """One entry of a discrete action space: steering in degrees (left positive), speed in m/s."""

    steering_angle_deg: float
    speed_m_s: float


@dataclass
class ModelMetadata:
    """A validated ``model_metadata.json``.

    For ``action_space_type == "discrete"`` :attr:`actions` holds the list; for ``"continuous"``
    :attr:`steering_range_deg` and :attr:`speed_range_m_s` hold ``(low, high)``. Build one with
    :meth:`from_dict`, :meth:`load`, :meth:`default` or :meth:`discrete`; those validate. If you
    construct the dataclass directly, call :meth:`validate`.
    """

    action_space_type: str = "discrete"
    actions: tuple[DiscreteAction, ...] = ()
    steering_range_deg: tuple[float, float] | None = None
    speed_range_m_s: tuple[float, float] | None = None
    sensor: tuple[str, ...] = ("FRONT_FACING_CAMERA",)
    neural_network: str = "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW"
    training_algorithm: str = "clipped_ppo"
    version: str = "5"
    extra: dict[str, Any] = field(default_factory=dict)
    source: str = field(default="model_metadata", compare=False)

    # ------------------------------------------------------------------ construction
    @classmethod
    def default(cls, limits: DriveLimits | None = None) -> "ModelMetadata":
        """The paper's 10 discrete actions: speeds 0.5 and 1.0 m/s x steering -30..30 deg."""
        return cls.discrete(DEFAULT_STEERING_ANGLES_DEG, DEFAULT_SPEEDS_M_S, limits=limits)

    @classmethod
    def discrete(cls, steering_angles_deg: Iterable[float], speeds_m_s: Iterable[float], *,
                 limits: DriveLimits | None = None, **fields: Any) -> "ModelMetadata":
        """A discrete space from lists: every steering angle combined with every speed.

        Ordered steering-major (all speeds of the first angle, then the next angle), as the AWS
        console writes it. ``fields`` sets the other attributes (``neural_network``...).
        """
        actions = tuple(DiscreteAction(float(a), float(s))
                        for a in steering_angles_deg for s in speeds_m_s)
        meta = cls(action_space_type="discrete", actions=actions, source="ModelMetadata.discrete()",
                   **fields)
        meta.validate(limits)
        return meta

    @classmethod
    def continuous(cls, steering_range_deg: tuple[float, float], speed_range_m_s: tuple[float, float],
                   *, limits: DriveLimits | None = None, **fields: Any) -> "ModelMetadata":
        """A continuous space with steering in ``[low, high]`` degrees and speed in ``[low, high]`` m/s."""
        meta = cls(action_space_type="continuous",
                   steering_range_deg=(float(steering_range_deg[0]), float(steering_range_deg[1])),
                   speed_range_m_s=(float(speed_range_m_s[0]), float(speed_range_m_s[1])),
                   source="ModelMetadata.continuous()", **fields)
        meta.validate(limits)
        return meta

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "model_metadata",
                  limits: DriveLimits | None = None) -> "ModelMetadata":
        """Parse and validate a dict in the AWS format; errors name ``source`` and the field."""
        p = _Parser(source)
        if not isinstance(data, Mapping):
            p.fail("", f"expected a JSON object, got {type(data).__name__}")
        if "action_space" not in data:
            p.fail("action_space", "missing (a list of {steering_angle, speed} or a "
                                   "{steering_angle: {low, high}, speed: {low, high}} object)")
        space = data["action_space"]
        if "action_space_type" in data:
            type_ = p.string(data["action_space_type"], "action_space_type")
            if type_ not in ACTION_SPACE_TYPES:
                p.fail("action_space_type", f"unknown type {type_!r}; expected one of {list(ACTION_SPACE_TYPES)}")
        else:  # AWS's own loader infers the type from the shape when the key is absent (old files)
            type_ = "continuous" if isinstance(space, Mapping) else "discrete"

        fields: dict[str, Any] = {"action_space_type": type_}
        if type_ == "discrete":
            fields["actions"] = p.discrete_actions(space)
        else:
            fields["steering_range_deg"], fields["speed_range_m_s"] = p.continuous_ranges(space)

        if "sensor" in data:
            fields["sensor"] = p.sensors(data["sensor"])
        if "neural_network" in data:
            fields["neural_network"] = p.choice(data["neural_network"], "neural_network", NEURAL_NETWORKS)
        if "training_algorithm" in data:
            algo = p.string(data["training_algorithm"], "training_algorithm")
            if algo in KNOWN_UNSUPPORTED_ALGORITHMS:
                p.fail("training_algorithm", f"{algo!r} is not supported by this workspace; "
                                             f"supported: {list(TRAINING_ALGORITHMS)}")
            fields["training_algorithm"] = p.choice(algo, "training_algorithm", TRAINING_ALGORITHMS)
        if "version" in data:
            fields["version"] = p.version(data["version"])
        known = {"action_space", "action_space_type", "sensor", "neural_network",
                 "training_algorithm", "version"}
        fields["extra"] = {k: v for k, v in data.items() if k not in known}
        meta = cls(source=source, **fields)
        meta.validate(limits)
        return meta

    @classmethod
    def load(cls, path: str | Path, limits: DriveLimits | None = None) -> "ModelMetadata":
        """Read and validate a ``model_metadata.json`` file."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise MetadataError(f"{path}: file not found") from None
        except OSError as exc:
            raise MetadataError(f"{path}: cannot read: {exc.strerror or exc}") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise MetadataError(f"{path}: not valid JSON: {exc.msg} at line {exc.lineno} "
                                f"column {exc.colno}") from None
        return cls.from_dict(data, source=str(path), limits=limits)

    # ------------------------------------------------------------------ validation
    def validate(self, limits: DriveLimits | None = None) -> None:
        """Check the action space against the car's limits (``load_vehicle()`` by default)."""
        p = _Parser(self.source)
        lim = limits if limits is not None else default_limits()
        if self.action_space_type not in ACTION_SPACE_TYPES:
            p.fail("action_space_type", f"unknown type {self.action_space_type!r}; "
                                        f"expected one of {list(ACTION_SPACE_TYPES)}")
        if self.action_space_type == "discrete":
            if not self.actions:
                p.fail("action_space", "empty action list; give at least one {steering_angle, speed}")
            for i, act in enumerate(self.actions):
                p.check_steering(act.steering_angle_deg, f"action_space[{i}].steering_angle", lim)
                p.check_speed(act.speed_m_s, f"action_space[{i}].speed", lim)
        else:
            if self.steering_range_deg is None or self.speed_range_m_s is None:
                p.fail("action_space", "a continuous space needs steering_angle and speed ranges")
            for name, (low, high), check in (("steering_angle", self.steering_range_deg, p.check_steering),
                                             ("speed", self.speed_range_m_s, p.check_speed)):
                check(low, f"action_space.{name}.low", lim)
                check(high, f"action_space.{name}.high", lim)
                if not low < high:
                    p.fail(f"action_space.{name}", f"low ({low}) must be below high ({high})")
        unsupported = [s for s in self.sensor if s not in SUPPORTED_SENSORS]
        if unsupported or not self.sensor:
            p.fail("sensor", f"{list(self.sensor)} is not supported; only {list(SUPPORTED_SENSORS)}")
        if self.neural_network not in NEURAL_NETWORKS:
            p.fail("neural_network", f"unknown network {self.neural_network!r}; expected one of {list(NEURAL_NETWORKS)}")
        if self.training_algorithm not in TRAINING_ALGORITHMS:
            p.fail("training_algorithm", f"{self.training_algorithm!r} is not supported; "
                                         f"supported: {list(TRAINING_ALGORITHMS)}")
        if self.training_algorithm in CONTINUOUS_ONLY_ALGORITHMS and self.action_space_type != "continuous":
            p.fail("training_algorithm", f"{self.training_algorithm!r} needs a continuous action space "
                                         "(action_space_type: continuous, {steering_angle: {low, high}, "
                                         "speed: {low, high}}), as on AWS")

    # ------------------------------------------------------------------ output
    def to_dict(self) -> dict[str, Any]:
        """The AWS JSON form (discrete actions carry their ``index``, as AWS writes them)."""
        if self.action_space_type == "discrete":
            space: Any = [{"steering_angle": a.steering_angle_deg, "speed": a.speed_m_s, "index": i}
                          for i, a in enumerate(self.actions)]
        else:
            assert self.steering_range_deg is not None and self.speed_range_m_s is not None
            space = {"steering_angle": {"low": self.steering_range_deg[0], "high": self.steering_range_deg[1]},
                     "speed": {"low": self.speed_range_m_s[0], "high": self.speed_range_m_s[1]}}
        out: dict[str, Any] = {
            "action_space": space,
            "action_space_type": self.action_space_type,
            "sensor": list(self.sensor),
            "neural_network": self.neural_network,
            "training_algorithm": self.training_algorithm,
            "version": self.version,
        }
        out.update(self.extra)
        return out

    def save(self, path: str | Path) -> None:
        """Write the JSON atomically (deepracer_common.fileio)."""
        atomic_write_json(path, self.to_dict())

    # ------------------------------------------------------------------ action mapping
    @property
    def is_discrete(self) -> bool:
        return self.action_space_type == "discrete"

    @property
    def n_actions(self) -> int:
        """Number of discrete actions; 2 (steering, speed) dimensions for a continuous space."""
        return len(self.actions) if self.is_discrete else 2

    def action_table(self) -> np.ndarray:
        """(A, 2) float64: ``[steering_angle_deg, speed_m_s]`` per discrete action."""
        if not self.is_discrete:
            raise MetadataError(f"{self.source}: action_table() needs a discrete action space")
        return np.array([[a.steering_angle_deg, a.speed_m_s] for a in self.actions], dtype=np.float64)

    def action_to_drive(self, action: int | np.integer | Sequence[float] | np.ndarray,
                        normalized: bool = True) -> tuple[float, float]:
        """One action -> ``(steering_angle_deg, speed_m_s)``.

        Discrete: ``action`` is an index in ``[0, n_actions)`` (an int or a 0-d/1-element array);
        anything else raises :class:`MetadataError`. Continuous: ``action`` is ``[steering, speed]``,
        normalised to ``[-1, 1]`` (``normalized=True``, what the env's ``Box`` and the exported
        network produce) or in degrees and m/s (``normalized=False``); clipped to the range.
        """
        steer, speed = self.actions_to_drive(np.asarray(action)[None, ...], normalized=normalized)
        return float(steer[0]), float(speed[0])

    def actions_to_drive(self, actions: np.ndarray, normalized: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Vectorised :meth:`action_to_drive`: (N,) indices or (N, 2) continuous -> two (N,) arrays."""
        actions = np.asarray(actions)
        if self.is_discrete:
            idx = actions.reshape(len(actions), -1)
            if idx.shape[1] != 1 or not (np.issubdtype(idx.dtype, np.integer)
                                         or np.all(np.equal(np.mod(idx, 1), 0))):
                raise MetadataError(f"{self.source}: a discrete action must be one integer index, got {actions!r}")
            idx = idx[:, 0].astype(np.int64)
            if np.any((idx < 0) | (idx >= len(self.actions))):
                raise MetadataError(f"{self.source}: action index {idx.tolist()} outside "
                                    f"[0, {len(self.actions) - 1}]")
            table = self._table()
            return table[idx, 0].copy(), table[idx, 1].copy()
        acts = actions.astype(np.float64).reshape(len(actions), -1)
        if acts.shape[1] != 2:
            raise MetadataError(f"{self.source}: a continuous action is [steering, speed], got shape {actions.shape[1:]}")
        if not np.all(np.isfinite(acts)):
            raise MetadataError(f"{self.source}: continuous action is not finite: {acts.tolist()}")
        assert self.steering_range_deg is not None and self.speed_range_m_s is not None
        out = []
        for col, (low, high) in enumerate((self.steering_range_deg, self.speed_range_m_s)):
            v = acts[:, col]
            if normalized:
                v = low + (np.clip(v, -1.0, 1.0) + 1.0) * 0.5 * (high - low)
            out.append(np.clip(v, low, high))
        return out[0], out[1]

    def _table(self) -> np.ndarray:
        table = self.__dict__.get("_cached_table")
        if table is None or len(table) != len(self.actions):
            table = self.action_table()
            self.__dict__["_cached_table"] = table
        return table


class _Parser:
    """Field checks that raise :class:`MetadataError` as ``"<source>: <field>: <problem>"``."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, field_: str, problem: str) -> None:
        where = f"{self.source}: {field_}: " if field_ else f"{self.source}: "
        raise MetadataError(where + problem)

    def number(self, value: Any, field_: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            # AWS's console writes numbers; strings like "0.5" are a common hand-edit mistake.
            self.fail(field_, f"expected a number, got {type(value).__name__} {value!r}")
        if not math.isfinite(value):
            self.fail(field_, f"must be finite, got {value}")
        return float(value)

    def string(self, value: Any, field_: str) -> str:
        if not isinstance(value, str):
            self.fail(field_, f"expected a string, got {type(value).__name__} {value!r}")
        return value

    def choice(self, value: Any, field_: str, choices: Sequence[str]) -> str:
        value = self.string(value, field_)
        if value not in choices:
            self.fail(field_, f"unknown value {value!r}; expected one of {list(choices)}")
        return value

    def check_steering(self, value: float, field_: str, lim: DriveLimits) -> None:
        value = self.number(value, field_)
        if abs(value) > lim.max_steering_deg + _TOLERANCE:
            self.fail(field_, f"{value} deg is beyond the car's steering limit of "
                              f"+-{lim.max_steering_deg:.6g} deg")

    def check_speed(self, value: float, field_: str, lim: DriveLimits) -> None:
        value = self.number(value, field_)
        if not lim.min_speed_m_s - _TOLERANCE <= value <= lim.max_speed_m_s + _TOLERANCE:
            self.fail(field_, f"{value} m/s is outside the car's speed range "
                              f"{lim.min_speed_m_s:.6g}..{lim.max_speed_m_s:.6g} m/s")

    def discrete_actions(self, space: Any) -> tuple[DiscreteAction, ...]:
        if not isinstance(space, list):
            self.fail("action_space", f"a discrete action space is a list of {{steering_angle, speed}}, "
                                      f"got {type(space).__name__}")
        actions = []
        for i, item in enumerate(space):
            where = f"action_space[{i}]"
            if not isinstance(item, Mapping):
                self.fail(where, f"expected an object {{steering_angle, speed}}, got {type(item).__name__}")
            for key in ("steering_angle", "speed"):
                if key not in item:
                    self.fail(f"{where}.{key}", "missing")
            unknown = sorted(set(item) - {"steering_angle", "speed", "index"})
            if unknown:
                self.fail(where, f"unknown keys {unknown}; allowed: steering_angle, speed, index")
            if "index" in item and (isinstance(item["index"], bool) or item["index"] != i):
                self.fail(f"{where}.index", f"is {item['index']!r} but the entry is at position {i}")
            actions.append(DiscreteAction(self.number(item["steering_angle"], f"{where}.steering_angle"),
                                          self.number(item["speed"], f"{where}.speed")))
        return tuple(actions)

    def continuous_ranges(self, space: Any) -> tuple[tuple[float, float], tuple[float, float]]:
        if not isinstance(space, Mapping):
            self.fail("action_space", "a continuous action space is {steering_angle: {low, high}, "
                                      f"speed: {{low, high}}}}, got {type(space).__name__}")
        ranges = []
        for key in ("steering_angle", "speed"):
            where = f"action_space.{key}"
            if key not in space:
                self.fail(where, "missing")
            rng = space[key]
            if not isinstance(rng, Mapping):
                self.fail(where, f"expected {{low, high}}, got {type(rng).__name__}")
            for end in ("low", "high"):
                if end not in rng:
                    self.fail(f"{where}.{end}", "missing")
            ranges.append((self.number(rng["low"], f"{where}.low"), self.number(rng["high"], f"{where}.high")))
        unknown = sorted(set(space) - {"steering_angle", "speed"})
        if unknown:
            self.fail("action_space", f"unknown keys {unknown}; allowed: steering_angle, speed")
        return ranges[0], ranges[1]

    def sensors(self, value: Any) -> tuple[str, ...]:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail("sensor", f"expected a list of sensor names, got {value!r}")
        for name in value:
            if name in KNOWN_UNSUPPORTED_SENSORS:
                self.fail("sensor", f"{name} is not supported by this workspace (only the single front "
                                    f"camera is simulated and driven); use {list(SUPPORTED_SENSORS)}")
            if name not in SUPPORTED_SENSORS:
                self.fail("sensor", f"unknown sensor {name!r}; supported: {list(SUPPORTED_SENSORS)}")
        if not value:
            self.fail("sensor", f"empty list; use {list(SUPPORTED_SENSORS)}")
        return tuple(value)

    def version(self, value: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            self.fail("version", f"expected a string or number, got {type(value).__name__} {value!r}")
        text = str(value).strip()
        try:
            number = float(text)
        except ValueError:
            number = float("nan")
        if not text or not math.isfinite(number) or number <= 0:
            self.fail("version", f"expected a positive version number such as \"5\", got {value!r}")
        return text[:-2] if text.endswith(".0") else text
