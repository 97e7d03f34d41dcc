"""End-to-end: an AWS-convention model archive (model.pb with AWS's tensor names, the SHALLOW
network, + model_metadata.json, no manifest) driven through the ROS graph by
`deepracer launch launch/sim_drive.launch.xml model:=THAT.tar.gz` (real processes: sim_node ->
inference_node -> control_node[sim] -> sim_node). The inference node reads model.pb through
OpenVINO's TensorFlow frontend; the car must complete a lap of the oval on the model's decisions.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

rclpy = pytest.importorskip("rclpy")

# the AWS-convention model writer lives with the agent's AWS-model tests
sys.path.append(str(Path(__file__).resolve().parents[2] / "deepracer_agent" / "test"))
from aws_helpers import STEERING_DEG, tar_folder, write_aws_model  # noqa: E402
from graph_helpers import REPO, LaunchedGraph, parse_status, spin_until  # noqa: E402

pytestmark = pytest.mark.slow   # a launched graph driving a lap (~20-40 s)

RATE_HZ = 30.0


def test_aws_archive_drives_a_lap_through_the_ros_graph(tmp_path):
    from rclpy.node import Node
    from std_msgs.msg import String

    archive = tar_folder(write_aws_model(tmp_path / "aws_model"), tmp_path / "aws_model.tar.gz")
    launched = LaunchedGraph(REPO / "launch" / "sim_drive.launch.xml", f"model:={archive}", "track:=oval",
                             f"rate:={RATE_HZ}")
    rclpy.init()
    node = Node("aws_model_probe")
    status: list[dict] = []
    decisions: list[dict] = []
    node.create_subscription(String, "/sim/lap_status", lambda m: status.append(parse_status(m)), 50)
    node.create_subscription(String, "/inference/decision", lambda m: decisions.append(json.loads(m.data)), 50)
    try:
        ok = spin_until(node, lambda: any(s["lap_count"] >= 1 for s in status), 60.0,
                        alive=lambda: launched.proc.poll() is None)
        out = launched.output
        assert ok, f"no lap completed; last status: {status[-1:]}\n{out[-4000:]}"
        lap = next(s for s in status if s["event"] == "lap_complete")
        assert lap["last_lap_time_s"] > 10.0 and lap["off_track_count"] == 0, lap
        assert decisions and all(d["model"] == str(archive) for d in decisions)
        assert {d["steering_deg"] for d in decisions} <= set(STEERING_DEG)
        assert len({d["action_index"] for d in decisions}) > 1          # it steers, not a constant
        assert all(abs(d["speed_m_s"] - 1.0) < 1e-6 for d in decisions)
        assert f"loaded model {archive} on openvino" in out
        print(f"lap time {lap['last_lap_time_s']:.2f} s sim, {len(decisions)} decisions")
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
        launched.stop()
        time.sleep(0.1)
