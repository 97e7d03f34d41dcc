"""The inference node: camera frames -> policy (OpenVINO / ONNX Runtime) -> drive command.

Topics in:  /camera/image_raw (sensor_msgs/Image, sensor-data QoS; mono8, mono16, rgb8, bgr8,
            rgba8, bgra8, any size).
Topics out: /cmd_vel_auto (geometry_msgs/Twist, cmd_vel semantics: linear.x = speed m/s,
            angular.z = speed * tan(steering) / wheelbase rad/s, via
            ``VehicleGeometry.twist_from_drive``), one per accepted image;
            /inference/decision (std_msgs/String JSON: action_index, probabilities, steering_deg,
            speed_m_s (after speed_scale), latency_ms, stamp (the image's header stamp, seconds),
            model), one per inferred image.
Services:   /inference/start_stop (std_srvs/SetBool: true starts, false stops; starting needs a model),
            /inference/list_models (std_srvs/Trigger: ``message`` is a JSON list of the artifacts in
            ``models_dir``, each {name, path, kind, loaded}).
Parameters: model_path (artifact folder or .tar.gz, or an AWS/DRfC model: model.pb or agent/model.pb
            + model_metadata.json, folder or .tar.gz; relative paths are looked up in models_dir;
            '' = none), engine (openvino | onnxruntime), precision (f32 | bf16 | f16),
            num_threads (0 = runtime default), speed_scale (0..1, multiplies the model's speed),
            models_dir, autostart (start inference as soon as a model is loaded at start-up or
            into an empty node).

Switching models at runtime: set ``model_path`` (or ``engine`` / ``precision`` / ``num_threads``).
The new model is loaded and verified inside the parameter callback; on failure the change is
rejected with the reason (``ros2 param set`` prints it) and the old model keeps driving.

Start-up: a ``model_path`` that cannot be loaded is an error (one line, exit 1, so the launch fails);
an empty ``model_path`` starts the node without a model, waiting for one (console, ``ros2 param set``).

Safety: while no model is loaded or inference is stopped, every image still gets a Twist, with zero
speed. A bad image (unsupported encoding, zero size, data length mismatch) is dropped with a
throttled warning; no message can crash the node.
"""
from __future__ import annotations

import json
import math
import sys
import threading
from pathlib import Path

from geometry_msgs.msg import Twist
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image
from std_msgs.msg import String
from std_srvs.srv import SetBool, Trigger

from deepracer_common.nodes.lifecycle import run_node
from deepracer_common.nodes.params import NodeParameters, ParameterError, Spec
from deepracer_description.vehicle import load_vehicle

from ..artifact import ArtifactError, list_artifacts
from ..engine import DEFAULT_ENGINE, DEFAULT_PRECISION, ENGINES, PRECISIONS, EngineError, Policy
from ..metadata import MetadataError
from ..preprocess import PreprocessError, image_from_buffer

WARN_THROTTLE_S = 5.0
_RELOAD_KEYS = ("model_path", "engine", "precision", "num_threads")


SPECS = [
    Spec("model_path", "", "model artifact or AWS/DRfC model (model.pb + model_metadata.json), folder or .tar.gz "
         "('' = none); relative paths are looked up in models_dir", read_only=False),
    Spec("engine", DEFAULT_ENGINE, "inference engine", read_only=False, choices=ENGINES),
    Spec("precision", DEFAULT_PRECISION, "f32 = exact; bf16/f16 = faster where the CPU supports them (openvino only)",
         read_only=False, choices=PRECISIONS),
    Spec("num_threads", 0, "inference threads, 0 = runtime default", read_only=False, range=(0, 64)),
    Spec("speed_scale", 1.0, "multiplies the model's speed", read_only=False, range=(0.0, 1.0)),
    Spec("models_dir", "", "folder listed by /inference/list_models", read_only=False),
    Spec("autostart", True, "start inference as soon as a model is loaded (at start-up, or into a node without a model)",
         read_only=False),
]


class InferenceStartupError(RuntimeError):
    """The node cannot start; the message names the parameter."""


