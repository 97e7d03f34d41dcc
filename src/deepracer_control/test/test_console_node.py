"""The console node as a process: start-up is all-or-nothing, with one clear line for each bad input."""
from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

pytest.importorskip("rclpy")


def _run(*params: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "deepracer_control.nodes.console_node", "--ros-args"]
    for p in params:
        cmd += ["-p", p]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=os.environ.copy())


def _errors(out: str) -> list[str]:
    return [line for line in out.splitlines() if "[ERROR]" in line]


def test_a_port_in_use_exits_1_with_one_line():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = _run(f"port:={port}")
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "Traceback" not in out
    errors = _errors(out)
    assert len(errors) == 1 and f"cannot serve on 127.0.0.1:{port} (Address already in use)" in errors[0], out
    assert out.strip() == errors[0].strip(), out                 # nothing else printed


@pytest.mark.parametrize("param, message", [
    ("password_file:=/nonexistent/pw", "password_file /nonexistent/pw: cannot read it"),
    ("token:=short", "token: at least 16 characters"),
    ("prot:=0", "unknown parameter prot (did you mean 'port'?)"),
    ("port:=70000", "parameter port = 70000 is outside [0, 65535]"),
    ("max_upload_mb:=0", "parameter max_upload_mb = 0 is outside [1, 4096]"),
])
def test_bad_parameters_exit_1_naming_them(param, message):
    result = _run(param)
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "Traceback" not in out
    errors = _errors(out)
    assert len(errors) == 1 and message in errors[0], out
