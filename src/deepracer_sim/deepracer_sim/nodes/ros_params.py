"""Parameter descriptors for the workspace's nodes (read-only, with ranges), shared by the sim node and
the Gym-bridge node (which depends on deepracer_sim)."""
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor


def descriptor(description: str, *, float_range: tuple[float, float] | None = None,
                int_range: tuple[int, int] | None = None) -> ParameterDescriptor:
    """A read-only ParameterDescriptor with ``description`` and an optional inclusive range."""
    d = ParameterDescriptor(description=description, read_only=True)
    if float_range is not None:
        d.floating_point_range = [FloatingPointRange(from_value=float_range[0], to_value=float_range[1], step=0.0)]
    if int_range is not None:
        d.integer_range = [IntegerRange(from_value=int_range[0], to_value=int_range[1], step=1)]
    return d
