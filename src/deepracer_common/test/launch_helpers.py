"""`deepracer launch` as a subprocess for tests: the runner's output collected line by line.

Used by this package's process tests and by the cross-package graph tests.
"""
from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
from pathlib import Path


class LaunchedGraph:
    """`deepracer launch FILE args...` as a subprocess; output collected line by line."""

    def __init__(self, launch_file: Path, *args: str, keep_going: bool = False,
                 runner_options: tuple[str, ...] = (), env: dict[str, str] | None = None) -> None:
        """``args``: launch arguments (``name:=value``); ``runner_options``: flags of the runner itself."""
        options = [*runner_options, *(["--keep-going"] if keep_going else [])]
        cmd = [sys.executable, "-m", "deepracer_common.launch_runner", *options, str(launch_file), *args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def pid_of(self, node: str) -> int | None:
        """The pid the runner reported for process `node` ("started 'node' [pid N]")."""
        for line in self.lines:
            m = re.search(rf"started '{re.escape(node)}' \[pid (\d+)\]", line)
            if m:
                return int(m.group(1))
        return None

    def stop(self, timeout_s: float = 20.0) -> int:
        """Ctrl-C the runner (it stops every node) and return its exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(timeout=5)
        return self.proc.returncode
