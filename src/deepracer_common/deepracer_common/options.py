"""THE validated-options schema of the workspace: typed fields with units, ranges, choices, YAML.

A configuration is a dataclass that derives from :class:`Options`, with every field declared by
:func:`option` (its kind, unit, range, choices and one line of documentation). Construction
validates every field, so a bad value fails the same way whether it came from a YAML file
(:meth:`Options.from_dict`, :meth:`Options.load`), from ``key.sub=value`` overrides or from Python.
Errors are :class:`OptionsError` (or the subclass an options class names in ``error``) and start
with the dotted option name, e.g. ``hyperparameters.lr: must be > 0, got -1.0``; an unknown key
gets a did-you-mean.

Numbers may be written any way YAML users write them: ``3e-1``, ``6e2``, ``1_000``, ``1.5E+3``
(PyYAML implements YAML 1.1 and would read ``3e-1`` as a string; :func:`load_yaml` reads it as a
float and a float field also accepts such a string), and an integer for a float field. An integer
field accepts an integral float (``1e6``). Booleans are never numbers.

Usage::

    @dataclasses.dataclass
    class Lap(Options):
        speed_m_s: float = option(1.0, lo=0.0, lo_open=True, unit="m/s", doc="target speed")
        mode: str = option("fast", kind=str, choices=("fast", "safe"))

    lap = Lap.load("lap.yaml", ["speed_m_s=2"])
"""
from __future__ import annotations

import copy
import dataclasses
import difflib
import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import yaml

__all__ = ["OptionsError", "Rule", "Options", "option", "check_value", "did_you_mean", "unknown_key_error",
           "load_yaml", "read_yaml", "parse_yaml_value", "parse_override", "apply_overrides", "to_number"]

T = TypeVar("T", bound="Options")


class OptionsError(ValueError):
    """An option is unknown or invalid; the message starts with its dotted name (or the file)."""


# ------------------------------------------------------------------------------------------ YAML
class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads YAML 1.2 floats without a dot (``3e-1``, ``6E2``) as floats."""


_FLOAT_12 = re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$")
_Loader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_12, list("-+0123456789"))


def _no_duplicates(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicates)


def parse_yaml_value(text: str) -> Any:
    """One YAML value (as in an override ``key=value``), numbers read the :func:`load_yaml` way."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass


def load_yaml(text: str | bytes, source: str = "<string>", error: type[OptionsError] = OptionsError) -> Any:
    """Parse YAML text; bytes must be UTF-8. Raises ``error`` naming ``source`` on bad input."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise error(f"{source}: not UTF-8 text (byte 0x{text[exc.start]:02x} at offset {exc.start})") from None
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f" (line {mark.line + 1}, column {mark.column + 1})"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise error(f"{source}: not valid YAML{where}: {problem}") from None


def read_yaml(path: str | os.PathLike[str], error: type[OptionsError] = OptionsError,
              what: str = "config file") -> dict[str, Any]:
    """A YAML mapping from a file (empty file: ``{}``); one clear ``error`` naming the file otherwise."""
    path = Path(path).expanduser()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise error(f"{what} {path}: not found") from None
    except IsADirectoryError:
        raise error(f"{what} {path}: is a folder, expected a YAML file") from None
    except OSError as exc:
        raise error(f"{what} {path}: cannot read: {exc.strerror or exc}") from None
    data = load_yaml(raw, source=f"{what} {path}", error=error)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise error(f"{what} {path}: expected a mapping of keys at the top, got {type(data).__name__}")
    return data


def parse_override(text: str, error: type[OptionsError] = OptionsError) -> tuple[list[str], Any]:
    """``"hyperparameters.lr=1e-3"`` -> (["hyperparameters", "lr"], 0.001). Values are YAML."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise error(f"override {text!r}: expected key.sub=value (e.g. hyperparameters.lr=0.001)")
    try:
        value = parse_yaml_value(raw) if raw.strip() else None
    except yaml.YAMLError as exc:
        raise error(f"override {text!r}: value is not valid YAML: {exc}") from None
    return key.split("."), value


