"""Stopping a long command (training, evaluation) cleanly on Ctrl-C, ``kill -INT``, ``docker stop``.

:func:`interrupt_on_signals` makes the FIRST SIGINT or SIGTERM raise ``KeyboardInterrupt`` in the
main thread, so the command's ``except KeyboardInterrupt`` writes its checkpoint and status and
exits; any further SIGINT/SIGTERM is ignored until the process ends (the cleanup runs to its end;
SIGKILL still works).

Why not rely on Python's default: a process started in the background of a non-interactive shell
(``cmd &`` in a script, many CI and container setups) inherits SIGINT *ignored*, and then Python
installs no KeyboardInterrupt handler at all: ``kill -INT`` does nothing. SIGTERM (``docker stop``,
systemd, DRfC's stop scripts) would end the process without its checkpoint.
"""
from __future__ import annotations

import signal
import threading
from types import FrameType

__all__ = ["interrupt_on_signals", "ignore_further_signals"]

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def ignore_further_signals() -> None:
    """SIGINT and SIGTERM are ignored from now on (cleanup runs to its end; SIGKILL still works)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)


def _raise_interrupt(signum: int, _frame: FrameType | None) -> None:
    ignore_further_signals()
    raise KeyboardInterrupt(signal.Signals(signum).name)


def interrupt_on_signals() -> None:
    """From now on the first SIGINT or SIGTERM raises ``KeyboardInterrupt`` in the main thread.

    Call it once, in the command's ``main`` (main thread only; elsewhere it does nothing).
    """
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in STOP_SIGNALS:
        signal.signal(sig, _raise_interrupt)
