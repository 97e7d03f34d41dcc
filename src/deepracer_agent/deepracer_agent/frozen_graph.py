"""A DeepRacer policy as a TensorFlow frozen graph (``model.pb``) with AWS's tensor names, WITHOUT TensorFlow.

The stock AWS DeepRacer car loads only frozen TF graphs and converts them with OpenVINO's model
optimizer using fixed tensor names (shared/REFERENCE.md, "What the stock car and the console load"):

- input  ``main_level/agent/main/online/network_0/FRONT_FACING_CAMERA/FRONT_FACING_CAMERA``:
  ``Placeholder`` float32 ``[?, 120, 160, C]`` (NHWC), RAW 0-255 values; the ``/255`` is a
  ``RealDiv`` inside the graph;
- output ``main_level/agent/main/online/network_1/ppo_head_0/policy``: ``Softmax`` over the
  discrete actions, or (continuous PPO) an ``Identity`` carrying the normalised [-1, 1] mean.

The graph is written with the GraphDef protobuf classes that ``tensorboard`` ships
(``tensorboard.compat.proto``, byte-compatible copies of TensorFlow's ``graph.proto``,
``node_def.proto``, ``attr_value.proto``, ``tensor.proto``); tensorboard is already a training
dependency, so no TensorFlow install is needed. Only numpy and those protobuf classes are used here.

A network is a list of :class:`Layer` (numpy weights, see :func:`layers_from_torch` in
:mod:`deepracer_agent.export` for how a torch policy becomes one). Ops used: Placeholder, Const,
RealDiv, Conv2D (NHWC, VALID), BiasAdd, Relu, Tanh, Transpose, Reshape, MatMul, Softmax, Identity.
``flatten`` transposes NHWC -> NCHW before the Reshape so the dense weights keep torch's NCHW
flatten order unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from deepracer_inference.artifact import AWS_INPUT_NAME, AWS_OUTPUT_NAME
_SCOPE_IN = AWS_INPUT_NAME.rsplit("/", 1)[0]
_SCOPE_OUT = AWS_OUTPUT_NAME.rsplit("/", 1)[0]
LAYER_KINDS = ("conv", "dense", "relu", "tanh", "flatten")


class FrozenGraphError(ValueError):
    """A network that cannot be written as a DeepRacer frozen graph; the message names the layer."""


@dataclass(frozen=True)
class Layer:
    """One layer of a feed-forward policy, numpy float32 weights.

    kind: ``conv`` (``weight`` (O, I, kH, kW) as torch stores it, ``bias`` (O,), ``stride``; VALID
    padding), ``dense`` (``weight`` (out, in) as torch stores it, ``bias`` (out,)), ``relu``,
    ``tanh`` or ``flatten`` (NHWC -> torch's NCHW flatten order).
    """

    kind: str
    weight: np.ndarray | None = None
    bias: np.ndarray | None = None
    stride: int = 1


def fold_batch_norm(weight: np.ndarray, bias: np.ndarray | None, gamma: np.ndarray, beta: np.ndarray,
                    mean: np.ndarray, var: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """Conv (O, I, kH, kW) + eval-mode batch norm over O -> one conv's (weight, bias), float64 then float32."""
    scale = np.asarray(gamma, np.float64) / np.sqrt(np.asarray(var, np.float64) + eps)
    b = np.zeros(weight.shape[0]) if bias is None else np.asarray(bias, np.float64)
    w = np.asarray(weight, np.float64) * scale[:, None, None, None]
    return w.astype(np.float32), ((b - mean) * scale + beta).astype(np.float32)


def _pb():
    from tensorboard.compat.proto import attr_value_pb2, graph_pb2, tensor_pb2, tensor_shape_pb2, types_pb2

    return attr_value_pb2, graph_pb2, tensor_pb2, tensor_shape_pb2, types_pb2


class _GraphBuilder:
    def __init__(self) -> None:
        self.attr_value_pb2, graph_pb2, self.tensor_pb2, self.tensor_shape_pb2, self.types = _pb()
        self.graph = graph_pb2.GraphDef()
        self.graph.versions.producer = 27  # TF 1.x-era producer, as Coach/DeepRacer graphs carry

    def _shape(self, dims: Sequence[int]):
        shape = self.tensor_shape_pb2.TensorShapeProto()
        for d in dims:
            shape.dim.add(size=int(d))
        return shape

    def node(self, name: str, op: str, inputs: Sequence[str] = (), **attrs) -> str:
        node = self.graph.node.add(name=name, op=op)
        node.input.extend(inputs)
        for key, value in attrs.items():
            node.attr[key].CopyFrom(value)
        return name

    def type_attr(self, dtype: int | None = None):
        return self.attr_value_pb2.AttrValue(type=self.types.DT_FLOAT if dtype is None else dtype)

    def const(self, name: str, value: np.ndarray) -> str:
        value = np.asarray(value)
        if value.dtype == np.float32:
            dtype = self.types.DT_FLOAT
        elif value.dtype == np.int32:
            dtype = self.types.DT_INT32
        else:
            raise FrozenGraphError(f"constant {name}: unsupported dtype {value.dtype}")
        content = np.ascontiguousarray(value, dtype=value.dtype.newbyteorder("<")).tobytes()  # TF: little-endian
        tensor = self.tensor_pb2.TensorProto(dtype=dtype, tensor_shape=self._shape(value.shape),
                                             tensor_content=content)
        return self.node(name, "Const", dtype=self.type_attr(dtype),
                         value=self.attr_value_pb2.AttrValue(tensor=tensor))

    def placeholder(self, name: str, dims: Sequence[int]) -> str:
        return self.node(name, "Placeholder", dtype=self.type_attr(),
                         shape=self.attr_value_pb2.AttrValue(shape=self._shape(dims)))

    def ints(self, values: Sequence[int]):
        return self.attr_value_pb2.AttrValue(list=self.attr_value_pb2.AttrValue.ListValue(i=list(values)))

    def string(self, text: str):
        return self.attr_value_pb2.AttrValue(s=text.encode())

    def boolean(self, value: bool):
        return self.attr_value_pb2.AttrValue(b=value)


def build_graph_def(layers: Sequence[Layer], in_channels: int = 1, height: int = 120, width: int = 160,
                    discrete: bool = True, input_scale_divisor: float = 255.0):
    """``layers`` -> a ``GraphDef`` (tensorboard's protobuf class) with AWS's input/output names.

    ``input_scale_divisor``: the raw input is divided by it first (255: 0-255 -> 0-1).
    """
    if not layers:
        raise FrozenGraphError("empty network")
    g = _GraphBuilder()
    t = g.placeholder(AWS_INPUT_NAME, [-1, height, width, in_channels])
    divisor = g.const(f"{_SCOPE_IN}/scale/y", np.array(input_scale_divisor, dtype=np.float32))
    t = g.node(f"{_SCOPE_IN}/scale", "RealDiv", [t, divisor], T=g.type_attr())
    channels, h, w = in_channels, height, width
    flat: int | None = None
    for i, layer in enumerate(layers):
        scope = f"{_SCOPE_IN}/layer_{i}" if flat is None else f"{_SCOPE_OUT}/layer_{i}"
        if layer.kind == "conv":
            if flat is not None:
                raise FrozenGraphError(f"layer {i}: a convolution after the flatten")
            weight = np.asarray(layer.weight, np.float32)
            if weight.ndim != 4 or weight.shape[1] != channels:
                raise FrozenGraphError(f"layer {i}: conv weight {weight.shape} does not take {channels} channels")
            kh, kw = weight.shape[2:]
            kernel = g.const(f"{scope}/kernel", np.transpose(weight, (2, 3, 1, 0)))  # (O,I,kH,kW) -> HWIO
            t = g.node(f"{scope}/Conv2D", "Conv2D", [t, kernel], T=g.type_attr(),
                       strides=g.ints([1, layer.stride, layer.stride, 1]), padding=g.string("VALID"),
                       data_format=g.string("NHWC"), dilations=g.ints([1, 1, 1, 1]),
                       use_cudnn_on_gpu=g.boolean(True))
            bias = g.const(f"{scope}/bias", np.asarray(layer.bias, np.float32))
            t = g.node(f"{scope}/BiasAdd", "BiasAdd", [t, bias], T=g.type_attr(), data_format=g.string("NHWC"))
            channels = weight.shape[0]
            h, w = (h - kh) // layer.stride + 1, (w - kw) // layer.stride + 1
            if h < 1 or w < 1:
                raise FrozenGraphError(f"layer {i}: the convolution leaves no pixels")
        elif layer.kind == "flatten":
            perm = g.const(f"{scope}/perm", np.array([0, 3, 1, 2], dtype=np.int32))   # NHWC -> NCHW
            t = g.node(f"{scope}/Transpose", "Transpose", [t, perm], T=g.type_attr(),
                       Tperm=g.type_attr(g.types.DT_INT32))
            flat = channels * h * w
            shape = g.const(f"{scope}/shape", np.array([-1, flat], dtype=np.int32))
            t = g.node(f"{scope}/Reshape", "Reshape", [t, shape], T=g.type_attr(),
                       Tshape=g.type_attr(g.types.DT_INT32))
        elif layer.kind == "dense":
            if flat is None:
                raise FrozenGraphError(f"layer {i}: a dense layer before the flatten")
            weight = np.asarray(layer.weight, np.float32)
            if weight.ndim != 2 or weight.shape[1] != flat:
                raise FrozenGraphError(f"layer {i}: dense weight {weight.shape} does not take {flat} inputs")
            kernel = g.const(f"{scope}/kernel", np.ascontiguousarray(weight.T))
            t = g.node(f"{scope}/MatMul", "MatMul", [t, kernel], T=g.type_attr(),
                       transpose_a=g.boolean(False), transpose_b=g.boolean(False))
            bias = g.const(f"{scope}/bias", np.asarray(layer.bias, np.float32))
            t = g.node(f"{scope}/BiasAdd", "BiasAdd", [t, bias], T=g.type_attr(), data_format=g.string("NHWC"))
            flat = weight.shape[0]
        elif layer.kind in ("relu", "tanh"):
            t = g.node(f"{scope}/{layer.kind.capitalize()}", layer.kind.capitalize(), [t], T=g.type_attr())
        else:
            raise FrozenGraphError(f"layer {i}: unknown kind {layer.kind!r}; expected one of {list(LAYER_KINDS)}")
    if flat is None:
        raise FrozenGraphError("the network never flattens to a vector of actions")
    g.node(AWS_OUTPUT_NAME, "Softmax" if discrete else "Identity", [t], T=g.type_attr())
    return g.graph


def write_frozen_graph(path: str | Path, layers: Sequence[Layer], in_channels: int = 1, discrete: bool = True,
                       input_scale_divisor: float = 255.0) -> Path:
    """Write ``layers`` as a binary frozen GraphDef ``model.pb`` at ``path`` (see :func:`build_graph_def`)."""
    path = Path(path)
    graph = build_graph_def(layers, in_channels=in_channels, discrete=discrete,
                            input_scale_divisor=input_scale_divisor)
    path.write_bytes(graph.SerializeToString())
    return path
