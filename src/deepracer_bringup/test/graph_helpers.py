"""Helpers for the end-to-end ROS graph tests: a scripted centre-line policy exported as a model
artifact, a launched graph (`deepracer launch` as a subprocess) and a probe node.

The scripted policy is a fixed torch module (no training): in image rows 60-99 of the 160x120
grayscale frame it finds the dark road (luma < ~85, a soft threshold), takes the road's mean column,
and picks the discrete steering angle nearest to ``-GAIN * 30 deg * offset`` (offset in [-1, 1],
positive = road to the right). It is exported with the ONNX exporter ``deepracer export`` uses
(`deepracer_agent.export.export_onnx`), converted to OpenVINO IR the same way, and given a
model_metadata.json and manifest, so the inference node loads it like any exported model.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[3]
INFERENCE_TESTS = REPO / "src" / "deepracer_inference" / "test"
COMMON_TESTS = REPO / "src" / "deepracer_common" / "test"
if str(COMMON_TESTS) not in sys.path:
    sys.path.append(str(COMMON_TESTS))
from launch_helpers import LaunchedGraph  # noqa: E402,F401 - re-exported for the graph tests

STEERING_DEG = (-30.0, -20.0, -10.0, 0.0, 10.0, 20.0, 30.0)
GAIN = 1.2
ROAD_ROWS = (60, 100)


def scripted_artifact(folder: Path, speed_m_s: float = 1.0) -> Path:
    """Write the scripted centre-line follower as a model artifact folder; returns it."""
    import openvino as ov
    import torch
    from torch import nn

    from deepracer_agent.export import export_onnx
    from deepracer_inference.artifact import IR_XML_NAME, METADATA_NAME, ONNX_NAME, expected_input_shape, expected_output
    from deepracer_inference.metadata import ModelMetadata

    class CentreLineFollower(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("cols", torch.arange(160, dtype=torch.float32))
            self.register_buffer("steers", torch.tensor(STEERING_DEG, dtype=torch.float32))

        def forward(self, observation: torch.Tensor) -> torch.Tensor:
            band = observation[:, 0, ROAD_ROWS[0]:ROAD_ROWS[1], :]               # raw 0-255 luma
            road = torch.sigmoid((85.0 - band) * 0.3)
            centre = (road * self.cols).sum(-1) / (road.sum(-1) + 1e-3)          # (1, rows)
            offset = ((centre - 79.5) / 80.0).mean(-1, keepdim=True)            # (1, 1)
            target = -GAIN * 30.0 * offset
            return torch.softmax(-((self.steers - target) ** 2) / 25.0, dim=-1)

    meta = ModelMetadata.discrete(STEERING_DEG, [speed_m_s])
    folder.mkdir(parents=True, exist_ok=True)
    output_name, _ = expected_output(meta)
    module = CentreLineFollower().eval()
    export_onnx(module, tuple(expected_input_shape(meta)), output_name, folder / ONNX_NAME)
    ov.save_model(ov.convert_model(str(folder / ONNX_NAME)), str(folder / IR_XML_NAME), compress_to_fp16=False)
    meta.save(folder / METADATA_NAME)
    sys.path.insert(0, str(INFERENCE_TESTS))
    try:
        from tiny_artifact import write_manifest
    finally:
        sys.path.remove(str(INFERENCE_TESTS))
    write_manifest(folder, meta)
    return folder


def spin_until(node: Any, predicate: Callable[[], bool], timeout_s: float, alive: Callable[[], bool] = lambda: True,
               step_s: float = 0.05) -> bool:
    """Spin `node` until `predicate()` (True) or `timeout_s` / `alive()` is False (False)."""
    import rclpy

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and alive():
        rclpy.spin_once(node, timeout_sec=step_s)
        if predicate():
            return True
    return predicate()


def sim_node_process(*params: str) -> subprocess.Popen:
    """The sim node as a subprocess with ``-p name:=value`` parameters."""
    cmd = [sys.executable, "-m", "deepracer_sim.nodes.sim_node", "--ros-args"]
    for p in params:
        cmd += ["-p", p]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"))


def stop_process(proc: subprocess.Popen, timeout_s: float = 10.0) -> str:
    """SIGINT, then kill after `timeout_s`; returns the output."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.stdout.read() if proc.stdout else ""


def parse_status(msg: Any) -> dict[str, Any]:
    return json.loads(msg.data)
