"""rclpy smoke test: a real publisher node and a real subscriber node exchange a sensor_msgs/Image.

Runs through the ROS 2 Jazzy wheels that `make setup` installs (DDS on localhost, a private domain
id from conftest.py). Both nodes live in this process under their own rclpy Context, which is shut
down at the end whatever happens.
"""
import time

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy", reason="rclpy (ROS 2 Jazzy wheels from `make setup`) is not installed")
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.qos import qos_profile_sensor_data  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402

from deepracer_description import load_vehicle  # noqa: E402

TIMEOUT_S = 20.0


def _frame(width: int, height: int) -> np.ndarray:
    rng = np.random.default_rng(1234)
    return rng.integers(0, 256, size=(height, width), dtype=np.uint8)


def test_image_published_by_one_node_is_received_by_another():
    cam = load_vehicle().camera
    width, height = cam.output_width_px, cam.output_height_px  # 160 x 120, what the agent sees
    pixels = _frame(width, height)

    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        publisher_node = rclpy.create_node("smoke_camera", context=context)
        subscriber_node = rclpy.create_node("smoke_listener", context=context)
        received: list[Image] = []
        subscriber_node.create_subscription(Image, "/camera/image_raw", received.append, qos_profile_sensor_data)
        publisher = publisher_node.create_publisher(Image, "/camera/image_raw", qos_profile_sensor_data)

        msg = Image()
        msg.header.frame_id = "camera_optical_frame"
        msg.height, msg.width = height, width
        msg.encoding = "mono8"
        msg.is_bigendian = 0
        msg.step = width
        msg.data = pixels.tobytes()

        # Best-effort QoS and discovery time: publish at the camera rate until one frame arrives.
        publisher_node.create_timer(1.0 / cam.rate_hz, lambda: publisher.publish(msg))
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(publisher_node)
        executor.add_node(subscriber_node)
        deadline = time.monotonic() + TIMEOUT_S
        while not received and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.05)
        executor.shutdown()
        publisher_node.destroy_node()
        subscriber_node.destroy_node()
    finally:
        rclpy.shutdown(context=context)

    assert received, f"no Image received within {TIMEOUT_S} s"
    got = received[0]
    assert (got.width, got.height, got.encoding, got.step) == (160, 120, "mono8", 160)
    assert got.header.frame_id == "camera_optical_frame"
    image = np.frombuffer(bytes(got.data), dtype=np.uint8).reshape(got.height, got.width)
    np.testing.assert_array_equal(image, pixels)
