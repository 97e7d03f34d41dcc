"""Inference benchmarks (issue 7): single-image latency per engine, and camera-stamp -> command latency.

1. Single-image latency, median of N (default 1,000) calls, ONE thread, on the default network
   (DEEP_CONVOLUTIONAL_NETWORK_SHALLOW, untrained weights: speed does not depend on the values):
   torch eager, ONNX Runtime, OpenVINO f32 (exact), OpenVINO fast (bf16 if the CPU has it, else
   f16, else skipped). Input is an already preprocessed (1, 1, 120, 160) float32 frame; the
   preprocessing of a 640x480 rgb8 camera frame is timed separately.
2. Camera-stamp -> command latency between two processes: this process publishes 640x480 rgb8
   sensor_msgs/Image at 15 Hz (header stamp = wall clock at publish) and listens to /cmd_vel_auto
   and /inference/decision; the inference node runs as a subprocess (OpenVINO, --precision, 1 thread).
   Latency = arrival of the Twist - stamp of the image it answers; drops = images without a
   decision (matched by stamp). Uses src/deepracer_inference/config/fastdds_large_images.xml
   (large shared-memory segment) unless --default-dds.

Usage:
    python bench/bench_inference.py                 # both parts, 1,000 calls, 60 s
    python bench/bench_inference.py --seconds 10    # shorter latency run
    python bench/bench_inference.py --skip-ros      # engines only
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

FASTDDS_PROFILE = Path(__file__).resolve().parents[1] / "src" / "deepracer_inference" / "config" / "fastdds_large_images.xml"


def build_artifact(folder: Path) -> Path:
    """An untrained default-network PPO checkpoint exported with deepracer export."""
    import gymnasium as gym
    from stable_baselines3 import PPO

    from deepracer_agent import checkpoint
    from deepracer_agent.config import TrainConfig
    from deepracer_agent.export import export_checkpoint
    from deepracer_agent.networks import policy_kwargs_for
    from deepracer_inference.metadata import ModelMetadata

    class Camera(gym.Env):
        observation_space = gym.spaces.Box(0, 255, (120, 160, 1), np.uint8)
        action_space = gym.spaces.Discrete(10)

        def reset(self, seed=None, options=None):
            return self.observation_space.sample(), {}

        def step(self, action):
            return self.observation_space.sample(), 0.0, False, False, {}

    meta = ModelMetadata.default()
    meta.save(folder / "model_metadata.json")
    model = PPO("CnnPolicy", Camera(), policy_kwargs=policy_kwargs_for(meta), device="cpu", seed=0)
    checkpoint.save(model, folder / "bench.zip", TrainConfig.from_dict({"model_metadata": meta.to_dict()}))
    return export_checkpoint(folder / "bench.zip", folder / "bench_artifact", fp16=False).folder


def median_ms(fn, n: int, warmup: int = 20) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def bench_engines(artifact: Path, n: int) -> None:
    import torch

    from deepracer_agent.checkpoint import make_policy
    from deepracer_agent.export import exportable_policy
    from deepracer_inference.artifact import load_artifact
    from deepracer_inference.engine import OnnxRuntimeEngine, OpenVINOEngine, cpu_capabilities
    from deepracer_inference.preprocess import to_network_input

    torch.set_num_threads(1)
    caps = cpu_capabilities()
    x = np.random.default_rng(0).integers(0, 256, (1, 1, 120, 160)).astype(np.float32)
    module = exportable_policy(make_policy(artifact.parent / "bench.zip"), True)
    xt = torch.from_numpy(x)
    art = load_artifact(artifact)
    rows = []
    with torch.inference_mode():
        rows.append(("torch eager (f32)", median_ms(lambda: module(xt), n)))
    ort_engine = OnnxRuntimeEngine(art, num_threads=1)
    rows.append(("ONNX Runtime (f32)", median_ms(lambda: ort_engine.infer(x), n)))
    ov32 = OpenVINOEngine(art, "f32", num_threads=1)
    rows.append((f"OpenVINO f32 (exact, runs {ov32.actual_precision})", median_ms(lambda: ov32.infer(x), n)))
    fast = "bf16" if "BF16" in caps else "f16" if "FP16" in caps else None
    if fast:
        ovf = OpenVINOEngine(art, fast, num_threads=1)
        rows.append((f"OpenVINO {fast} (fast, runs {ovf.actual_precision})", median_ms(lambda: ovf.infer(x), n)))
    rgb = np.random.default_rng(1).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    rows.append(("preprocess 640x480 rgb8 -> 120x160", median_ms(lambda: to_network_input(rgb, "rgb8"), n)))
    torch_ms = rows[0][1]
    print(f"\n## single-image latency, median of {n}, 1 thread  (CPU capabilities: {', '.join(caps)})")
    print("| engine | median ms | vs torch |")
    print("|---|---|---|")
    for name, ms in rows:
        speedup = f"{torch_ms / ms:.2f}x" if not name.startswith("preprocess") else "-"
        print(f"| {name} | {ms:.3f} | {speedup} |")


def bench_ros_latency(artifact: Path, seconds: float, rate_hz: float = 15.0, width: int = 640,
                      height: int = 480, shm_profile: bool = True, precision: str = "f32") -> None:
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    os.environ["ROS_DOMAIN_ID"] = str(random.randint(100, 200))
    if shm_profile:
        os.environ.setdefault("FASTRTPS_DEFAULT_PROFILES_FILE", str(FASTDDS_PROFILE))
    import rclpy
    from geometry_msgs.msg import Twist
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Image
    from std_msgs.msg import String

    node_proc = subprocess.Popen(
        [sys.executable, "-m", "deepracer_inference.nodes.inference_node", "--ros-args",
         "-p", f"model_path:={artifact}", "-p", "num_threads:=1", "-p", "engine:=openvino", "-p", f"precision:={precision}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    rclpy.init()
    node = rclpy.create_node("bench_camera")
    sent: dict[float, float] = {}
    latencies: list[float] = []
    answered: set[float] = set()
    node_ms: list[float] = []
    lock = threading.Lock()
    last_stamp = [None]

    def on_cmd(msg: Twist) -> None:
        now = time.time()
        with lock:
            if last_stamp[0] is not None:
                latencies.append((now - last_stamp[0]) * 1e3)
                last_stamp[0] = None

    def on_decision(msg: String) -> None:
        with lock:
            decision = json.loads(msg.data)
            answered.add(round(decision["stamp"], 6))
            node_ms.append(decision["latency_ms"])

    node.create_subscription(Twist, "/cmd_vel_auto", on_cmd, 50)
    node.create_subscription(String, "/inference/decision", on_decision, 50)
    pub = node.create_publisher(Image, "/camera/image_raw", qos_profile_sensor_data)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    try:
        deadline = time.monotonic() + 60
        while pub.get_subscription_count() < 1 or node.count_publishers("/cmd_vel_auto") < 1:
            if node_proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"inference node did not come up: {node_proc.stderr.read() if node_proc.poll() is not None else 'timeout'}")
            time.sleep(0.1)
        time.sleep(1.0)  # model compiled, subscriptions matched
        rgb = np.random.default_rng(2).integers(0, 256, (height, width, 3), dtype=np.uint8)
        msg = Image(height=height, width=width, encoding="rgb8", step=width * 3, data=rgb.tobytes())
        period = 1.0 / rate_hz
        t_next = time.monotonic()
        n = int(seconds * rate_hz)
        for _ in range(n):
            t_next += period
            now = time.time()
            msg.header.stamp.sec, msg.header.stamp.nanosec = int(now), int((now % 1) * 1e9)
            stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
            with lock:
                last_stamp[0] = now
                sent[round(stamp, 6)] = now
            pub.publish(msg)
            time.sleep(max(0.0, t_next - time.monotonic()))
        time.sleep(0.5)
    finally:
        node_proc.terminate()
        try:
            node_proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            node_proc.kill()
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
    dropped = len(set(sent) - answered)
    lat = sorted(latencies)
    print(f"\n## camera-stamp -> /cmd_vel_auto latency, 2 processes, {rate_hz:g} Hz, {seconds:g} s, {width}x{height} rgb8, "
          f"OpenVINO {precision}, 1 thread, Fast DDS profile: {os.environ.get('FASTRTPS_DEFAULT_PROFILES_FILE', 'default')}")
    print(f"images sent {len(sent)}, commands {len(latencies)}, dropped (no decision) {dropped}")
    if lat:
        print(f"median {statistics.median(lat):.2f} ms, p95 {lat[int(0.95 * (len(lat) - 1))]:.2f} ms, "
              f"max {lat[-1]:.2f} ms; in the node, preprocess + inference median "
              f"{statistics.median(node_ms):.2f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=1000, help="calls per engine (median)")
    parser.add_argument("--seconds", type=float, default=60.0, help="duration of the ROS latency run")
    parser.add_argument("--size", default="640x480", help="camera image WIDTHxHEIGHT for the ROS run")
    parser.add_argument("--default-dds", action="store_true",
                        help="do not use src/deepracer_inference/config/fastdds_large_images.xml (shows the drops)")
    parser.add_argument("--precision", default="f32", choices=("f32", "bf16", "f16"),
                        help="inference node precision for the ROS run")
    parser.add_argument("--skip-ros", action="store_true")
    parser.add_argument("--skip-engines", action="store_true")
    args = parser.parse_args()
    print(f"# bench_inference on {platform.node()} ({os.cpu_count()} CPUs, {platform.processor() or platform.machine()}), "
          f"python {platform.python_version()}")
    with tempfile.TemporaryDirectory(prefix="bench_inference_") as tmp:
        artifact = build_artifact(Path(tmp))
        if not args.skip_engines:
            bench_engines(artifact, args.n)
        if not args.skip_ros:
            width, height = (int(v) for v in args.size.lower().split("x"))
            bench_ros_latency(artifact, args.seconds, width=width, height=height, shm_profile=not args.default_dds,
                              precision=args.precision)
    return 0


if __name__ == "__main__":
    sys.exit(main())
