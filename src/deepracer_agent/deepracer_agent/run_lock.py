"""One writer per run folder: an advisory ``flock`` on ``run_dir/run.lock`` naming its holder.

``deepracer train`` (embedded and ``--decoupled``) holds the lock for its whole run, so a second
training started on the same ``--run-dir`` is refused at once with the holder's pid, host and start
time instead of interleaving metrics and checkpoints. The kernel drops a ``flock`` when its process
dies (also on SIGKILL), so a lock file left by a dead process is simply taken over; its old content
is reported as "taken over from" in the log. The lock file is never deleted (deleting a locked
file lets two processes lock two different inodes); on release it is emptied.

Limits: ``flock`` is per host on most network file systems; two machines writing one NFS run folder
are not detected.
"""
from __future__ import annotations

import datetime as _dt
import errno
import fcntl
import json
import os
import socket
from pathlib import Path
from typing import Any

LOCK_NAME = "run.lock"


class RunLockedError(RuntimeError):
    """The run folder is locked by another live process; the message names it."""


def describe_holder(info: dict[str, Any] | None) -> str:
    if not info:
        return "another process (no holder recorded)"
    return (f"pid {info.get('pid', '?')} on host {info.get('host', '?')} since {info.get('started_utc', '?')}"
            f" ({info.get('command', 'deepracer train')})")


def read_holder(run_dir: str | Path) -> dict[str, Any] | None:
    """The holder recorded in ``run_dir/run.lock`` (None if absent, empty or unreadable)."""
    try:
        text = (Path(run_dir) / LOCK_NAME).read_text(encoding="utf-8")
        data = json.loads(text) if text.strip() else None
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


class RunLock:
    """``with RunLock(run_dir, command="deepracer train"):`` or ``acquire()`` / ``release()``.

    :param run_dir: the run folder (created if missing)
    :param command: what the holder is doing, written into the lock file for the refusal message
    """

    def __init__(self, run_dir: str | Path, command: str = "deepracer train") -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK_NAME
        self.command = command
        self.previous: dict[str, Any] | None = None   # a dead holder's record, when taken over
        self._fd: int | None = None

    def acquire(self) -> "RunLock":
        """Take the lock or raise :class:`RunLockedError` naming the live holder (never waits)."""
        if self._fd is not None:
            return self
        self.run_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise RunLockedError(f"{self.run_dir}: in use by {describe_holder(read_holder(self.run_dir))}; "
                                     f"wait for it to finish or stop it (lock file {self.path})") from None
            raise
        self.previous = read_holder(self.run_dir)
        record = {"pid": os.getpid(), "host": socket.gethostname(), "command": self.command,
                  "started_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)
        os.fsync(fd)
        self._fd = fd
        return self

    def release(self) -> None:
        """Empty the lock file and drop the lock (idempotent)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()
