"""The inference node through real rclpy: images in, Twist out; model switch; bad images; stop/start."""
import json
import math
import threading
import time

import numpy as np
import pytest
import rclpy
from geometry_msgs.msg import Twist
from rcl_interfaces.srv import SetParameters
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image
from std_msgs.msg import String
from std_srvs.srv import SetBool, Trigger

from deepracer_description.vehicle import load_vehicle
from deepracer_inference.metadata import ModelMetadata
from deepracer_inference.nodes.inference_node import InferenceNode, InferenceStartupError
from deepracer_inference.preprocess import to_network_input
from tiny_artifact import make_artifact, reference_output


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    a = make_artifact(root / "model_a", seed=1)
    b = make_artifact(root / "model_b", ModelMetadata.discrete([-30, 30], [2.0, 3.0]), seed=2)
    return root, a, b


def rgb_frame(seed, h=480, w=640):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def image_msg(img, encoding="rgb8", height=None, width=None, step=None, data=None):
    msg = Image()
    msg.height = img.shape[0] if height is None else height
    msg.width = img.shape[1] if width is None else width
    msg.encoding = encoding
    msg.step = img.shape[1] * (img.shape[2] if img.ndim == 3 else 1) if step is None else step
    msg.data = img.tobytes() if data is None else data
    return msg


