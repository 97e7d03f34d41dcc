"""The console node: the car's web console (Flask, :mod:`deepracer_control.console`) on the ROS graph.

Serves http://<host>:<port>/ (default 127.0.0.1:8080; port 0 = a free one) and logs the login URL
with its token at start-up. What the page does goes through topics and services other tools can use
too (table in :mod:`deepracer_control.console.backend` and docs/INTERFACES.md).

All names are relative (they resolve in the node's namespace, like the rest of the graph).
Topics in:  camera/image_raw (sensor_msgs/Image, sensor-data QoS) -> the MJPEG stream,
            inference/decision, control/applied (std_msgs/String JSON) -> overlay and status,
            battery_state (sensor_msgs/BatteryState, when the car reports one) -> status.
Topics out: cmd_vel (geometry_msgs/Twist, manual drive, only while the page sends),
            control/calibration_pwm (std_msgs/Int32MultiArray, calibration sliders).
Services called: control/set_mode/<mode>, control/emergency_stop, control/reload_calibration,
            inference/start_stop, and the parameter services of the control node
            (max_speed_scale) and of the inference node (model_path).

Start-up is all-or-nothing: a bad parameter, an unreadable password file or a port in use logs ONE
error and the process exits with status 1.
"""
from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

from geometry_msgs.msg import Twist
from rcl_interfaces.srv import GetParameters, SetParameters
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter, parameter_value_to_python
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import BatteryState, Image
from std_msgs.msg import Int32MultiArray, String
from std_srvs.srv import SetBool, Trigger
from werkzeug.serving import make_server

from deepracer_common.nodes.lifecycle import run_node
from deepracer_common.nodes.params import ParameterError, Spec, declare
from deepracer_description.vehicle import load_vehicle
from deepracer_inference.preprocess import PreprocessError, image_from_buffer

from ..console.app import create_app
from ..console.auth import Auth, AuthError
from ..console.backend import BackendError, twist_from_stick
from ..console.models import ModelStore
from ..console.video import FrameHub, rgb_view
from ..safety import MODES

MIB = 1024 * 1024
LOADED_MODEL_CACHE_S = 2.0

SPECS = [
    Spec("host", "127.0.0.1", "address the web server binds; 0.0.0.0 = every interface (set a password too)"),
    Spec("port", 8080, "TCP port of the web server; 0 = any free port (logged at start-up)", range=(0, 65535)),
    Spec("token", "", "login token (>= 16 characters); '' = a random one, logged at start-up"),
    Spec("password_file", "", "password hash file (python -m deepracer_control.console.auth set-password FILE); "
                              "'' = token only"),
    Spec("calibration_file", "", "calibration.json the page saves (the control node's calibration_file)"),
    Spec("models_dir", "", "folder of model artifacts the page lists, uploads into and deletes from; '' = off"),
    Spec("max_upload_mb", 200, "largest model upload accepted (MiB)", range=(1, 4096)),
    Spec("jpeg_quality", 80, "JPEG quality of the video stream", range=(10, 100)),
    Spec("max_stream_fps", 15.0, "video frames per second sent to each viewer at most", range=(1.0, 60.0)),
    Spec("service_timeout_s", 3.0, "how long a ROS service call may take before the page gets an error (s)",
         range=(0.1, 30.0)),
    Spec("model_load_timeout_s", 60.0, "how long selecting a model may take (loading + compiling, s)",
         range=(1.0, 600.0)),
    Spec("control_node", "control_node", "name of the control node (its parameter services); relative = in this node's namespace"),
    Spec("inference_node", "inference_node", "name of the inference node (its parameter services); relative = in this node's namespace"),
]


class ConsoleStartupError(RuntimeError):
    """The console cannot start; the message names the parameter, file or port."""


