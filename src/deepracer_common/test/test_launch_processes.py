"""The launch runner with real processes: real rclpy nodes talk, and everything stops on time.

The nodes are the tiny talker/listener of launch_test_nodes.py, installed as executables of a
throw-away ament package (a real ament index in tmp_path), so `<node pkg exec>` is resolved,
given `--ros-args` and run exactly like the project's nodes.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytest.importorskip("rclpy")

from launch_helpers import LaunchedGraph  # noqa: E402

TEST_DIR = Path(__file__).resolve().parent
PKG = "launch_test_pkg"


def make_ament_prefix(root: Path) -> Path:
    """A minimal ament prefix holding PKG with executables 'talker' and 'listener'."""
    prefix = root / "prefix"
    (prefix / "share" / "ament_index" / "resource_index" / "packages").mkdir(parents=True)
    (prefix / "share" / "ament_index" / "resource_index" / "packages" / PKG).write_text("")
    (prefix / "share" / PKG).mkdir(parents=True)
    lib = prefix / "lib" / PKG
    lib.mkdir(parents=True)
    for exe in ("talker", "listener"):
        script = lib / exe
        script.write_text(f"#!{sys.executable}\nimport sys\nsys.path.insert(0, {str(TEST_DIR)!r})\n"
                          f"from launch_test_nodes import {exe}_main\nsys.exit({exe}_main())\n")
        script.chmod(0o755)
    return prefix


class Runner(LaunchedGraph):
    """`python -m deepracer_common.launch_runner ...` as a subprocess, with a private ament prefix that
    holds the test package, and the pids of the nodes it starts recorded in ``pid_dir``."""

    def __init__(self, tmp_path: Path, launch_file: Path, *options: str) -> None:
        self.pid_dir = tmp_path / "pids"
        self.pid_dir.mkdir(exist_ok=True)
        env = dict(os.environ)
        env["AMENT_PREFIX_PATH"] = os.pathsep.join(
            p for p in (str(make_ament_prefix(tmp_path)), env.get("AMENT_PREFIX_PATH", "")) if p)
        env["LAUNCH_TEST_PID_DIR"] = str(self.pid_dir)
        super().__init__(launch_file, runner_options=options, env=env)

    def wait_for(self, text: str, timeout_s: float = 20.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if any(text in line for line in self.lines):
                return
            if self.proc.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.05)
        self.kill()
        raise AssertionError(f"'{text}' not seen in the runner output:\n{self.output}")

    def wait(self, timeout_s: float) -> int:
        try:
            code = self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"runner still running after {timeout_s} s:\n{self.output}") from None
        self._reader.join(timeout=5)
        return code

    def child_pids(self) -> list[int]:
        return [int(p.read_text()) for p in self.pid_dir.iterdir()]

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for pid in self.child_pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def assert_stopped_cleanly(runner: "Runner", name: str) -> None:
    """The node's process returned run_node's status 0 (its exit code, as the runner reports it).

    The exit code is the contract (0, not -SIGINT / 130 / 1), so the test asserts it rather than the
    node's last printed line: in CI that line was once missing with the exit code still 0."""
    pattern = rf"\[launch\] process '{re.escape(name)}' \[pid \d+\] exited with code 0$"
    assert any(re.search(pattern, line) for line in runner.lines), runner.output


