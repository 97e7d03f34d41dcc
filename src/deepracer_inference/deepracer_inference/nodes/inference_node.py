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
Parameters: model_path (artifact folder or .tar.gz; relative paths are looked up in models_dir;
            '' = none), engine (openvino | onnxruntime), precision (f32 | bf16 | f16),
            num_threads (0 = runtime default), speed_scale (0..1, multiplies the model's speed),
            models_dir, autostart (start inference as soon as a model is loaded at start-up or
            into an empty node).

Switching models at runtime: set ``model_path`` (or ``engine`` / ``precision`` / ``num_threads``).
The new model is loaded and verified inside the parameter callback; on failure the change is
rejected with the reason (``ros2 param set`` prints it) and the old model keeps driving.

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

import rclpy
from geometry_msgs.msg import Twist
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, SetParametersResult
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image
from std_msgs.msg import String
from std_srvs.srv import SetBool, Trigger

from deepracer_description.vehicle import load_vehicle

from ..artifact import ArtifactError, list_artifacts
from ..engine import DEFAULT_ENGINE, DEFAULT_PRECISION, ENGINES, PRECISIONS, EngineError, Policy
from ..metadata import MetadataError
from ..preprocess import PreprocessError, image_from_buffer

WARN_THROTTLE_S = 5.0
_RELOAD_KEYS = ("model_path", "engine", "precision", "num_threads")


def _descriptor(description: str, *, float_range: tuple[float, float] | None = None,
                int_range: tuple[int, int] | None = None, choices: tuple[str, ...] | None = None) -> ParameterDescriptor:
    d = ParameterDescriptor(description=description)
    if float_range is not None:
        d.floating_point_range = [FloatingPointRange(from_value=float_range[0], to_value=float_range[1], step=0.0)]
    if int_range is not None:
        d.integer_range = [IntegerRange(from_value=int_range[0], to_value=int_range[1], step=1)]
    if choices is not None:
        d.additional_constraints = "one of: " + ", ".join(choices)
    return d


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

        self.declare_parameter("model_path", "", _descriptor(
            "model artifact folder or .tar.gz ('' = none); relative paths are looked up in models_dir"))
        self.declare_parameter("engine", DEFAULT_ENGINE, _descriptor("inference engine", choices=ENGINES))
        self.declare_parameter("precision", DEFAULT_PRECISION, _descriptor(
            "f32 = exact; bf16/f16 = faster where the CPU supports them (openvino only)", choices=PRECISIONS))
        self.declare_parameter("num_threads", 0, _descriptor("inference threads, 0 = runtime default",
                                                              int_range=(0, 64)))
        self.declare_parameter("speed_scale", 1.0, _descriptor("multiplies the model's speed", float_range=(0.0, 1.0)))
        self.declare_parameter("models_dir", "", _descriptor("folder listed by /inference/list_models"))
        self.declare_parameter("autostart", True, _descriptor(
            "start inference as soon as a model is loaded (at start-up, or into a node without a model)"))

        self.cmd_pub = self.create_publisher(Twist, "cmd_vel_auto", 10)
        self.decision_pub = self.create_publisher(String, "inference/decision", 10)
        self.create_subscription(Image, "camera/image_raw", self._on_image, qos_profile_sensor_data)
        self.create_service(SetBool, "inference/start_stop", self._on_start_stop)
        self.create_service(Trigger, "inference/list_models", self._on_list_models)

        settings = {key: self.get_parameter(key).value for key in _RELOAD_KEYS}
        if settings["model_path"]:
            try:
                self._install(self._load(settings), settings)
            except (ArtifactError, EngineError, MetadataError) as exc:
                self.get_logger().error(f"no model loaded, inference stays stopped: {exc}")
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.get_logger().info(f"inference node ready: model {self._model_file or '(none)'}, "
                               f"{'running' if self._running else 'stopped'}")

    # -- model handling ----------------------------------------------------------------------------
    def _resolve(self, model_path: str) -> Path:
        path = Path(model_path).expanduser()
        models_dir = str(self.get_parameter("models_dir").value)
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
                self._running = bool(self.get_parameter("autostart").value)
        if policy is not None:
            engine = policy.engine
            self.get_logger().info(f"loaded model {policy.artifact.source} on {engine.name} "
                                   f"({engine.actual_precision}); {'running' if self._running else 'stopped'}")

    def _on_set_parameters(self, params: list) -> SetParametersResult:
        changes = {p.name: p.value for p in params}
        if "engine" in changes and changes["engine"] not in ENGINES:
            return SetParametersResult(successful=False, reason=f"engine {changes['engine']!r} is not one of {list(ENGINES)}")
        if "precision" in changes and changes["precision"] not in PRECISIONS:
            return SetParametersResult(successful=False,
                                       reason=f"precision {changes['precision']!r} is not one of {list(PRECISIONS)}")
        if not any(key in changes for key in _RELOAD_KEYS):
            return SetParametersResult(successful=True)
        settings = {key: changes.get(key, self.get_parameter(key).value) for key in _RELOAD_KEYS}
        if not settings["model_path"]:
            self._install(None, settings)
            self.get_logger().info("model unloaded; inference stopped")
            return SetParametersResult(successful=True)
        try:
            policy = self._load(settings)
        except (ArtifactError, EngineError, MetadataError) as exc:
            self.get_logger().error(f"model not switched, keeping {self._model_file or '(none)'}: {exc}")
            return SetParametersResult(successful=False, reason=str(exc))
        self._install(policy, settings)
        return SetParametersResult(successful=True)

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
        models_dir = str(self.get_parameter("models_dir").value)
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
        speed = decision.speed_m_s * float(self.get_parameter("speed_scale").value)
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
    """Entry point: spin the node until Ctrl-C / shutdown."""
    rclpy.init(args=args)
    try:
        node = InferenceNode()
        try:
            rclpy.spin(node)
        except (KeyboardInterrupt, ExternalShutdownException):
            pass
        finally:
            node.destroy_node()
        return 0
    finally:
        rclpy.try_shutdown()


if __name__ == "__main__":
    sys.exit(main())
