"""The Gym-bridge node: the sim topics as a gymnasium env (`deepracer_agent.bridge.BridgeEnv`), and PPO on it.

All names are relative (they resolve in the node's namespace: the sim node's names there).
Topics in:  camera/image_raw (sensor_msgs/Image, sensor-data QoS, any encoding the preprocessing
            takes), sim/lap_status (std_msgs/String JSON from the sim node, paired with the image by
            its ``stamp_ns``).
Topic out:  sim/cmd_vel (geometry_msgs/Twist, from (speed, steering) through ``twist_from_drive``).
Client:     sim/reset (std_srvs/Trigger; the answer's JSON ``stamp_ns`` names the start frame).

`GymBridgeNode` is the `BridgeLink` of the env core: it owns the publisher, the reset client and a
`FrameSync` fed by its subscription callbacks. Its callbacks run on a background executor thread
(`start_spinning`) so that the env, called by the trainer on the main thread, can block waiting for
the next frame.

`main()` (``ros2 run deepracer_agent gym_bridge_node``, used by launch/sim_training.launch.xml)
trains PPO through the bridge with the model and hyperparameters of ``deepracer train``
(`deepracer_agent.train.build_model`, `deepracer_agent.config.TrainConfig`; ``n_envs`` is 1) and writes
``output_dir/model_metadata.json`` and ``output_dir/checkpoints/iter_000001.zip`` (+ sidecar), which
``deepracer export`` turns into a model artifact.

Parameters: track, reward_file ("" = the config's reward), output_dir, total_timesteps, seed,
frame_timeout_s (see launch/README.md), plus startup_timeout_s (wait for the sim node's sim/reset,
default 60 s), config_file (a ``deepracer train`` YAML, "" = defaults)
and config_overrides (space-separated ``key=value`` items, e.g. ``ppo.n_steps=64``), rollout_steps
(PPO's n_steps: frames per policy update; 0 = the config's).

Ctrl-C (SIGINT) or SIGTERM during training: training stops, a checkpoint of what was learnt so
far is written (``"interrupted": true`` in its sidecar, the no-pickle ``deepracer_agent.checkpoint``
format) and the node exits 0.
"""
from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

import rclpy
from geometry_msgs.msg import Twist
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image
from std_msgs.msg import String
from std_srvs.srv import Trigger

from deepracer_common.interrupts import ignore_further_signals, interrupt_on_signals
from deepracer_common.nodes.params import ParameterError, Spec, declare

from ..bridge import BridgeTimeout, FrameSync

SPECS = [
    Spec("track", "reinvent2018_like", "track the sim drives (built-in name or .npy), for the reward"),
    Spec("reward_file", "", "reward function file or example name; empty = the config's"),
    Spec("output_dir", "runs/ros_training", "run folder: checkpoints and model_metadata.json"),
    Spec("total_timesteps", 100_000, "PPO timesteps (camera frames)", range=(1, 2**31 - 1)),
    Spec("seed", 0, "trainer seed", range=(0, 2**31 - 1)),
    Spec("frame_timeout_s", 2.0, "a step with no new camera frame within this fails", range=(0.01, 3600.0), unit="s"),
    Spec("startup_timeout_s", 60.0, "how long to wait for the sim node's /sim/reset at start",
         range=(0.01, 3600.0), unit="s"),
    Spec("config_file", "", "deepracer train YAML config; empty = defaults"),
    Spec("config_overrides", "", "space-separated key=value config overrides"),
    Spec("rollout_steps", 0, "PPO rollout size (camera frames per policy update, ppo.n_steps); 0 = the config's",
         range=(0, 10_000_000)),
]


class BridgeStartupError(RuntimeError):
    """The node cannot start or train; the message names the parameter, file or service."""


