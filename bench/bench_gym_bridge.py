"""Benchmark: the Gym bridge against a real sim node process (ROS topics), and the sim node's frame cost.

    python bench/bench_gym_bridge.py [--steps 600]

Prints: (1) lockstep (``step_on_command``) bridge steps per second, i.e. env.step() round trips
through /sim/cmd_vel -> sim node (step, render, publish odom + lap status + image) -> bridge
(preprocess, pair, reward) with random actions; (2) the sim node's own cost per published frame
(SimSession step + render + message building), without ROS transport; (3) the same embedded env
(DeepRacerEnv, no ROS) for comparison. Run with a sourced workspace (install/setup.bash).
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time

import numpy as np


def bench_bridge(steps: int) -> float:
    import rclpy

    from deepracer_agent.bridge import BridgeEnv
    from deepracer_agent.nodes.gym_bridge_node import GymBridgeNode

    sim = subprocess.Popen([sys.executable, "-m", "deepracer_sim.nodes.sim_node", "--ros-args", "-p", "track:=oval",
                            "-p", "step_on_command:=true"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rclpy.init()
    node = GymBridgeNode()
    node.start_spinning()
    try:
        env = BridgeEnv(node, track="oval", frame_timeout_s=30.0)
        env.reset()
        rng = np.random.default_rng(0)
        start = time.perf_counter()
        for _ in range(steps):
            _, _, term, trunc, info = env.step(int(rng.integers(0, env.action_space.n)))
            if term or trunc:
                env.reset()
        rate = steps / (time.perf_counter() - start)
        print(f"bridge lockstep: {rate:.0f} steps/s ({1000 / rate:.2f} ms/step), counters "
              f"{ {k: v for k, v in info.items() if k.startswith('frames_')} }")
        return rate
    finally:
        node.close()
        node.destroy_node()
        rclpy.try_shutdown()
        sim.send_signal(signal.SIGINT)
        sim.wait(timeout=10)


def bench_sim_frame(frames: int) -> None:
    import rclpy
    from rclpy.parameter import Parameter

    from deepracer_sim.nodes.sim_node import SimNode

    rclpy.init()
    node = SimNode(parameter_overrides=[Parameter("track", value="oval"), Parameter("step_on_command", value=True)])
    try:
        node.session.set_command(1.0, 0.05)
        start = time.perf_counter()
        for _ in range(frames):
            node._publish(node.session.step())
        per = (time.perf_counter() - start) / frames
        print(f"sim node frame (step + render + odom/status/image/path messages): {per * 1000:.2f} ms "
              f"-> max {1 / per:.0f} frames/s ({1 / per / 15:.0f}x real time)")
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


def bench_embedded(steps: int) -> None:
    from deepracer_agent.env import DeepRacerEnv

    env = DeepRacerEnv(track="oval", seed=0)
    env.reset()
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for _ in range(steps):
        _, _, term, trunc, _ = env.step(int(rng.integers(0, env.action_space.n)))
        if term or trunc:
            env.reset()
    rate = steps / (time.perf_counter() - start)
    print(f"embedded DeepRacerEnv (no ROS): {rate:.0f} steps/s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600)
    args = parser.parse_args()
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    bench_bridge(args.steps)
    bench_sim_frame(args.steps)
    bench_embedded(args.steps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
