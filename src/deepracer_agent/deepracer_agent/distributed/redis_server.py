"""Start and stop a private ``redis-server`` on 127.0.0.1 (for ``run_local``, tests and benchmarks).

The server listens on loopback only, on a free port, with a password (generated if none is given),
``appendonly yes`` (un-ACKed stream entries survive a restart) and its files in its own folder.
The password is passed through a config file readable by the owner only, never on the command
line (where ``ps`` would show it).
"""
from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from .transport import RedisSettings


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_redis_server() -> str:
    """Path of the ``redis-server`` binary; RuntimeError with the install hint if absent."""
    exe = os.environ.get("DEEPRACER_REDIS_SERVER") or shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None)
    if not exe:
        raise RuntimeError("redis-server not found: install it (apt-get install redis-server, or "
                           "'make setup', which runs scripts/install_system_deps.sh)")
    return exe


class RedisServerProcess:
    """A redis-server child process. ``restart()`` keeps port, password and data folder."""

    def __init__(self, port: int | None = None, password: str | None = None, data_dir: str | Path | None = None,
                 appendonly: bool = True):
        self.port = port or free_port()
        self.password = password if password is not None else secrets.token_urlsafe(24)
        self._tmp = None if data_dir else tempfile.TemporaryDirectory(prefix="deepracer-redis-")
        self.data_dir = Path(data_dir or self._tmp.name)  # type: ignore[union-attr]
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.appendonly = appendonly
        self.proc: subprocess.Popen | None = None

    @property
    def settings(self) -> RedisSettings:
        return RedisSettings(host="127.0.0.1", port=self.port, password=self.password or None)

    def _write_conf(self) -> Path:
        conf = self.data_dir / "redis.conf"
        lines = [f"port {self.port}", "bind 127.0.0.1", "protected-mode yes", f"dir {self.data_dir}",
                 "save ''", f"appendonly {'yes' if self.appendonly else 'no'}", "appendfsync always",
                 "daemonize no", "loglevel warning", f"logfile {self.data_dir / 'redis.log'}"]
        if self.password:
            lines.append(f"requirepass {self.password}")
        fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("\n".join(lines) + "\n")
        return conf

    def start(self, timeout_s: float = 10.0) -> "RedisServerProcess":
        conf = self._write_conf()
        self.proc = subprocess.Popen([find_redis_server(), str(conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        client = self.settings.client(retries=0)
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if client.ping():
                    break
            except Exception:  # noqa: BLE001 - still starting
                if self.proc.poll() is not None:
                    log = (self.data_dir / "redis.log")
                    raise RuntimeError(f"redis-server exited with {self.proc.returncode}: "
                                       f"{log.read_text()[-500:] if log.exists() else ''}")
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"redis-server did not answer on port {self.port} within {timeout_s} s")
                time.sleep(0.05)
        client.close()
        return self

    def stop(self, kill: bool = False) -> None:
        """Stop the server (SIGTERM, or SIGKILL with ``kill=True`` to simulate a crash)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill() if kill else self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self, kill: bool = True, downtime_s: float = 0.0) -> None:
        self.stop(kill=kill)
        time.sleep(downtime_s)
        self.start()

    def close(self) -> None:
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> "RedisServerProcess":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