def assert_all_gone(pids: list[int]) -> None:
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def write_launch(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "graph.launch.xml"
    path.write_text(f"<launch>\n{textwrap.dedent(body).strip()}\n</launch>\n")
    return path


def test_talker_listener_graph_runs_and_stops_on_sigint(tmp_path):
    params = tmp_path / "talker.yaml"
    params.write_text("/**:\n  ros__parameters:\n    greeting: from_file\n    period_s: 0.05\n")
    launch_file = write_launch(tmp_path, f"""
        <arg name="greeting" default="hi there"/>
        <group>
          <push_ros_namespace namespace="demo"/>
          <node pkg="{PKG}" exec="talker" name="my_talker" output="screen">
            <param from="{params}"/>
            <param name="greeting" value="$(var greeting)"/>
            <remap from="chatter" to="chat"/>
          </node>
          <node pkg="{PKG}" exec="listener" name="my_listener">
            <remap from="chatter" to="chat"/>
          </node>
        </group>
    """)
    runner = Runner(tmp_path, launch_file)
    try:
        # the talker got its name, namespace and parameters (file first, then the -p override)
        runner.wait_for("[my_talker] talker /demo/my_talker greeting='hi there' period_s=0.05")
        runner.wait_for("[my_listener] listener /demo/my_listener on /demo/chat")
        runner.wait_for("[my_listener] heard: hi there")   # real messages through rclpy
        pids = runner.child_pids()
        assert len(pids) == 2
        t0 = time.monotonic()
        runner.proc.send_signal(signal.SIGINT)
        code = runner.wait(timeout_s=10)
        elapsed = time.monotonic() - t0
    finally:
        runner.kill()
    assert code == 0, runner.output
    assert "still running: sending SIGTERM" not in runner.output   # SIGINT alone stopped both nodes
    assert elapsed < 10.0, f"shutdown took {elapsed:.1f} s"
    assert_stopped_cleanly(runner, "my_talker")
    assert_stopped_cleanly(runner, "my_listener")
    assert_all_gone(pids)


def test_a_failing_node_leaves_the_rest_running_like_ros2_launch(tmp_path):
    launch_file = write_launch(tmp_path, f"""
        <node pkg="{PKG}" exec="talker" name="talker"/>
        <executable cmd="{sys.executable} -c 'import time, sys; time.sleep(1.5); print(&quot;bye&quot;); sys.exit(3)'"
                    name="crasher"/>
        <executable cmd="{sys.executable} -c 'import time; time.sleep(5.0)'" name="timer" on_exit="shutdown"/>
    """)
    runner = Runner(tmp_path, launch_file, "--startup-grace", "0.5")
    try:
        code = runner.wait(timeout_s=20)
    finally:
        runner.kill()
    assert code == 1, runner.output                     # the failure is in the exit status...
    assert "process 'crasher'" in runner.output and "exited with code 3" in runner.output
    assert "'crasher' failed" not in runner.output      # ...but it did not shut the graph down
    assert "shutting down ('timer' has on_exit=\"shutdown\")" in runner.output
    assert_stopped_cleanly(runner, "talker")
    assert_all_gone(runner.child_pids())


def test_a_node_failing_at_start_up_stops_the_launch(tmp_path):
    launch_file = write_launch(tmp_path, f"""
        <node pkg="{PKG}" exec="talker" name="talker"/>
        <executable cmd="{sys.executable} -c 'import time, sys; time.sleep(2.0); print(&quot;bad model&quot;); sys.exit(1)'"
                    name="refuser"/>
    """)
    runner = Runner(tmp_path, launch_file)
    try:
        code = runner.wait(timeout_s=20)
    finally:
        runner.kill()
    assert code == 1, runner.output
    assert "shutting down ('refuser' failed at start-up)" in runner.output
    assert_stopped_cleanly(runner, "talker")
    assert_all_gone(runner.child_pids())


def test_stop_on_failure_stops_the_rest_and_the_runner_fails(tmp_path):
    launch_file = write_launch(tmp_path, f"""
        <node pkg="{PKG}" exec="talker" name="talker"/>
        <executable cmd="{sys.executable} -c 'import time, sys; time.sleep(2.0); print(&quot;bye&quot;); sys.exit(3)'"
                    name="crasher"/>
    """)
    runner = Runner(tmp_path, launch_file, "--stop-on-failure")
    try:
        code = runner.wait(timeout_s=20)
    finally:
        runner.kill()
    assert code == 1, runner.output
    assert "[crasher] bye" in runner.output
    assert "process 'crasher'" in runner.output and "exited with code 3" in runner.output
    assert "shutting down ('crasher' failed)" in runner.output
    assert_stopped_cleanly(runner, "talker")
    assert_all_gone(runner.child_pids())


def test_required_process_exit_shuts_down_everything_and_clean_exit_is_success(tmp_path):
    launch_file = write_launch(tmp_path, f"""
        <node pkg="{PKG}" exec="listener" name="listener"/>
        <node pkg="deepracer_common" exec="deepracer" name="cli_help" args="--help"/>
        <executable cmd="{sys.executable} -c 'import time; time.sleep(2.0)'" name="timer" on_exit="shutdown"/>
    """)
    runner = Runner(tmp_path, launch_file)
    try:
        code = runner.wait(timeout_s=20)
    finally:
        runner.kill()
    assert code == 0, runner.output
    # a non-required process that ends cleanly leaves the others running (ros2 launch semantics)
    assert "[cli_help] usage: deepracer <command>" in runner.output
    assert "exited with code 0" in runner.output
    assert "shutting down ('timer' has on_exit=\"shutdown\")" in runner.output
    assert_stopped_cleanly(runner, "listener")
    assert_all_gone(runner.child_pids())


def test_processes_ignoring_sigint_are_escalated(tmp_path):
    ignore_int = "import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); print('up', flush=True); time.sleep(60)"
    ignore_all = ("import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); "
                  "signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); time.sleep(60)")
    launch_file = write_launch(tmp_path, f"""
        <executable cmd="{sys.executable} -c &quot;{ignore_int}&quot;" name="deaf_to_int"/>
        <executable cmd="{sys.executable} -c &quot;{ignore_all}&quot;" name="stubborn"/>
    """)
    runner = Runner(tmp_path, launch_file, "--sigterm-timeout", "0.5", "--sigkill-timeout", "0.5")
    try:
        runner.wait_for("[deaf_to_int] up")
        runner.wait_for("[stubborn] up")
        t0 = time.monotonic()
        runner.proc.send_signal(signal.SIGTERM)
        code = runner.wait(timeout_s=10)
        elapsed = time.monotonic() - t0
    finally:
        runner.kill()
    assert code == 1, runner.output
    assert elapsed < 8.0   # 0.5 s to SIGTERM + 0.5 s to SIGKILL, not the 5 s / 5 s defaults
    assert "sending SIGTERM" in runner.output and "sending SIGKILL" in runner.output
    assert "stubborn: killed" in runner.output
    assert "deaf_to_int: killed" not in runner.output   # SIGTERM was enough for it
