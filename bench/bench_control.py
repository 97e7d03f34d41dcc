"""Control node timing through real rclpy: command latency and watchdog stop delay (sim backend).

Runs ControlNode (backend sim, mode autonomous) and a probe node in one process, one executor
thread each (so the probe's receive timestamps are not delayed by the control node's callbacks).

- latency: publish a Twist on /cmd_vel_auto, time until /sim/cmd_vel carries it (N samples).
- watchdog: publish at 20 Hz for 0.5 s, stop, time from the last publish until /sim/cmd_vel
  says 0 m/s (timeout 0.25 s; the 50 Hz tick adds up to 20 ms).
- mapping: DriveMapper.from_twist calls per second (the core, no ROS).

Usage: python bench/bench_control.py [--samples 200] [--trials 10]
"""
from __future__ import annotations

import argparse
import os
import platform
import threading
import time

import numpy as np
import rclpy
from geometry_msgs.msg import Twist
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter

from deepracer_control.calibration import Calibration
from deepracer_control.drive import DriveMapper
from deepracer_control.nodes.control_node import ControlNode


def twist(x: float, z: float = 0.0) -> Twist:
    m = Twist()
    m.linear.x, m.angular.z = x, z
    return m


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--trials", type=int, default=10)
    args = parser.parse_args()
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")

    mapper = DriveMapper(Calibration.default())
    n = 20000
    t0 = time.perf_counter()
    for i in range(n):
        mapper.from_twist(1.0 + (i % 3) * 0.1, 0.5)
    mapping_rate = n / (time.perf_counter() - t0)

    rclpy.init()
    control = ControlNode(parameter_overrides=[Parameter("backend", value="sim"),
                                                Parameter("mode", value="autonomous")])
    probe = rclpy.create_node("bench_probe")
    received: list[tuple[float, float]] = []
    cond = threading.Condition()

    def on_sim(msg: Twist) -> None:
        with cond:
            received.append((time.perf_counter(), msg.linear.x))
            cond.notify_all()

    probe.create_subscription(Twist, "/sim/cmd_vel", on_sim, 100)
    pub = probe.create_publisher(Twist, "/cmd_vel_auto", 10)
    executors = []
    for node in (control, probe):
        ex = SingleThreadedExecutor()
        ex.add_node(node)
        threading.Thread(target=ex.spin, daemon=True).start()
        executors.append(ex)

    def wait_value(value: float, after: float, timeout: float = 2.0) -> float | None:
        deadline = time.perf_counter() + timeout
        with cond:
            while time.perf_counter() < deadline:
                for t, x in received:
                    if t > after and abs(x - value) < 1e-9:
                        return t
                cond.wait(0.01)
        return None

    # warm-up: discovery
    deadline = time.perf_counter() + 10
    while wait_value(0.5, 0.0, 0.05) is None and time.perf_counter() < deadline:
        pub.publish(twist(0.5))

    latencies = []
    for i in range(args.samples):
        value = 1.0 + 0.001 * (i + 1)
        t_pub = time.perf_counter()
        pub.publish(twist(value))
        t_rx = wait_value(value, t_pub)
        if t_rx is not None:
            latencies.append(t_rx - t_pub)
        time.sleep(0.01)

    delays = []
    for _ in range(args.trials):
        for _ in range(10):
            t_last = time.perf_counter()
            pub.publish(twist(1.0))
            time.sleep(0.05)
        t_zero = wait_value(0.0, t_last)
        if t_zero is not None:
            delays.append(t_zero - t_last)
        time.sleep(0.1)

    for ex in executors:
        ex.shutdown(timeout_sec=1.0)
    control.close()
    control.destroy_node()
    probe.destroy_node()
    rclpy.try_shutdown()

    lat_ms = np.array(latencies) * 1e3
    del_ms = np.array(delays) * 1e3
    print(f"machine: {platform.platform()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    print(f"DriveMapper.from_twist: {mapping_rate:,.0f} calls/s ({1e6 / mapping_rate:.1f} us/call)")
    print(f"command latency /cmd_vel_auto -> /sim/cmd_vel ({len(lat_ms)}/{args.samples} samples): "
          f"median {np.median(lat_ms):.2f} ms, p95 {np.percentile(lat_ms, 95):.2f} ms, max {lat_ms.max():.2f} ms")
    print(f"watchdog stop delay, timeout 250 ms ({len(del_ms)}/{args.trials} trials): "
          f"min {del_ms.min():.0f} ms, median {np.median(del_ms):.0f} ms, max {del_ms.max():.0f} ms")


if __name__ == "__main__":
    main()