class ConsoleNode(Node):
    """The ROS side of the console; implements :class:`deepracer_control.console.backend.ConsoleBackend`."""

    def __init__(self, **node_kwargs: Any) -> None:
        super().__init__("console_node", **node_kwargs)
        self.server = None
        try:
            self._start()
        except BaseException:
            self.destroy_node()
            raise

    def _start(self) -> None:
        try:
            p = self.params = declare(self, SPECS)
            self.auth = Auth(p["token"], p["password_file"])
        except (ParameterError, AuthError) as exc:
            raise ConsoleStartupError(str(exc)) from None
        self.vehicle = load_vehicle()
        self.frames = FrameHub(p["jpeg_quality"])
        self._lock = threading.Lock()
        self._applied: tuple[float, dict] | None = None
        self._decision: tuple[float, dict] | None = None
        self._battery: dict | None = None
        self._loaded: tuple[float, Path | None] | None = None
        self._max_speed: tuple[float, float | None] | None = None

        group = ReentrantCallbackGroup()
        self.create_subscription(Image, "camera/image_raw", self._on_image, qos_profile_sensor_data,
                                 callback_group=group)
        self.create_subscription(String, "inference/decision", self._on_decision, 10, callback_group=group)
        self.create_subscription(String, "control/applied", self._on_applied, 10, callback_group=group)
        self.create_subscription(BatteryState, "battery_state", self._on_battery, 10, callback_group=group)
        self.cmd_pub = self.create_publisher(Twist, "cmd_vel", 10)
        self.cal_pub = self.create_publisher(Int32MultiArray, "control/calibration_pwm", 10)
        client = lambda srv, name: self.create_client(srv, name, callback_group=group)  # noqa: E731
        self.mode_clients = {m: client(Trigger, f"control/set_mode/{m}") for m in MODES}
        self.estop_client = client(SetBool, "control/emergency_stop")
        self.reload_client = client(Trigger, "control/reload_calibration")
        self.start_stop_client = client(SetBool, "inference/start_stop")
        control, inference = p["control_node"].rstrip("/"), p["inference_node"].rstrip("/")
        self.control_params = client(SetParameters, f"{control}/set_parameters")
        self.control_get = client(GetParameters, f"{control}/get_parameters")
        self.inference_params = client(SetParameters, f"{inference}/set_parameters")
        self.inference_get = client(GetParameters, f"{inference}/get_parameters")

        store = ModelStore(p["models_dir"], p["max_upload_mb"] * MIB) if p["models_dir"] else None
        self.models_dir = Path(p["models_dir"]).expanduser() if p["models_dir"] else None
        app = create_app(self, self.auth, store, p["calibration_file"], p["max_stream_fps"])
        # Bind here (werkzeug would print its own text and exit on a port in use), then hand it the socket.
        family = socket.AF_INET6 if ":" in p["host"] else socket.AF_INET
        try:
            with socket.create_server((p["host"], p["port"]), family=family) as sock:
                self.server = make_server(p["host"], p["port"], app, threaded=True, fd=sock.fileno())
        except OSError as exc:
            raise ConsoleStartupError(f"cannot serve on {p['host']}:{p['port']} "
                                      f"({os.strerror(exc.errno) if exc.errno else exc})") from None
        self.port = self.server.port
        self._thread = threading.Thread(target=self.server.serve_forever, name="console-http", daemon=True)
        self._thread.start()
        host = p["host"] if p["host"] not in ("0.0.0.0", "::") else "<this machine's address>"
        self.url = f"http://{host}:{self.port}/"
        self.get_logger().info(f"console ready: open {self.url}?token={self.auth.token}")
        if p["host"] not in ("127.0.0.1", "localhost", "::1") and not p["password_file"]:
            self.get_logger().warn(f"the console listens on {p['host']} with a token only; "
                                   "anyone on the network who sees the URL can drive the car")

    # -- subscriptions -----------------------------------------------------------------------------
    def _on_image(self, msg: Image) -> None:
        try:
            image = image_from_buffer(msg.data, msg.height, msg.width, msg.encoding, msg.step, bool(msg.is_bigendian))
        except PreprocessError as exc:
            self.get_logger().warning(f"console: dropped camera image: {exc}", throttle_duration_sec=5.0)
            return
        stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        self.frames.push(rgb_view(image, msg.encoding), stamp)

    def _on_decision(self, msg: String) -> None:
        decision = _json(msg.data)
        if decision is not None:
            self._decision = (time.monotonic(), decision)
            self.frames.set_decision(decision)

    def _on_applied(self, msg: String) -> None:
        applied = _json(msg.data)
        if applied is not None:
            self._applied = (time.monotonic(), applied)
            self.frames.set_applied(applied)

    def _on_battery(self, msg: BatteryState) -> None:
        self._battery = {"voltage_v": _finite(msg.voltage), "percentage": _finite(msg.percentage * 100.0)}

    # -- ConsoleBackend ----------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        now = time.monotonic()
        applied = self._applied[1] if self._applied and now - self._applied[0] < 1.0 else None
        decision = self._decision[1] if self._decision and now - self._decision[0] < 1.0 else None
        try:
            loaded = self.loaded_model()
        except BackendError:
            loaded = None
        return {"control_alive": applied is not None, "mode": applied["mode"] if applied else None,
                "applied": applied, "decision": decision, "autonomous_running": decision is not None,
                "model": loaded.name if loaded else None, "battery": self._battery,
                "max_speed_scale": self._max_speed_scale()}

    def drive(self, throttle: float, steering: float) -> None:
        linear_x, angular_z = twist_from_stick(self.vehicle, throttle, steering)
        msg = Twist()
        msg.linear.x, msg.angular.z = float(linear_x), float(angular_z)
        self.cmd_pub.publish(msg)

    def calibration_pulse(self, throttle_ns: int, steering_ns: int) -> None:
        self.cal_pub.publish(Int32MultiArray(data=[int(throttle_ns), int(steering_ns)]))

    def set_mode(self, mode: str) -> str:
        return self._trigger(self.mode_clients[mode], Trigger.Request())

    def emergency_stop(self, engaged: bool) -> str:
        return self._trigger(self.estop_client, SetBool.Request(data=engaged))

    def reload_calibration(self) -> str:
        return self._trigger(self.reload_client, Trigger.Request())

    def autonomous(self, run: bool) -> str:
        return self._trigger(self.start_stop_client, SetBool.Request(data=run))

    def set_max_speed(self, scale: float) -> str:
        self._set_parameter(self.control_params, "max_speed_scale", float(scale), self.params["service_timeout_s"])
        with self._lock:
            self._max_speed = (time.monotonic(), float(scale))
        return f"max_speed_scale {scale:.2f}"

    def _max_speed_scale(self) -> float | None:
        """The control node's max_speed_scale (cached like the model), None when it does not answer."""
        with self._lock:
            if self._max_speed is not None and time.monotonic() - self._max_speed[0] < LOADED_MODEL_CACHE_S:
                return self._max_speed[1]
        if not self.control_get.service_is_ready():
            return None
        try:
            response = self._call(self.control_get, GetParameters.Request(names=["max_speed_scale"]),
                                  self.params["service_timeout_s"])
        except BackendError:
            return None
        raw = parameter_value_to_python(response.values[0]) if response.values else None
        value = float(raw) if isinstance(raw, (int, float)) and not isinstance(raw, bool) else None
        with self._lock:
            self._max_speed = (time.monotonic(), value)
        return value

    def select_model(self, path: Path) -> str:
        self._set_parameter(self.inference_params, "model_path", str(path), self.params["model_load_timeout_s"])
        with self._lock:
            self._loaded = (time.monotonic(), path)
        return f"model {path.name} loaded"

    def loaded_model(self) -> Path | None:
        with self._lock:
            if self._loaded is not None and time.monotonic() - self._loaded[0] < LOADED_MODEL_CACHE_S:
                return self._loaded[1]
        if not self.inference_get.service_is_ready():  # no inference node (yet): no model, and no waiting
            return None
        request = GetParameters.Request(names=["model_path"])
        response = self._call(self.inference_get, request, self.params["service_timeout_s"])
        value = response.values[0].string_value if response.values else ""
        path = None
        if value:
            path = Path(value).expanduser()
            if not path.is_absolute() and self.models_dir is not None:
                path = self.models_dir / path
        with self._lock:
            self._loaded = (time.monotonic(), path)
        return path

    # -- service calls from the web server's threads -----------------------------------------------
    def _call(self, client: Any, request: Any, timeout_s: float) -> Any:
        if not client.wait_for_service(timeout_sec=min(timeout_s, self.params["service_timeout_s"])):
            raise BackendError(f"{client.srv_name}: service not available (is that node running?)")
        future = client.call_async(request)
        done = threading.Event()
        future.add_done_callback(lambda _f: done.set())
        if not done.wait(timeout_s):
            client.remove_pending_request(future)
            raise BackendError(f"{client.srv_name}: no answer within {timeout_s} s")
        if future.exception() is not None:
            raise BackendError(f"{client.srv_name}: {future.exception()}")
        return future.result()

    def _trigger(self, client: Any, request: Any) -> str:
        response = self._call(client, request, self.params["service_timeout_s"])
        if not response.success:
            raise BackendError(f"{client.srv_name}: {response.message}")
        return response.message

    def _set_parameter(self, client: Any, name: str, value: Any, timeout_s: float) -> None:
        request = SetParameters.Request(parameters=[Parameter(name, value=value).to_parameter_msg()])
        result = self._call(client, request, timeout_s).results[0]
        if not result.successful:
            raise BackendError(f"{name} refused: {result.reason}")

    def close(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


def _json(text: str) -> dict | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _finite(value: float) -> float | None:
    return round(float(value), 3) if value == value and abs(value) != float("inf") else None


def main(args: list[str] | None = None) -> int:
    """Entry point; returns the exit status (1 when the console cannot start)."""
    return run_node(ConsoleNode, "console_node", (ConsoleStartupError,), args,
                    executor=lambda: MultiThreadedExecutor(num_threads=4))


if __name__ == "__main__":
    sys.exit(main())
