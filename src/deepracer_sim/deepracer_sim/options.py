"""Validated configuration dataclasses: the `option` field declaration, `ConfigBase`, `SimConfigError`.

Every option is a dataclass field declared with :func:`option`, which records its kind, range and
choices. Construction validates every field (``__post_init__``), so a bad value fails the same way
whether it came from a YAML file (``SimConfig.from_dict``) or from Python code. Errors are
:class:`SimConfigError` and always start with the dotted option name, e.g.
``randomization.camera_pose.fov_rad: must be >= 0, got -0.1``.

Units: metres, seconds, radians, kilograms, newtons (per radian for cornering stiffness).
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any, ClassVar

__all__ = ["SimConfigError", "ConfigBase", "option"]


class SimConfigError(ValueError):
    """A simulator configuration value is invalid; the message starts with the option's dotted name."""


def option(default: Any = dataclasses.MISSING, *, kind: type | tuple = float, lo: float | None = None,
           hi: float | None = None, lo_open: bool = False, choices: tuple | None = None,
           allow_none: bool = False, doc: str = "", default_factory: Any = dataclasses.MISSING) -> Any:
    """Declare a config field with its validation rules.

    kind: bool, int, float, str, or a ConfigBase subclass (a nested section).
    lo / hi: inclusive bounds (lo exclusive when lo_open). float fields accept ints and may be inf
    when hi is None; NaN is always rejected.
    """
    meta = {"kind": kind, "lo": lo, "hi": hi, "lo_open": lo_open, "choices": choices,
            "allow_none": allow_none, "doc": doc}
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _check_value(name: str, value: Any, meta: Mapping[str, Any]) -> Any:
    """Validate and normalise one value; raise SimConfigError naming `name`."""
    kind = meta["kind"]
    if value is None:
        if meta["allow_none"]:
            return None
        raise SimConfigError(f"{name}: a value is required, got None")
    if isinstance(kind, type) and issubclass(kind, ConfigBase):
        if isinstance(value, kind):
            return value
        return kind.from_dict(value, prefix=name)
    if kind is bool:
        if not isinstance(value, bool):
            raise SimConfigError(f"{name}: expected true/false, got {value!r}")
        return value
    if kind is str:
        if not isinstance(value, str):
            raise SimConfigError(f"{name}: expected a string, got {value!r}")
    elif kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise SimConfigError(f"{name}: expected an integer, got {value!r}")
    elif kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SimConfigError(f"{name}: expected a number, got {value!r}")
        value = float(value)
        if math.isnan(value):
            raise SimConfigError(f"{name}: must be a number, got NaN")
    choices = meta["choices"]
    if choices is not None and value not in choices:
        raise SimConfigError(f"{name}: must be one of {', '.join(map(repr, choices))}, got {value!r}")
    lo, hi = meta["lo"], meta["hi"]
    if lo is not None:
        if meta["lo_open"] and not value > lo:
            raise SimConfigError(f"{name}: must be > {lo}, got {value!r}")
        if not meta["lo_open"] and not value >= lo:
            raise SimConfigError(f"{name}: must be >= {lo}, got {value!r}")
    if hi is not None and not value <= hi:
        raise SimConfigError(f"{name}: must be <= {hi}, got {value!r}")
    return value


class ConfigBase:
    """Mixin for validated config dataclasses (fields declared with :func:`option`)."""

    _prefix: ClassVar[str] = ""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            if "kind" not in f.metadata:
                continue
            name = f"{self._prefix}{f.name}" if self._prefix else f.name
            object.__setattr__(self, f.name, _check_value(name, getattr(self, f.name), f.metadata))
        self._check_consistency()

    def _check_consistency(self) -> None:
        """Cross-field checks; override in subclasses (raise SimConfigError naming the option)."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, prefix: str = "") -> Any:
        """Build from a mapping (e.g. parsed YAML). Unknown keys and bad values raise SimConfigError."""
        if data is None:
            data = {}
        where = prefix or cls.__name__
        if not isinstance(data, Mapping):
            raise SimConfigError(f"{where}: expected a mapping of options, got {type(data).__name__}")
        fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if key not in fields:
                known = ", ".join(sorted(fields))
                raise SimConfigError(f"{name}: unknown option (known options here: {known})")
            kwargs[key] = _check_value(name, value, fields[key].metadata)
        try:
            return cls._with_prefix(prefix, kwargs)
        except TypeError as exc:  # pragma: no cover - defensive: dataclass signature mismatch
            raise SimConfigError(f"{where}: {exc}") from None

    @classmethod
    def _with_prefix(cls, prefix: str, kwargs: dict[str, Any]) -> Any:
        # Validation messages inside __post_init__ use the prefix of the section being built.
        old = cls.__dict__.get("_prefix", None)
        cls._prefix = f"{prefix}." if prefix else ""
        try:
            return cls(**kwargs)
        finally:
            if old is None:
                del cls._prefix
            else:
                cls._prefix = old

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (round-trips through from_dict)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            out[f.name] = value.to_dict() if isinstance(value, ConfigBase) else value
        return out

    @classmethod
    def describe(cls) -> list[tuple[str, Any, str]]:
        """(name, default, doc) for every option, nested sections flattened with dots (for docs)."""
        rows: list[tuple[str, Any, str]] = []
        instance = cls()
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            kind = f.metadata.get("kind")
            if isinstance(kind, type) and issubclass(kind, ConfigBase):
                rows += [(f"{f.name}.{n}", d, doc) for n, d, doc in kind.describe()]
            else:
                rows.append((f.name, getattr(instance, f.name), f.metadata.get("doc", "")))
        return rows