class GymBridgeNode(Node):
    """The ROS side of the Gym bridge (a `BridgeLink`): command out, frames and statuses in, reset client."""

    def __init__(self, **node_kwargs: Any) -> None:
        super().__init__("gym_bridge_node", **node_kwargs)
        from deepracer_description.vehicle import load_vehicle

        self.params = self._declare()
        self.vehicle = load_vehicle()
        self.frames = FrameSync()
        self.bad_messages = 0
        self.cmd_pub = self.create_publisher(Twist, "sim/cmd_vel", 10)
        self.reset_client = self.create_client(Trigger, "sim/reset")
        self.create_subscription(Image, "camera/image_raw", self._on_image, qos_profile_sensor_data)
        self.create_subscription(String, "sim/lap_status", self._on_status, 50)
        self._executor: SingleThreadedExecutor | None = None
        self._thread: threading.Thread | None = None

    def _declare(self) -> dict[str, Any]:
        try:
            return declare(self, SPECS)
        except ParameterError as exc:
            raise BridgeStartupError(str(exc)) from None

    # -- threading -----------------------------------------------------------------------------
    def start_spinning(self) -> None:
        """Run this node's callbacks on a daemon thread (the env blocks the calling thread)."""
        if self._thread is not None:
            return
        self._executor = SingleThreadedExecutor(context=self.context)
        self._executor.add_node(self)
        self._thread = threading.Thread(target=self._spin, name="gym_bridge_spin", daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        try:
            self._executor.spin()
        except (ExternalShutdownException, Exception):  # context shut down under us: just stop
            pass

    def close(self) -> None:
        """Stop the spin thread (the node itself is destroyed by the caller)."""
        if self._executor is not None:
            self._executor.shutdown(timeout_sec=1.0)
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        self._executor = self._thread = None

    # -- callbacks (spin thread) ---------------------------------------------------------------
    def _on_image(self, msg: Image) -> None:
        from deepracer_inference.preprocess import PreprocessError, image_from_buffer, to_network_input

        try:
            image = image_from_buffer(msg.data, msg.height, msg.width, msg.encoding, msg.step, bool(msg.is_bigendian))
            obs = to_network_input(image, msg.encoding)
        except PreprocessError as exc:
            self.bad_messages += 1
            self.get_logger().warn(f"camera/image_raw: {exc}", throttle_duration_sec=2.0)
            return
        self.frames.add_image(msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec, obs)

    def _on_status(self, msg: String) -> None:
        try:
            status = json.loads(msg.data)
            stamp_ns = int(status["stamp_ns"])
        except (ValueError, KeyError, TypeError) as exc:
            self.bad_messages += 1
            self.get_logger().warn(f"sim/lap_status: not the sim node's JSON ({exc})", throttle_duration_sec=2.0)
            return
        self.frames.add_status(stamp_ns, status)

    # -- BridgeLink ----------------------------------------------------------------------------
    def send_drive(self, speed_m_s: float, steering_rad: float) -> None:
        """Publish (speed m/s, steering rad) as a cmd_vel Twist on /sim/cmd_vel."""
        linear_x, angular_z = self.vehicle.twist_from_drive(speed_m_s, steering_rad)
        msg = Twist()
        msg.linear.x, msg.angular.z = float(linear_x), float(angular_z)
        self.cmd_pub.publish(msg)

    def request_reset(self, timeout_s: float) -> int:
        """Call /sim/reset (waits up to `timeout_s` for the service); returns the start frame's stamp (ns)."""
        if not self.reset_client.wait_for_service(timeout_sec=timeout_s):
            raise BridgeTimeout(f"service /sim/reset not available within {timeout_s} s: is the sim node running?")
        done = threading.Event()
        future = self.reset_client.call_async(Trigger.Request())
        future.add_done_callback(lambda _f: done.set())
        if not done.wait(timeout_s):
            raise BridgeTimeout(f"sim/reset did not answer within {timeout_s} s")
        response = future.result()
        try:
            stamp_ns = int(json.loads(response.message)["stamp_ns"])
        except (ValueError, KeyError, TypeError):
            raise BridgeTimeout(f"sim/reset answered {response.message!r}, not the sim node's JSON with stamp_ns") from None
        if not response.success:
            raise BridgeTimeout(f"sim/reset failed: {response.message}")
        return stamp_ns


def make_env(node: GymBridgeNode, cfg: Any) -> Any:
    """`BridgeEnv` over `node` for a `TrainConfig` (track, reward, action space, frame stack)."""
    from ..bridge import BridgeEnv
    from ..config import check_inputs

    track, reward = check_inputs(cfg)
    return BridgeEnv(node, track=track, metadata=cfg.metadata(), reward=reward,
                     frame_stack=cfg.hyperparameters.stack_size, frame_timeout_s=node.params["frame_timeout_s"],
                     vehicle=node.vehicle)


def train_config(params: dict[str, Any]) -> Any:
    """The `TrainConfig` the node trains with: config_file + overrides + the node's parameters."""
    from ..config import load_config

    overrides = params["config_overrides"].split() + ["n_envs=1", f"seed={params['seed']}",
                                                      f"track={params['track']}"]
    if params["rollout_steps"]:
        overrides.append(f"ppo.n_steps={params['rollout_steps']}")
    if params["reward_file"]:
        overrides.append(f"reward_file={params['reward_file']}")
    return load_config(params["config_file"] or None, overrides)


def train(node: GymBridgeNode) -> Path:
    """PPO through the bridge for ``total_timesteps``; returns the checkpoint path."""
    from ..train import METADATA_FILE, build_model, save_checkpoint

    p = node.params
    cfg = train_config(p)
    if not node.reset_client.wait_for_service(timeout_sec=p["startup_timeout_s"]):   # before loading torch
        raise BridgeTimeout(f"service {node.resolve_service_name(node.reset_client.srv_name)} not available within {p['startup_timeout_s']} s: "
                            f"is the sim node running?")
    out = Path(p["output_dir"]).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    cfg.metadata().save(out / METADATA_FILE)   # atomic (deepracer_common.fileio)
    env = make_env(node, cfg)
    if cfg.torch_threads:                     # as deepracer train: the config's torch CPU threads
        import torch

        torch.set_num_threads(cfg.torch_threads)
    from ..aws_logs import TrainingLogs, write_model_files

    write_model_files(out, cfg.metadata().to_dict(), cfg.to_dict()["hyperparameters"])
    logs = TrainingLogs(out)                  # output_dir/training-simtrace/0-iteration.csv + metrics/
    logs.attach([env])
    model = build_model(cfg, env, None)
    if hasattr(model, "rollout_buffer"):
        how = f"PPO, rollout {model.n_steps} frames per update"
    else:                                     # training_algorithm sac: the Box action space, SB3's SAC
        how = f"SAC, replay buffer {model.buffer_size}, {model.gradient_steps} gradient step(s) per frame"
    node.get_logger().info(f"training: {how}, {p['total_timesteps']} timesteps -> {out}")
    start = time.perf_counter()
    interrupted = False
    try:
        model.learn(total_timesteps=p["total_timesteps"], progress_bar=False)
    except KeyboardInterrupt:     # SIGINT / SIGTERM (see main): keep what was learnt so far
        interrupted = True
        ignore_further_signals()
        node.get_logger().warn(f"interrupted after {model.num_timesteps} steps: writing a checkpoint")
    logs.end_iteration(1)
    counters = node.frames.counters.as_info()
    path = save_checkpoint(model, out, {"iteration": 1, "steps": int(model.num_timesteps),
                                        "wall_time_s": round(time.perf_counter() - start, 3),
                                        "interrupted": interrupted, **counters}, cfg)
    node.get_logger().info(f"trained {model.num_timesteps} steps in {time.perf_counter() - start:.1f} s -> {path}; "
                           f"frames: {counters}")
    return path


def main(argv: list[str] | None = None) -> int:
    """Entry point: train through the bridge, exit 0 when done, 1 on a clear error."""
    from rclpy.signals import SignalHandlerOptions

    rclpy.init(args=argv if argv is not None else sys.argv, signal_handler_options=SignalHandlerOptions.NO)
    interrupt_on_signals()   # SIGINT/SIGTERM -> KeyboardInterrupt in the training thread; the ROS context stays valid
    node = None
    log = rclpy.logging.get_logger("gym_bridge_node")
    try:
        node = GymBridgeNode()
        node.start_spinning()
        train(node)
        return 0
    except (BridgeStartupError, BridgeTimeout) as exc:
        log.error(str(exc))
        return 1
    except (KeyboardInterrupt, ExternalShutdownException):
        return 0
    except Exception as exc:  # config / reward / track errors carry their own clear messages
        from ..config import ConfigError
        from ..reward import RewardFunctionError

        if isinstance(exc, (ConfigError, RewardFunctionError, ValueError)):
            log.error(f"{type(exc).__name__}: {exc}")
            return 1
        raise
    finally:
        ignore_further_signals()
        if node is not None:
            node.close()
            node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    sys.exit(main())
