"""THE entry-point wrapper of the workspace's nodes: start, spin, and a clean shutdown on any signal.

Every node's ``main`` is ``return run_node(MyNode, "my_node", (MyStartupError,), args)``. What it
guarantees, the same under ``deepracer launch`` and ``ros2 launch`` (both send SIGINT, then SIGTERM
after a timeout, then SIGKILL):

- a start-up error listed in ``startup_errors`` (and :class:`ParameterError`) logs ONE line and
  exits 1; nothing is spun;
- SIGINT or SIGTERM (rclpy's handlers shut the context down; spin returns through
  ``KeyboardInterrupt`` / ``ExternalShutdownException``) exits 0;
- a callback that was publishing when the context went away ("publisher's context is invalid",
  an ``RCLError`` once the context is no longer ok) counts as the shutdown, not as a crash;
- once shutting down, further SIGINT / SIGTERM are ignored until cleanup is done (``close()`` and
  ``destroy_node()`` run to the end: no ``KeyboardInterrupt`` traceback inside ``destroy_node``);
  the launcher's SIGKILL still ends a cleanup that hangs;
- ``node.close()`` (if the node has one: outputs neutral, files flushed) runs before
  ``destroy_node()``; an error in either is logged in one line and the exit status becomes 1.

A genuine crash (an exception while the context is still ok) is re-raised after the cleanup, so
it shows its traceback and a non-zero status, as it should.
"""
from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

import rclpy
from rclpy.executors import ExternalShutdownException, Executor

from ..interrupts import ignore_further_signals
from .params import ParameterError

__all__ = ["run_node", "ignore_further_signals", "is_shutdown_error"]


def is_shutdown_error(exc: BaseException, context: Any = None) -> bool:
    """True for the errors rclpy raises from a publish/spin racing the context's shutdown."""
    from rclpy._rclpy_pybind11 import InvalidHandle, RCLError

    if isinstance(exc, (KeyboardInterrupt, ExternalShutdownException)):
        return True
    ok = context.ok() if context is not None else rclpy.ok()
    return isinstance(exc, (RCLError, InvalidHandle)) and not ok


def run_node(factory: Callable[[], Any], name: str, startup_errors: Sequence[type[BaseException]] = (),
             args: list[str] | None = None, executor: Callable[[], Executor] | None = None) -> int:
    """Init rclpy, build the node with ``factory()``, spin it until shutdown, clean up; the exit status.

    ``executor``: a factory for the executor to spin in (default: ``rclpy.spin``'s single-threaded one).
    """
    rclpy.init(args=args if args is not None else sys.argv)
    log = rclpy.logging.get_logger(name)
    node = None
    status = 0
    crash: BaseException | None = None
    try:
        try:
            node = factory()
        except (ParameterError, *startup_errors) as exc:
            log.error(str(exc))
            return 1
        try:
            if executor is None:
                rclpy.spin(node)
            else:
                ex = executor()
                ex.add_node(node)
                ex.spin()
        except BaseException as exc:  # noqa: BLE001 - sorted below: shutdown or crash
            if not is_shutdown_error(exc):
                crash = exc
    finally:
        ignore_further_signals()
        if node is not None:
            for step in ("close", "destroy_node"):
                fn = getattr(node, step, None)
                if fn is None:
                    continue
                try:
                    fn()
                except Exception as exc:  # noqa: BLE001 - one line, the rest of the cleanup still runs
                    log.error(f"{step}() failed during shutdown: {type(exc).__name__}: {exc}")
                    status = 1
        rclpy.try_shutdown()
    if crash is not None:
        raise crash
    return status
