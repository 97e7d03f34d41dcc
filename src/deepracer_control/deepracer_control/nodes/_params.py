"""Parameter declaration shared by the nodes of this package: descriptors, ranges, clear errors.

Gotcha handled here: ROS parameters are strictly typed, so ``rate:=15`` from a launch file arrives
as an INTEGER where a DOUBLE is declared and rclpy would refuse it. Float parameters are declared
with dynamic typing and integers are accepted and converted; anything else is an error naming the
parameter. Range checks are done here too (rclpy only checks ranges for the declared type).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException
from rclpy.node import Node


class ParameterError(ValueError):
    """A parameter has a wrong type or value; the message names it."""


@dataclass(frozen=True)
class Spec:
    name: str
    default: Any
    description: str
    read_only: bool = True
    range: tuple[float, float] | None = None      # inclusive, for int and float parameters
    choices: tuple[str, ...] | None = None         # for string parameters


def descriptor(spec: Spec) -> ParameterDescriptor:
    d = ParameterDescriptor(description=spec.description, read_only=spec.read_only)
    if isinstance(spec.default, float):
        d.dynamic_typing = True  # accept 15 for 15.0; checked in check_value
    if spec.range is not None and isinstance(spec.default, int) and not isinstance(spec.default, bool):
        d.integer_range = [IntegerRange(from_value=int(spec.range[0]), to_value=int(spec.range[1]), step=1)]
    if spec.range is not None and isinstance(spec.default, float):
        d.additional_constraints = f"range [{spec.range[0]}, {spec.range[1]}]"
        # no floating_point_range: with dynamic typing an INTEGER value would bypass it anyway
    if spec.choices is not None:
        d.additional_constraints = "one of: " + ", ".join(spec.choices)
    return d


def check_value(spec: Spec, value: Any) -> Any:
    """Type/range/choice check of one value; returns it (ints converted for float parameters)."""
    if isinstance(spec.default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParameterError(f"parameter {spec.name} = {value!r} must be a number")
        value = float(value)
    if spec.range is not None and not spec.range[0] <= value <= spec.range[1]:
        raise ParameterError(f"parameter {spec.name} = {value} is outside [{spec.range[0]}, {spec.range[1]}]")
    if spec.choices is not None and value not in spec.choices:
        raise ParameterError(f"parameter {spec.name} = {value!r} is not one of {', '.join(spec.choices)}")
    return value


def declare(node: Node, specs: list[Spec]) -> dict[str, Any]:
    """Declare every parameter and return the checked values; ParameterError names a bad one."""
    values = {}
    for spec in specs:
        try:
            raw = node.declare_parameter(spec.name, spec.default, descriptor(spec)).value
        except (InvalidParameterTypeException, InvalidParameterValueException) as exc:
            raise ParameterError(f"parameter {spec.name}: {exc}") from None
        values[spec.name] = check_value(spec, raw)
    return values