class InferenceNode(Node):
    """Runs the loaded policy on every camera image and publishes the drive command."""

    def __init__(self, **node_kwargs) -> None:
        super().__init__("inference_node", **node_kwargs)
        self.vehicle = load_vehicle()
        self._lock = threading.RLock()
        self._policy: Policy | None = None
        self._model_file: str = ""
        self._running = False
        self.dropped_images = 0

        self._pending: tuple[dict, Policy | None] | None = None   # loaded by validate, installed by apply
        try:
            self.params = NodeParameters(self, SPECS, validate=self._validate_parameters,
                                         apply=self._apply_parameters)
        except ParameterError as exc:
            self.destroy_node()
            raise InferenceStartupError(str(exc)) from None

        self.cmd_pub = self.create_publisher(Twist, "cmd_vel_auto", 10)
        self.decision_pub = self.create_publisher(String, "inference/decision", 10)
        self.create_subscription(Image, "camera/image_raw", self._on_image, qos_profile_sensor_data)
        self.create_service(SetBool, "inference/start_stop", self._on_start_stop)
        self.create_service(Trigger, "inference/list_models", self._on_list_models)

        settings = {key: self.params[key] for key in _RELOAD_KEYS}
        if settings["model_path"]:
            try:
                self._install(self._load(settings), settings)
            except (ArtifactError, EngineError, MetadataError) as exc:
                # a launch given a model it cannot drive fails (the runner and ros2 launch see exit 1)
                # instead of idling with zero speed; start with model_path:='' to load one later
                self.destroy_node()
                raise InferenceStartupError(f"model_path {settings['model_path']!r} cannot be loaded, nothing to "
                                            f"drive: {exc} (start with model_path:='' to choose one later through "
                                            f"the console or 'ros2 param set')") from None
        self.get_logger().info(f"inference node ready: model {self._model_file or '(none)'}, "
                               f"{'running' if self._running else 'stopped'}")

    # -- model handling ----------------------------------------------------------------------------
    def _resolve(self, model_path: str) -> Path:
        path = Path(model_path).expanduser()
        models_dir = str(self.params["models_dir"])
        if not path.is_absolute() and models_dir and (Path(models_dir).expanduser() / path).exists():
            return Path(models_dir).expanduser() / path
        return path

    def _load(self, settings: dict) -> Policy:
        """Load and compile ``settings['model_path']``; raises ArtifactError/EngineError/MetadataError."""
        return Policy.from_path(self._resolve(str(settings["model_path"])), engine=str(settings["engine"]),
                                precision=str(settings["precision"]), num_threads=int(settings["num_threads"]))

    def _install(self, policy: Policy | None, settings: dict) -> None:
        with self._lock:
            had_model = self._policy is not None
            self._policy = policy
            self._model_file = str(settings["model_path"]) if policy is not None else ""
            if policy is None:
                self._running = False
            elif not had_model:
                self._running = bool(self.params["autostart"])
        if policy is not None:
            engine = policy.engine
            self.get_logger().info(f"loaded model {policy.artifact.source} on {engine.name} "
                                   f"({engine.actual_precision}); {'running' if self._running else 'stopped'}")

    def _validate_parameters(self, changes: dict, values: dict) -> str | None:
        """On-set: a new model (or engine/precision/threads) is loaded and verified here; a failure
        rejects the change with the reason and the old model keeps driving."""
        self._pending = None
        if not any(key in changes for key in _RELOAD_KEYS):
            return None
        settings = {key: values[key] for key in _RELOAD_KEYS}
        if not settings["model_path"]:
            self._pending = (settings, None)
            return None
        try:
            self._pending = (settings, self._load(settings))
        except (ArtifactError, EngineError, MetadataError) as exc:
            self.get_logger().error(f"model not switched, keeping {self._model_file or '(none)'}: {exc}")
            return str(exc)
        return None

    def _apply_parameters(self, changes: dict) -> None:
        """Post-set: install what validation loaded."""
        if self._pending is None:
            return
        settings, policy = self._pending
        self._pending = None
        self._install(policy, settings)
        if policy is None:
            self.get_logger().info("model unloaded; inference stopped")

    # -- services ----------------------------------------------------------------------------------
    def _on_start_stop(self, request: SetBool.Request, response: SetBool.Response) -> SetBool.Response:
        with self._lock:
            if request.data and self._policy is None:
                response.success, response.message = False, "no model loaded; set the model_path parameter first"
                return response
            self._running = bool(request.data)
            if self._policy is not None:
                self._policy.reset()
        response.success = True
        response.message = f"inference {'started' if request.data else 'stopped'} (model {self._model_file})"
        self.get_logger().info(response.message)
        return response

    def _on_list_models(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        models_dir = str(self.params["models_dir"])
        if not models_dir:
            response.success, response.message = False, "parameter models_dir is not set"
            return response
        loaded = str(self._resolve(self._model_file)) if self._model_file else None
        models = list_artifacts(models_dir)
        for entry in models:
            entry["loaded"] = loaded is not None and Path(entry["path"]).resolve() == Path(loaded).resolve()
        response.success, response.message = True, json.dumps(models)
        return response

    # -- images ------------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._running

    def _on_image(self, msg: Image) -> None:
        try:
            image = image_from_buffer(msg.data, msg.height, msg.width, msg.encoding, msg.step, bool(msg.is_bigendian))
        except PreprocessError as exc:
            self.dropped_images += 1
            self.get_logger().warning(f"dropped camera image: {exc}", throttle_duration_sec=WARN_THROTTLE_S)
            return
        with self._lock:
            policy = self._policy if self._running else None
            model = self._model_file
            if policy is None:
                self.cmd_pub.publish(Twist())
                return
            try:
                decision = policy.decide(image, msg.encoding)
            except PreprocessError as exc:
                self.dropped_images += 1
                self.get_logger().warning(f"dropped camera image: {exc}", throttle_duration_sec=WARN_THROTTLE_S)
                return
            except Exception as exc:  # noqa: BLE001 - an engine failure must not kill the node: stop safely
                self.cmd_pub.publish(Twist())
                self.get_logger().error(f"inference failed, publishing zero speed: {exc}",
                                        throttle_duration_sec=WARN_THROTTLE_S)
                return
        speed = decision.speed_m_s * float(self.params["speed_scale"])
        linear_x, angular_z = self.vehicle.twist_from_drive(speed, math.radians(decision.steering_deg))
        cmd = Twist()
        cmd.linear.x, cmd.angular.z = float(linear_x), float(angular_z)
        self.cmd_pub.publish(cmd)
        stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        self.decision_pub.publish(String(data=json.dumps({
            "action_index": decision.action_index, "probabilities": decision.probabilities,
            "action": decision.action, "steering_deg": decision.steering_deg, "speed_m_s": speed,
            "latency_ms": decision.latency_ms, "stamp": stamp, "model": model})))


def main(args: list[str] | None = None) -> int:
    """Entry point: spin the node until Ctrl-C / shutdown; returns 1 when the node cannot start."""
    return run_node(InferenceNode, "inference_node", (InferenceStartupError,), args)


if __name__ == "__main__":
    sys.exit(main())
