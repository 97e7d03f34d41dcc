"""THE ROS parameter helper of the workspace: typed, ranged parameters with descriptors.

A node lists its parameters as :class:`Spec` rows and calls :func:`declare` (start-up values) or
builds a :class:`NodeParameters` (start-up values + runtime changes, the ros2/demos pattern:
the on-set callback only VALIDATES and returns ``SetParametersResult``, a post-set callback APPLIES).

Rules, the same for every node:

- A parameter's type is its default's type (bool, int, float, str, list of those).
- An INTEGER is accepted for a DOUBLE parameter (``rate_hz:=60`` from a launch file or the command
  line, ``ros2 param set ... 60`` at runtime) and converted, so the parameter stays a statically
  typed DOUBLE (``ros2 param describe`` shows it, with its range). Anything else of the wrong type
  is an error naming the parameter.
- ``range`` (inclusive) and ``choices`` are checked at start-up and at runtime.
- A parameter given to the node (params file, ``-p``, launch ``<param>``) that the node does not
  declare is an ERROR at start-up (``unknown parameter max_speed_scal (did you mean
  'max_speed_scale'?)``), not silently ignored.

Errors are :class:`ParameterError`; the node turns them into one line and a non-zero exit.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, SetParametersResult
from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException
from rclpy.node import Node
from rclpy.parameter import Parameter

from ..options import did_you_mean

__all__ = ["ParameterError", "Spec", "descriptor", "check_value", "declare", "check_unknown", "NodeParameters"]

#: Parameters rclpy itself may receive or declare on any node (never reported as unknown).
ROS_BUILTIN_PARAMETERS = ("use_sim_time", "start_type_description_service")
ROS_BUILTIN_PREFIXES = ("qos_overrides.",)


class ParameterError(ValueError):
    """A parameter has a wrong type or value, or is unknown; the message names it."""


@dataclass(frozen=True)
class Spec:
    """One parameter: name, default (its type is the parameter's type), one line of documentation.

    range: inclusive (lo, hi) for int and float parameters. choices: allowed string values.
    read_only: False for parameters the node applies at runtime. unit: e.g. ``"s"``, ``"Hz"``.
    """

    name: str
    default: Any
    description: str
    read_only: bool = True
    range: tuple[float, float] | None = None
    choices: tuple[str, ...] | None = None
    unit: str = ""

    @property
    def is_float(self) -> bool:
        return isinstance(self.default, float)

    @property
    def is_int(self) -> bool:
        return isinstance(self.default, int) and not isinstance(self.default, bool)


def descriptor(spec: Spec) -> ParameterDescriptor:
    """The ParameterDescriptor of ``spec`` (description with unit, read-only, range, choices)."""
    text = f"{spec.description} [{spec.unit}]" if spec.unit else spec.description
    d = ParameterDescriptor(description=text, read_only=spec.read_only)
    if spec.range is not None and spec.is_int:
        d.integer_range = [IntegerRange(from_value=int(spec.range[0]), to_value=int(spec.range[1]), step=1)]
    if spec.range is not None and spec.is_float:
        d.floating_point_range = [FloatingPointRange(from_value=float(spec.range[0]),
                                                     to_value=float(spec.range[1]), step=0.0)]
    if spec.choices is not None:
        d.additional_constraints = "one of: " + ", ".join(spec.choices)
    return d


def check_value(spec: Spec, value: Any) -> Any:
    """Type/range/choice check of one value; returns it (an int converted for a float parameter)."""
    if spec.is_float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParameterError(f"parameter {spec.name} = {value!r} must be a number")
        value = float(value)
        if value != value:  # NaN
            raise ParameterError(f"parameter {spec.name} = nan must be a number")
    elif spec.is_int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ParameterError(f"parameter {spec.name} = {value!r} must be an integer")
    elif isinstance(spec.default, bool):
        if not isinstance(value, bool):
            raise ParameterError(f"parameter {spec.name} = {value!r} must be true or false")
    elif isinstance(spec.default, str):
        if not isinstance(value, str):
            raise ParameterError(f"parameter {spec.name} = {value!r} must be a string")
    if spec.range is not None and not spec.range[0] <= value <= spec.range[1]:
        unit = f" {spec.unit}" if spec.unit else ""
        raise ParameterError(f"parameter {spec.name} = {value} is outside [{spec.range[0]}, {spec.range[1]}]{unit}")
    if spec.choices is not None and value not in spec.choices:
        raise ParameterError(f"parameter {spec.name} = {value!r} is not one of {', '.join(spec.choices)}"
                             + did_you_mean(value, spec.choices))
    return value


def _overrides(node: Node) -> dict[str, Parameter]:
    # rclpy keeps the values given to the node (params files, -p, launch <param>) here; there is no
    # public accessor, and the node needs them to report unknown names and to coerce ints.
    return dict(getattr(node, "_parameter_overrides", {}) or {})


def declare(node: Node, specs: Sequence[Spec], *, reject_unknown: bool = True,
            also_known: Iterable[str] = ()) -> dict[str, Any]:
    """Declare every parameter and return the checked values; ParameterError names a bad one.

    With ``reject_unknown`` (the default), a parameter given to the node that is neither in
    ``specs``, nor already declared, nor in ``also_known`` raises ParameterError (did-you-mean).
    """
    overrides = _overrides(node)
    values: dict[str, Any] = {}
    for spec in specs:
        given = overrides.get(spec.name)
        try:
            if given is not None and given.type_ != Parameter.Type.NOT_SET:
                value = check_value(spec, given.value)  # our message, before rclpy's type error
                param = node.declare_parameter(spec.name, value, descriptor(spec), ignore_override=True)
            else:
                param = node.declare_parameter(spec.name, spec.default, descriptor(spec))
        except (InvalidParameterTypeException, InvalidParameterValueException) as exc:
            raise ParameterError(f"parameter {spec.name}: {exc}") from None
        values[spec.name] = check_value(spec, param.value)
    if reject_unknown:
        check_unknown(node, [*[s.name for s in specs], *also_known])
    return values


def check_unknown(node: Node, known: Iterable[str]) -> None:
    """ParameterError if the node was given a parameter it does not know (params file, -p, launch)."""
    known_set = set(known) | set(getattr(node, "_parameters", {})) | set(ROS_BUILTIN_PARAMETERS)
    unknown = sorted(name for name in _overrides(node)
                     if name not in known_set and not name.startswith(ROS_BUILTIN_PREFIXES))
    if unknown:
        names = sorted(n for n in known_set if n not in ROS_BUILTIN_PARAMETERS)
        hints = "".join(did_you_mean(name, names) for name in unknown)
        raise ParameterError(f"{node.get_name()}: unknown parameter{'s' if len(unknown) > 1 else ''} "
                             f"{', '.join(unknown)}{hints}; known parameters: {', '.join(names)}")


class NodeParameters:
    """A node's parameters: declared and checked at start-up, validated and applied at runtime.

    :param node: the node.
    :param specs: its parameters.
    :param apply: called AFTER a successful change with ``{name: checked value}`` (post-set callback).
    :param validate: called BEFORE a change with ``{name: checked value}`` and the values it would
        produce (``self.values`` updated by the change); returns a reason to reject, or None. It must
        not change the node (the change may still be rejected by another callback).
    :param reject_unknown: see :func:`declare`.

    ``self.values`` always holds the current checked values.
    """

    def __init__(self, node: Node, specs: Sequence[Spec], *,
                 apply: Callable[[dict[str, Any]], None] | None = None,
                 validate: Callable[[dict[str, Any], dict[str, Any]], str | None] | None = None,
                 reject_unknown: bool = True, also_known: Iterable[str] = ()) -> None:
        self.node = node
        self.specs = {s.name: s for s in specs}
        self._apply_cb = apply
        self._validate_cb = validate
        self.values = declare(node, specs, reject_unknown=reject_unknown, also_known=also_known)
        node.add_pre_set_parameters_callback(self._coerce)
        node.add_on_set_parameters_callback(self._on_set)
        node.add_post_set_parameters_callback(self._post_set)

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def _coerce(self, params: list[Parameter]) -> list[Parameter]:
        """Pre-set: an INTEGER for a DOUBLE parameter becomes a DOUBLE (so rclpy's type check passes)."""
        out = []
        for p in params:
            spec = self.specs.get(p.name)
            if spec is not None and spec.is_float and p.type_ == Parameter.Type.INTEGER:
                p = Parameter(p.name, Parameter.Type.DOUBLE, float(p.value))
            out.append(p)
        return out

    def _check(self, params: list[Parameter]) -> dict[str, Any]:
        return {p.name: check_value(self.specs[p.name], p.value) for p in params if p.name in self.specs}

    def _on_set(self, params: list[Parameter]) -> SetParametersResult:
        """On-set: validate only (all of the list, or none of it changes)."""
        try:
            changes = self._check(params)
        except ParameterError as exc:
            return SetParametersResult(successful=False, reason=str(exc))
        if self._validate_cb is not None and changes:
            reason = self._validate_cb(changes, {**self.values, **changes})
            if reason:
                return SetParametersResult(successful=False, reason=reason)
        return SetParametersResult(successful=True)

    def _post_set(self, params: list[Parameter]) -> None:
        """Post-set: record the new values and apply them."""
        changes = self._check(params)
        if not changes:
            return
        self.values.update(changes)
        if self._apply_cb is not None:
            self._apply_cb(changes)