def apply_overrides(data: Mapping[str, Any], overrides: Sequence[str],
                    error: type[OptionsError] = OptionsError) -> dict[str, Any]:
    """A deep copy of ``data`` with each ``key.sub=value`` set (sections created as needed)."""
    out = copy.deepcopy(dict(data))
    for text in overrides:
        path, value = parse_override(text, error)
        node = out
        for i, part in enumerate(path[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise error(f"override {text!r}: {'.'.join(path[:i + 1])} is not a section")
            node = child
        node[path[-1]] = value
    return out


# ------------------------------------------------------------------------------------- one value
_NUMBER_TEXT = re.compile(r"^\s*[-+]?(?:(?:[0-9][0-9_]*)(?:\.[0-9_]*)?|\.[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)?\s*$")


def to_number(value: Any) -> float | int | None:
    """``value`` as a number if it is one or is a string written as one (``"6e2"``, ``"1_000"``), else None.

    Booleans are not numbers; numpy scalars are.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str) and _NUMBER_TEXT.match(value):
        text = value.strip().replace("_", "")
        try:
            return int(text)
        except ValueError:
            return float(text)
    if hasattr(value, "dtype") and hasattr(value, "item") and getattr(value, "shape", None) == ():
        item = value.item()  # numpy scalar
        return item if isinstance(item, (int, float)) and not isinstance(item, bool) else None
    return None


def did_you_mean(key: Any, known: Sequence[Any]) -> str:
    """`` (did you mean 'x'?)`` for the closest known key, or ''."""
    close = difflib.get_close_matches(str(key), [str(k) for k in known], n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def unknown_key_error(name: str, key: Any, known: Sequence[str],
                      error: type[OptionsError] = OptionsError) -> OptionsError:
    """The one message for an unknown key: ``name: unknown key (did you mean ..?); known keys here: ..``."""
    return error(f"{name}: unknown key{did_you_mean(key, known)}; known keys here: {', '.join(sorted(known))}")


@dataclasses.dataclass(frozen=True)
class Rule:
    """How one value is checked.

    kind: ``bool``, ``int``, ``float``, ``str``, ``list`` (of ``item``), an :class:`Options` subclass
    (a nested section) or a callable ``check(name, value) -> value`` that raises an OptionsError.
    lo / hi: bounds, inclusive unless lo_open / hi_open. also: extra literal values accepted as-is
    (e.g. ``("auto",)``). unit: the unit of a number (``"m/s"``), for docs and messages.
    """

    kind: Any = float
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    choices: tuple[Any, ...] | None = None
    allow_none: bool = False
    also: tuple[Any, ...] = ()
    item: Any = str
    unit: str = ""
    doc: str = ""


_KIND_WORDS = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}


def _is_section(kind: Any) -> bool:
    return isinstance(kind, type) and issubclass(kind, Options)


def check_value(name: str, value: Any, rule: Rule, error: type[OptionsError] = OptionsError) -> Any:
    """Validate and normalise one value against ``rule``; raise ``error`` whose message starts with ``name``."""
    kind = rule.kind
    if value is None:
        if rule.allow_none:
            return None
        raise error(f"{name}: a value is required, got null")
    if rule.also and not isinstance(value, bool) and value in rule.also:
        return value
    if _is_section(kind):
        if isinstance(value, kind):
            return value
        return kind.from_dict(value, prefix=name, error=error)
    if kind is bool:
        if not isinstance(value, bool):
            raise error(f"{name}: expected true or false, got {value!r}")
        return value
    if kind is str:
        if not isinstance(value, str):
            raise error(f"{name}: expected a string, got {value!r}")
    elif kind is int or kind is float:
        number = to_number(value)
        extra = f" or {' / '.join(map(repr, rule.also))}" if rule.also else ""
        if number is None:
            raise error(f"{name}: expected {_KIND_WORDS[kind]}{extra}, got {value!r}")
        if kind is int:
            if isinstance(number, float):
                if not number.is_integer():
                    raise error(f"{name}: expected {_KIND_WORDS[int]}{extra}, got {value!r}")
                number = int(number)
            value = int(number)
        else:
            value = float(number)
            if math.isnan(value):
                raise error(f"{name}: expected a number, got NaN")
    elif kind is list:
        items = [value] if isinstance(value, str) and rule.item is str else value
        if not isinstance(items, (list, tuple)) or not items:
            raise error(f"{name}: expected a non-empty list, got {value!r}")
        item_rule = Rule(kind=rule.item)
        return [check_value(f"{name}[{i}]", v, item_rule, error) for i, v in enumerate(items)]
    elif callable(kind):
        return kind(name, value)
    else:  # pragma: no cover - a programming error in a Rule
        raise TypeError(f"{name}: unsupported option kind {kind!r}")
    if rule.choices is not None and value not in rule.choices:
        raise error(f"{name}: must be one of {', '.join(map(repr, rule.choices))}, got {value!r}"
                    + did_you_mean(value, list(rule.choices)))
    unit = f" {rule.unit}" if rule.unit else ""
    if rule.lo is not None and (not value > rule.lo if rule.lo_open else not value >= rule.lo):
        raise error(f"{name}: must be {'>' if rule.lo_open else '>='} {rule.lo}{unit}, got {value!r}")
    if rule.hi is not None and (not value < rule.hi if rule.hi_open else not value <= rule.hi):
        raise error(f"{name}: must be {'<' if rule.hi_open else '<='} {rule.hi}{unit}, got {value!r}")
    return value


# -------------------------------------------------------------------------------------- sections
def option(default: Any = dataclasses.MISSING, *, kind: Any = float, lo: float | None = None,
           hi: float | None = None, lo_open: bool = False, hi_open: bool = False,
           choices: Sequence[Any] | None = None, allow_none: bool = False, also: Sequence[Any] = (),
           item: Any = str, unit: str = "", doc: str = "",
           default_factory: Callable[[], Any] | Any = dataclasses.MISSING) -> Any:
    """Declare an :class:`Options` dataclass field with its :class:`Rule` (see there for the arguments).

    A nested section: ``option(kind=Section, default_factory=Section)``. No default: a required key.
    """
    rule = Rule(kind=kind, lo=lo, hi=hi, lo_open=lo_open, hi_open=hi_open,
                choices=None if choices is None else tuple(choices), allow_none=allow_none,
                also=tuple(also), item=item, unit=unit, doc=doc)
    meta = {"rule": rule}
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _rules(cls: type) -> dict[str, Rule]:
    return {f.name: f.metadata["rule"] for f in dataclasses.fields(cls) if "rule" in f.metadata}


class Options:
    """Base of validated config dataclasses (fields declared with :func:`option`).

    Subclasses may set ``error`` (an :class:`OptionsError` subclass raised by their own checks) and
    override :meth:`check` for cross-field rules (raise naming the field; :meth:`from_dict` adds
    the section's dotted prefix).
    """

    error: ClassVar[type[OptionsError]] = OptionsError

    def __post_init__(self) -> None:
        for name, rule in _rules(type(self)).items():
            object.__setattr__(self, name, check_value(name, getattr(self, name), rule, type(self).error))
        self.check()

    def check(self) -> None:
        """Cross-field checks; override (raise ``self.error`` whose message starts with the field)."""

    # ------------------------------------------------------------------------------ building
    @classmethod
    def from_dict(cls: type[T], data: Mapping[str, Any] | None, prefix: str = "", *,
                  error: type[OptionsError] | None = None) -> T:
        """Build from a mapping (e.g. parsed YAML). Unknown keys and bad values raise, naming the dotted key."""
        error = error or cls.error
        data = {} if data is None else data
        where = prefix or "config"
        if not isinstance(data, Mapping):
            raise error(f"{where}: expected a mapping of keys, got {type(data).__name__} {data!r}")
        rules = _rules(cls)
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if key not in rules:
                raise unknown_key_error(name, key, list(rules), error)
            kwargs[key] = check_value(name, value, rules[key], error)
        missing = [f.name for f in dataclasses.fields(cls)  # type: ignore[arg-type]
                   if f.name in rules and f.name not in kwargs
                   and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
        if missing:
            names = ", ".join(f"{prefix}.{m}" if prefix else m for m in missing)
            raise error(f"{names}: a value is required")
        try:
            return cls(**kwargs)
        except OptionsError as exc:  # a cross-field check: add the section prefix
            msg = str(exc)
            raise error(f"{prefix}.{msg}" if prefix and not msg.startswith(prefix) else msg) from None

    @classmethod
    def load(cls: type[T], path: str | os.PathLike[str] | None = None, overrides: Sequence[str] = (), *,
             error: type[OptionsError] | None = None) -> T:
        """YAML file (None: the defaults) + ``key.sub=value`` overrides -> a validated instance.

        An error from the file's content names the file: ``... (in PATH)``.
        """
        error = error or cls.error
        data = read_yaml(path, error) if path is not None else {}
        data = apply_overrides(data, list(overrides), error)
        try:
            return cls.from_dict(data, error=error)
        except OptionsError as exc:
            if path is not None:
                raise error(f"{exc} (in {path})") from None
            raise

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (round-trips through :meth:`from_dict`)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            out[f.name] = value.to_dict() if isinstance(value, Options) else copy.deepcopy(value)
        return out

    @classmethod
    def known_keys(cls) -> dict[str, Any]:
        """Field names, nested sections expanded into dicts (None for a plain value)."""
        return {name: (rule.kind.known_keys() if _is_section(rule.kind) else None)
                for name, rule in _rules(cls).items()}

    @classmethod
    def describe(cls) -> list[tuple[str, Any, str, str]]:
        """(dotted name, default, unit, doc) for every option, nested sections flattened (for docs)."""
        rows: list[tuple[str, Any, str, str]] = []
        defaults = {f.name: (f.default if f.default is not dataclasses.MISSING
                             else f.default_factory() if f.default_factory is not dataclasses.MISSING
                             else dataclasses.MISSING) for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        for name, rule in _rules(cls).items():
            if _is_section(rule.kind):
                rows += [(f"{name}.{n}", d, u, doc) for n, d, u, doc in rule.kind.describe()]
            else:
                rows.append((name, defaults[name], rule.unit, rule.doc))
        return rows
