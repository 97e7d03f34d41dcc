"""Build small but real model artifacts for the tests without torch (ONNX graph by hand -> OpenVINO IR).

The graph is ``softmax(flatten(observation) @ W + b)`` (discrete) or ``tanh(...)`` (continuous),
so a test can compute the exact expected output in numpy (:func:`reference_output`).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import openvino as ov
from onnx import TensorProto, helper, numpy_helper

from deepracer_inference.artifact import (ARTIFACT_FORMAT, ARTIFACT_FORMAT_VERSION, IR_XML_NAME, MANIFEST_NAME,
                                          METADATA_NAME, ONNX_NAME, expected_input_shape, expected_output,
                                          file_checksums)
from deepracer_inference.metadata import ModelMetadata


def weights(n_inputs: int, n_outputs: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return (rng.normal(0.0, 2e-4, (n_inputs, n_outputs)).astype(np.float32),
            rng.normal(0.0, 0.1, n_outputs).astype(np.float32))


def reference_output(x: np.ndarray, w: np.ndarray, b: np.ndarray, discrete: bool) -> np.ndarray:
    """What the tiny graph computes for a (1, C, 120, 160) float32 input -> (A,) (float64)."""
    logits = x.reshape(1, -1).astype(np.float64) @ w.astype(np.float64) + b
    if not discrete:
        return np.tanh(logits[0])
    e = np.exp(logits[0] - logits[0].max())
    return e / e.sum()


def make_artifact(folder: Path, metadata: ModelMetadata | None = None, seed: int = 0,
                  graph_channels: int | None = None, layout: str = "NCHW") -> tuple[Path, np.ndarray, np.ndarray]:
    """Write an artifact folder for ``metadata`` (default: the paper's 10 actions). ``graph_channels``
    builds a graph with another frame stack than the metadata says (a broken artifact); ``layout``
    "NHWC" a graph taking (1, 120, 160, C). Returns (folder, W, b)."""
    metadata = metadata or ModelMetadata.default()
    folder.mkdir(parents=True, exist_ok=True)
    in_shape = list(expected_input_shape(metadata, layout))
    if graph_channels is not None:
        in_shape[1 if layout == "NCHW" else 3] = graph_channels
    out_name, out_shape = expected_output(metadata)
    n_in = int(np.prod(in_shape))
    w, b = weights(n_in, out_shape[1], seed)
    nodes = [
        helper.make_node("Reshape", ["observation", "shape"], ["flat"]),
        helper.make_node("MatMul", ["flat", "W"], ["mm"]),
        helper.make_node("Add", ["mm", "b"], ["logits"]),
        helper.make_node("Softmax" if metadata.is_discrete else "Tanh", ["logits"], [out_name]),
    ]
    graph = helper.make_graph(
        nodes, "tiny_policy",
        [helper.make_tensor_value_info("observation", TensorProto.FLOAT, in_shape)],
        [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, list(out_shape))],
        initializer=[numpy_helper.from_array(np.array([1, n_in], dtype=np.int64), "shape"),
                     numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, str(folder / ONNX_NAME))
    ov.save_model(ov.convert_model(str(folder / ONNX_NAME)), str(folder / IR_XML_NAME), compress_to_fp16=False)
    metadata.save(folder / METADATA_NAME)
    write_manifest(folder, metadata, layout)
    return folder, w, b


def write_manifest(folder: Path, metadata: ModelMetadata, layout: str = "NCHW") -> None:
    """(Re)write manifest.json with fresh checksums and the shapes ``metadata`` implies."""
    out_name, out_shape = expected_output(metadata)
    manifest = {
        "format": ARTIFACT_FORMAT, "format_version": ARTIFACT_FORMAT_VERSION,
        "action_space_type": metadata.action_space_type,
        "input": {"name": "observation", "shape": list(expected_input_shape(metadata, layout)), "dtype": "float32"},
        "output": {"name": out_name, "shape": list(out_shape), "dtype": "float32"},
        "files": file_checksums(folder),
    }
    (folder / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