class Graph:
    """Private context, executor thread, the node under test, and a probe node."""

    def __init__(self, **params):
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        try:
            self.node = InferenceNode(context=self.context,
                                      parameter_overrides=[Parameter(k, value=v) for k, v in params.items()])
        except BaseException:
            rclpy.shutdown(context=self.context)
            raise
        self.probe = rclpy.create_node("probe", context=self.context)
        self.cmds, self.decisions = [], []
        self.cond = threading.Condition()
        self.probe.create_subscription(Twist, "/cmd_vel_auto", self._on_cmd, 50)
        self.probe.create_subscription(String, "/inference/decision", self._on_decision, 50)
        self.images = self.probe.create_publisher(Image, "/camera/image_raw", qos_profile_sensor_data)
        self.start_stop = self.probe.create_client(SetBool, "/inference/start_stop")
        self.list_models = self.probe.create_client(Trigger, "/inference/list_models")
        self.set_params = self.probe.create_client(SetParameters, "/inference_node/set_parameters")
        for n in (self.node, self.probe):
            self.executor.add_node(n)
        self.thread = threading.Thread(target=self._spin, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while self.images.get_subscription_count() < 1 or self.probe.count_publishers("/cmd_vel_auto") < 1:
            assert time.monotonic() < deadline, "discovery timed out"
            time.sleep(0.02)

    def _spin(self):
        try:
            self.executor.spin()
        except Exception:  # noqa: BLE001 - context shut down while spinning
            pass

    def _on_cmd(self, msg):
        with self.cond:
            self.cmds.append((msg.linear.x, msg.angular.z))
            self.cond.notify_all()

    def _on_decision(self, msg):
        with self.cond:
            self.decisions.append(json.loads(msg.data))
            self.cond.notify_all()

    def send(self, msg, expect_cmd=True, timeout=5.0):
        """Publish one image; return the Twist it caused (retrying the best-effort publish), or None."""
        with self.cond:
            before = len(self.cmds)
        for _ in range(3 if expect_cmd else 1):
            self.images.publish(msg)
            with self.cond:
                if self.cond.wait_for(lambda: len(self.cmds) > before, timeout=timeout / 3 if expect_cmd else 0.5):
                    return self.cmds[-1]
        assert not expect_cmd, "no Twist for the image"
        return None

    def call(self, client, request):
        assert client.wait_for_service(timeout_sec=5)
        future = client.call_async(request)
        deadline = time.monotonic() + 10
        while not future.done():
            assert time.monotonic() < deadline, "service call timed out"
            time.sleep(0.01)
        return future.result()

    def set_param(self, name, value):
        req = SetParameters.Request(parameters=[Parameter(name, value=value).to_parameter_msg()])
        return self.call(self.set_params, req).results[0]

    def close(self):
        self.executor.shutdown()
        self.node.destroy_node()
        self.probe.destroy_node()
        rclpy.shutdown(context=self.context)
        self.thread.join(timeout=5)


@pytest.fixture
def graph_factory():
    graphs = []

    def make(**params):
        g = Graph(**params)
        graphs.append(g)
        return g
    yield make
    for g in graphs:
        g.close()


def expected_twist(img, w, b, meta, speed_scale=1.0):
    x = to_network_input(img, "rgb8").astype(np.float32)[None, None]
    index = int(np.argmax(reference_output(x, w, b, True)))
    steering_deg, speed = meta.action_to_drive(index)
    return index, load_vehicle().twist_from_drive(speed * speed_scale, math.radians(steering_deg))


def test_images_in_commands_out_and_model_switch(graph_factory, models):
    root, (a, wa, ba), (b, wb, bb) = models
    g = graph_factory(model_path=str(a), speed_scale=0.5, models_dir=str(root))
    assert g.node.running
    for seed in range(3):
        img = rgb_frame(seed)
        index, (lin, ang) = expected_twist(img, wa, ba, ModelMetadata.default(), 0.5)
        got = g.send(image_msg(img))
        assert got == pytest.approx((lin, ang), abs=1e-9)
    with g.cond:
        assert g.cond.wait_for(lambda: len(g.decisions) >= 3, timeout=5)
        last = g.decisions[-1]
    assert last["action_index"] == index and len(last["probabilities"]) == 10 and last["latency_ms"] > 0

    # Switch to model_b by name (looked up in models_dir): 2 steering x 2 speeds, speeds 2-3 m/s.
    assert g.set_param("model_path", "model_b").successful
    img = rgb_frame(10)
    _, (lin, ang) = expected_twist(img, wb, bb, ModelMetadata.discrete([-30, 30], [2.0, 3.0]), 0.5)
    assert g.send(image_msg(img)) == pytest.approx((lin, ang), abs=1e-9)
    assert lin in (pytest.approx(1.0), pytest.approx(1.5))

    # A corrupted artifact is rejected with the reason; model_b keeps driving.
    import shutil
    broken = root / "broken"
    shutil.copytree(b, broken)
    (broken / "model.onnx").write_bytes(b"corrupt")
    result = g.set_param("model_path", str(broken))
    assert not result.successful and "checksum mismatch for model.onnx" in result.reason
    assert g.node.get_parameter("model_path").value == "model_b"
    assert g.send(image_msg(img)) == pytest.approx((lin, ang), abs=1e-9)
    result = g.set_param("engine", "tensorrt")
    assert not result.successful and "tensorrt" in result.reason

    # An integer for the double speed_scale (ros2 param set /inference_node speed_scale 1) is accepted.
    assert g.set_param("speed_scale", 1).successful
    assert g.node.get_parameter("speed_scale").type_ == Parameter.Type.DOUBLE
    _, (lin1, ang1) = expected_twist(img, wb, bb, ModelMetadata.discrete([-30, 30], [2.0, 3.0]), 1.0)
    assert g.send(image_msg(img)) == pytest.approx((lin1, ang1), abs=1e-9)

    listed = json.loads(g.call(g.list_models, Trigger.Request()).message)
    assert {m["name"]: m["loaded"] for m in listed} == {"broken": False, "model_a": False, "model_b": True}


def test_bad_images_are_dropped_and_node_survives(graph_factory, models):
    root, (a, wa, ba), _ = models
    g = graph_factory(model_path=str(a), engine="onnxruntime")
    img = rgb_frame(1, 48, 64)
    bad = [
        image_msg(img, encoding="yuv422"),
        image_msg(img, height=0, width=0, step=0, data=b""),
        image_msg(img, data=img.tobytes()[:-5]),
        image_msg(img, step=10),
    ]
    for msg in bad:
        assert g.send(msg, expect_cmd=False) is None
    assert g.node.dropped_images >= len(bad)
    _, (lin, ang) = expected_twist(img, wa, ba, ModelMetadata.default())
    assert g.send(image_msg(img)) == pytest.approx((lin, ang), abs=1e-9)
    gray = np.asarray(to_network_input(img, "rgb8"))
    assert g.send(image_msg(gray, encoding="mono8"))[0] > 0


def test_stop_start_and_no_model_publish_zero_speed(graph_factory, models, tmp_path):
    root, (a, _, _), _ = models
    with pytest.raises(InferenceStartupError, match=r"model_path '.*missing' cannot be loaded, nothing to drive: "
                                                      r".*not found \(start with model_path:=''"):
        graph_factory(autostart=False, model_path=str(tmp_path / "missing"))  # bad start-up model: exit 1
    g = graph_factory(autostart=False, model_path="")      # no model: stays up, stopped, zero speed
    img = image_msg(rgb_frame(3, 60, 80))
    assert g.send(img) == (0.0, 0.0)
    resp = g.call(g.start_stop, SetBool.Request(data=True))
    assert not resp.success and "no model loaded" in resp.message
    assert g.set_param("model_path", str(a)).successful
    assert not g.node.running  # autostart false
    assert g.send(img) == (0.0, 0.0)
    assert g.call(g.start_stop, SetBool.Request(data=True)).success
    assert g.send(img)[0] > 0
    assert g.call(g.start_stop, SetBool.Request(data=False)).success
    assert g.send(img) == (0.0, 0.0)
    assert g.set_param("model_path", "").successful  # unload: stopped, zero speed
    assert g.send(img) == (0.0, 0.0) and not g.node.running


def test_integer_for_a_double_and_unknown_parameters_at_start_up(graph_factory, models):
    root, (a, wa, ba), _ = models
    g = graph_factory(model_path=str(a), speed_scale=0)      # speed_scale:=0 arrives as an INTEGER
    assert g.node.params["speed_scale"] == 0.0 and g.node.get_parameter("speed_scale").type_ == Parameter.Type.DOUBLE
    assert g.send(image_msg(rgb_frame(1)))[0] == 0.0
    with pytest.raises(InferenceStartupError, match=r"unknown parameter speed_scal \(did you mean 'speed_scale'\?\)"):
        graph_factory(model_path=str(a), speed_scal=0.5)
    with pytest.raises(InferenceStartupError, match=r"parameter num_threads = 99 is outside \[0, 64\]"):
        graph_factory(num_threads=99)


def test_a_continuous_artifact_drives_its_deterministic_mean(graph_factory, tmp_path):
    """Continuous PPO / SAC artifacts: the node drives the network's [-1, 1] mean, scaled onto the
    metadata's steering and speed ranges (as AWS's car does); the control mapping is the discrete one's."""
    meta = ModelMetadata.continuous((-20.0, 30.0), (0.5, 2.0))
    meta.training_algorithm = "sac"
    folder, w, b = make_artifact(tmp_path / "cont", meta, seed=5)
    g = graph_factory(model_path=str(folder), speed_scale=1.0)
    for seed in range(3):
        img = rgb_frame(20 + seed)
        mean = reference_output(to_network_input(img, "rgb8").astype(np.float32)[None, None], w, b, False)
        steering_deg, speed = meta.action_to_drive(np.clip(mean, -1.0, 1.0))
        assert -20.0 <= steering_deg <= 30.0 and 0.5 <= speed <= 2.0
        lin, ang = load_vehicle().twist_from_drive(speed, math.radians(steering_deg))
        assert g.send(image_msg(img)) == pytest.approx((lin, ang), abs=1e-6)
    with g.cond:
        assert g.cond.wait_for(lambda: len(g.decisions) >= 3, timeout=5)
        last = g.decisions[-1]
    assert last["action_index"] == -1 and len(last["action"]) == 2 and last["probabilities"] == []
