"""Two tiny real rclpy nodes (talker, listener) used by the launch runner tests.

The tests install them as executables of a throw-away ament package in a temp prefix, so the runner
resolves them exactly as it resolves the project's nodes (AMENT_PREFIX_PATH/<prefix>/lib/<pkg>/<exec>).
Each writes its pid to $LAUNCH_TEST_PID_DIR so a test can check that nothing outlives the launch.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from deepracer_common.nodes.lifecycle import run_node
from rclpy.node import Node
from std_msgs.msg import String


def _record_pid(role: str) -> None:
    pid_dir = os.environ.get("LAUNCH_TEST_PID_DIR")
    if pid_dir:
        Path(pid_dir, f"{role}-{os.getpid()}").write_text(str(os.getpid()))


class Talker(Node):
    """Publishes '<greeting> <n>' on the relative topic 'chatter' every period_s seconds."""

    def __init__(self) -> None:
        super().__init__("talker")
        self.greeting = self.declare_parameter("greeting", "hello").value
        period_s = self.declare_parameter("period_s", 0.1).value
        self.publisher = self.create_publisher(String, "chatter", 10)
        self.count = 0
        self.create_timer(period_s, self._tick)
        print(f"talker {self.get_fully_qualified_name()} greeting={self.greeting!r} period_s={period_s}",
              flush=True)

    def _tick(self) -> None:
        self.count += 1
        self.publisher.publish(String(data=f"{self.greeting} {self.count}"))


class Listener(Node):
    """Prints the first messages it hears on 'chatter', with its own fully qualified name."""

    def __init__(self) -> None:
        super().__init__("listener")
        self.heard = 0
        self.create_subscription(String, "chatter", self._on_message, 10)
        topic = self.resolve_topic_name("chatter")
        print(f"listener {self.get_fully_qualified_name()} on {topic}", flush=True)

    def _on_message(self, msg: String) -> None:
        self.heard += 1
        if self.heard <= 5:
            print(f"heard: {msg.data}", flush=True)


def _run(role: str, factory: type[Node]) -> int:
    """Spin through the workspace's one node wrapper (run_node), then say so.

    Not a hand-written spin loop: rclpy's SIGINT handler wakes the executor (spin returns via
    ExternalShutdownException) and Python raises ``KeyboardInterrupt`` a few bytecodes LATER, which
    can land inside ``destroy_node()`` and kill the process before it reports; run_node ignores
    further signals once shutting down, exactly what every project node relies on.
    """
    _record_pid(role)
    status = run_node(factory, role, args=sys.argv)
    print(f"{role} stopped cleanly" if status == 0 else f"{role} stopped with status {status}", flush=True)
    return status


def talker_main() -> int:
    return _run("talker", Talker)


def listener_main() -> int:
    return _run("listener", Listener)


if __name__ == "__main__":
    sys.exit(talker_main() if sys.argv[1:2] == ["talker"] else listener_main())
