"""Inference engines and the driving policy (numpy + OpenVINO / ONNX Runtime; no torch, no rclpy).

- :class:`OpenVINOEngine` (the default, what the Atom-class car runs) compiles the artifact's
  OpenVINO IR for the CPU. ``precision="f32"`` is exact (``INFERENCE_PRECISION_HINT=f32``: agrees
  with torch to ~1e-7); ``"bf16"`` / ``"f16"`` are faster on CPUs that have them and may flip the
  chosen action where two actions are nearly tied. OpenVINO silently falls back when the CPU lacks
  a precision (e.g. f16 -> bf16 on AVX512-BF16 CPUs without FP16); :attr:`Engine.actual_precision`
  reports what the compiled model really uses.
- :class:`OnnxRuntimeEngine` (the fallback) runs ``model.onnx`` on ONNX Runtime's CPU provider, f32 only.
- AWS/DRfC models (``model.pb`` TF frozen graphs, ``Artifact.kind == "aws"``) run on OpenVINO only:
  :func:`read_tf_policy` reads them through OpenVINO's TensorFlow frontend, as the stock car does.
- Layout: a graph takes NCHW ``(1, C, 120, 160)`` (this workspace's ONNX/IR) or NHWC
  ``(1, 120, 160, C)`` (AWS's); :class:`Policy` reads it from the artifact's input shape.
- :class:`Policy` ties an artifact, an engine and the preprocessing together:
  ``Policy.decide(image, encoding) -> Decision`` (argmax for discrete spaces, rescaling of the
  normalised mean for continuous ones, then steering degrees and speed from model_metadata).

``num_threads=1`` pins the engine to one inference thread (benchmarks, small cars sharing the CPU);
0 lets the runtime choose.
"""
from __future__ import annotations

import collections
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from deepracer_inference.artifact import (IR_FP16_XML_NAME, IR_XML_NAME, ONNX_NAME, TF_PB_NAME, Artifact,
                                          ArtifactError, load_artifact)
from deepracer_inference.preprocess import to_network_input

ENGINES = ("openvino", "onnxruntime")
PRECISIONS = ("f32", "bf16", "f16")
DEFAULT_ENGINE = "openvino"
DEFAULT_PRECISION = "f32"


class EngineError(ValueError):
    """An unknown engine or precision, or a runtime that is not installed; the message names it."""


class Engine(Protocol):
    """What :class:`Policy` needs from an engine."""

    name: str
    precision: str
    actual_precision: str

    def infer(self, observation: np.ndarray) -> np.ndarray:
        """float32 raw 0-255 of the artifact's ``input_shape`` ((1, C, 120, 160) NCHW or
        (1, 120, 160, C) NHWC) -> the output row (A,) as float32."""
        ...


def _tensor_name(name: str) -> str:
    """TF tensor names carry the output port (``policy:0``); the contract names the node."""
    return name[:-2] if name.endswith(":0") else name


def _check_shapes(artifact: Artifact, runtime: str, in_name: str, in_shape: Any, out_name: str,
                  out_shape: Any, in_names: Any = (), out_names: Any = ()) -> None:
    """Raise an :class:`ArtifactError` when the loaded graph's names/shapes differ from the metadata's
    (``in_names`` / ``out_names``: every name of the tensor, when a runtime gives several)."""
    in_shape, out_shape = tuple(in_shape), tuple(out_shape)
    if artifact.input_name in {_tensor_name(n) for n in in_names}:
        in_name = artifact.input_name
    if artifact.output_name in {_tensor_name(n) for n in out_names}:
        out_name = artifact.output_name
    if _tensor_name(in_name) != artifact.input_name or in_shape != artifact.input_shape:
        raise artifact.error(f"{runtime} model input {in_name!r} {list(in_shape)} does not match "
                             f"model_metadata.json, which implies {artifact.input_name!r} {list(artifact.input_shape)} "
                             f"(frame_stack {artifact.frame_stack}, 120x160, {artifact.layout})")
    if _tensor_name(out_name) != artifact.output_name or out_shape != artifact.output_shape:
        raise artifact.error(f"{runtime} model output {out_name!r} {list(out_shape)} does not match "
                             f"model_metadata.json, which implies {artifact.output_name!r} "
                             f"{list(artifact.output_shape)}")


def read_tf_policy(artifact: Artifact) -> Any:
    """An AWS/DRfC ``model.pb`` -> an ``openvino.Model`` with the static input ``artifact.input_shape``
    (NHWC) and the one policy output, read by OpenVINO's TensorFlow frontend as the stock car does.

    A graph that is not a DeepRacer policy raises an :class:`ArtifactError` naming what differs: the
    input tensor (name, rank, 120x160, channels), the output tensor (name, number of actions).
    """
    import openvino as ov

    assert artifact.pb_path is not None
    pb = str(artifact.pb_path)
    rel = artifact.manifest.get("model_pb", TF_PB_NAME)
    try:
        bare = ov.convert_model(pb)
    except Exception as exc:  # noqa: BLE001 - ovc raises its own error types
        first = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise artifact.error(f"OpenVINO's TensorFlow frontend cannot read {rel} as a frozen graph: {first}") from None
    want_in, want_out = artifact.input_name, artifact.output_name

    def describe(ports: Any) -> str:
        return ", ".join(f"{sorted(p.get_names())[0] if p.get_names() else '?'} {p.get_partial_shape()}"
                         for p in ports) or "none"

    inputs = [p for p in bare.inputs if {_tensor_name(n) for n in p.get_names()} & {want_in}]
    if not inputs:
        raise artifact.error(f"{rel} is not a DeepRacer policy: no input tensor {want_in!r}; the graph's "
                             f"inputs are: {describe(bare.inputs)}")
    outputs = [p for p in bare.outputs if {_tensor_name(n) for n in p.get_names()} & {want_out}]
    if not outputs:
        raise artifact.error(f"{rel} is not a DeepRacer policy: no output tensor {want_out!r}; the graph's "
                             f"outputs are: {describe(bare.outputs)}")
    port = inputs[0]
    shape = port.get_partial_shape()
    want_shape = list(artifact.input_shape)
    dims_ok = shape.rank.is_static and len(shape) == 4 and all(
        d.is_dynamic or d.get_length() == w for d, w in zip(shape, want_shape))
    if not dims_ok:
        raise artifact.error(f"{rel}: input {want_in!r} has shape {shape}; model_metadata.json implies "
                             f"{want_shape} (NHWC: batch, 120 rows, 160 columns, {artifact.frame_stack} "
                             f"channel(s))")
    in_name = next(n for n in port.get_names() if _tensor_name(n) == want_in)
    out_name = next(n for n in outputs[0].get_names() if _tensor_name(n) == want_out)
    try:
        if len(bare.inputs) == 1 and len(bare.outputs) == 1:
            bare.reshape({port: ov.PartialShape(want_shape)})
            model = bare
        else:  # other placeholders or heads (e.g. a value head): cut the graph to input -> policy
            model = ov.convert_model(pb, input=[(in_name, want_shape)], output=[out_name])
    except Exception as exc:  # noqa: BLE001
        first = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise artifact.error(f"OpenVINO cannot cut {rel} to {want_in} -> {want_out}: {first}") from None
    out_shape = model.outputs[0].get_partial_shape()
    if out_shape.is_dynamic or tuple(model.outputs[0].get_shape()) != artifact.output_shape:
        what = (f"{artifact.metadata.n_actions} discrete actions" if artifact.metadata.is_discrete
                else "a continuous [steering, speed] mean")
        raise artifact.error(f"{rel}: output {want_out!r} has shape {out_shape}; model_metadata.json has "
                             f"{what}, so it must be {list(artifact.output_shape)}")
    return model


class OpenVINOEngine:
    """OpenVINO on the CPU from the artifact's IR (``model.xml``; ``model_fp16.xml`` with ``fp16_ir``)."""

    name = "openvino"

    def __init__(self, artifact: Artifact, precision: str = DEFAULT_PRECISION, num_threads: int = 0,
                 fp16_ir: bool = False) -> None:
        if precision not in PRECISIONS:
            raise EngineError(f"unknown precision {precision!r} for openvino; expected one of {list(PRECISIONS)}")
        try:
            import openvino as ov
        except ImportError:
            raise EngineError("engine 'openvino' needs the openvino package, which is not installed "
                              "(use engine 'onnxruntime' or install openvino)") from None
        xml_name = IR_FP16_XML_NAME if fp16_ir else IR_XML_NAME
        if fp16_ir and artifact.kind != "aws" and not artifact.has_fp16_ir:
            raise artifact.error(f"has no FP16 IR ({IR_FP16_XML_NAME}); export it with 'deepracer export --fp16'")
        core = ov.Core()
        if artifact.kind == "aws":
            if fp16_ir:
                raise artifact.error("is an AWS model.pb; it has no FP16 IR (use precision f16 instead)")
            xml_name = str(artifact.manifest.get("model_pb", TF_PB_NAME))
            model = read_tf_policy(artifact)
        else:
            try:
                model = core.read_model(str(artifact.path(xml_name)))
            except RuntimeError as exc:
                raise artifact.error(f"OpenVINO cannot read {xml_name}: {str(exc).splitlines()[0]}") from None
        if len(model.inputs) != 1 or len(model.outputs) != 1:
            raise artifact.error(f"{xml_name} has {len(model.inputs)} inputs and {len(model.outputs)} outputs; "
                                 "expected one of each")
        inp, out = model.inputs[0], model.outputs[0]
        if inp.get_partial_shape().is_dynamic or out.get_partial_shape().is_dynamic:
            raise artifact.error(f"{xml_name} has a dynamic shape ({inp.get_partial_shape()}); expected static")
        _check_shapes(artifact, f"OpenVINO {xml_name}", inp.get_any_name(), inp.get_shape(),
                      out.get_any_name(), out.get_shape(), inp.get_names(), out.get_names())
        config: dict[str, Any] = {"INFERENCE_PRECISION_HINT": precision, "PERFORMANCE_HINT": "LATENCY",
                                  "NUM_STREAMS": 1}
        if num_threads > 0:
            config["INFERENCE_NUM_THREADS"] = int(num_threads)
        self._compiled = core.compile_model(model, "CPU", config)
        self._request = self._compiled.create_infer_request()
        self.precision = precision
        self.layout = artifact.layout
        self.actual_precision = _ov_type_name(self._compiled.get_property("INFERENCE_PRECISION_HINT"))
        self.num_threads = int(self._compiled.get_property("INFERENCE_NUM_THREADS"))

    def infer(self, observation: np.ndarray) -> np.ndarray:
        self._request.infer({0: np.ascontiguousarray(observation, dtype=np.float32)}, share_inputs=True)
        return np.array(self._request.get_output_tensor(0).data[0], dtype=np.float32)


def _ov_type_name(value: Any) -> str:
    text = str(value)
    for long, short in (("bfloat16", "bf16"), ("float16", "f16"), ("float32", "f32")):
        if long in text:
            return short
    return text


class OnnxRuntimeEngine:
    """ONNX Runtime, CPU execution provider, from ``model.onnx`` (f32 only)."""

    name = "onnxruntime"

    def __init__(self, artifact: Artifact, precision: str = DEFAULT_PRECISION, num_threads: int = 0) -> None:
        if precision != "f32":
            raise EngineError(f"engine 'onnxruntime' runs f32 only, not {precision!r}; "
                              "use engine 'openvino' for bf16/f16")
        try:
            import onnxruntime as ort
        except ImportError:
            raise EngineError("engine 'onnxruntime' needs the onnxruntime package, which is not installed") from None
        if artifact.kind == "aws":
            raise EngineError(f"{artifact.source} is an AWS model ({TF_PB_NAME}, no model.onnx): "
                              "it runs on engine 'openvino' only")
        options = ort.SessionOptions()
        options.log_severity_level = 3
        options.inter_op_num_threads = 1
        if num_threads > 0:
            options.intra_op_num_threads = int(num_threads)
        try:
            self._session = ort.InferenceSession(str(artifact.path(ONNX_NAME)), sess_options=options,
                                                 providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types
            raise artifact.error(f"ONNX Runtime cannot load {ONNX_NAME}: {str(exc).splitlines()[0]}") from None
        inputs, outputs = self._session.get_inputs(), self._session.get_outputs()
        if len(inputs) != 1 or len(outputs) != 1:
            raise artifact.error(f"{ONNX_NAME} has {len(inputs)} inputs and {len(outputs)} outputs; expected one of each")
        if not all(isinstance(d, int) for d in list(inputs[0].shape) + list(outputs[0].shape)):
            raise artifact.error(f"{ONNX_NAME} has a dynamic shape ({inputs[0].shape}); expected static")
        _check_shapes(artifact, f"ONNX {ONNX_NAME}", inputs[0].name, inputs[0].shape,
                      outputs[0].name, outputs[0].shape)
        self._input_name, self._output_name = inputs[0].name, outputs[0].name
        self.layout = artifact.layout
        self.precision = self.actual_precision = "f32"
        self.num_threads = int(num_threads)

    def infer(self, observation: np.ndarray) -> np.ndarray:
        return np.asarray(self._session.run([self._output_name], {self._input_name: observation})[0][0],
                          dtype=np.float32)


def create_engine(artifact: Artifact, engine: str = DEFAULT_ENGINE, precision: str = DEFAULT_PRECISION,
                  num_threads: int = 0) -> Engine:
    """The named engine on ``artifact``; unknown names raise :class:`EngineError`."""
    if engine == "openvino":
        return OpenVINOEngine(artifact, precision=precision, num_threads=num_threads)
    if engine == "onnxruntime":
        return OnnxRuntimeEngine(artifact, precision=precision, num_threads=num_threads)
    raise EngineError(f"unknown inference engine {engine!r}; expected one of {list(ENGINES)}")


def cpu_capabilities() -> list[str]:
    """OpenVINO's CPU OPTIMIZATION_CAPABILITIES (e.g. FP32, BF16, FP16, INT8); [] without openvino."""
    try:
        import openvino as ov
    except ImportError:
        return []
    return [str(c) for c in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")]


@dataclass(frozen=True)
class Decision:
    """One inference result.

    action_index: argmax of the probabilities (-1 for continuous spaces).
    probabilities: softmax over the discrete actions (empty for continuous spaces).
    action: continuous spaces: the network's normalised [-1, 1] mean [steering, speed]; empty for discrete.
    steering_deg: steering angle in DEGREES, left positive (DeepRacer's contract).
    speed_m_s: speed in m/s from model_metadata (before any speed scale).
    latency_ms: wall time of preprocessing + inference, milliseconds.
    """

    action_index: int
    probabilities: tuple[float, ...]
    action: tuple[float, ...]
    steering_deg: float
    speed_m_s: float
    latency_ms: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self, **extra: Any) -> str:
        return json.dumps({**self.to_dict(), **extra})


class Policy:
    """An artifact + engine: camera frames in, :class:`Decision` out.

    Frame stack: keeps the last C preprocessed frames, oldest first (channel 0) and newest last;
    the first frame after :meth:`reset` fills every slot.
    """

    def __init__(self, artifact: Artifact, engine: str = DEFAULT_ENGINE, precision: str = DEFAULT_PRECISION,
                 num_threads: int = 0) -> None:
        self.artifact = artifact
        self.metadata = artifact.metadata
        self.engine = create_engine(artifact, engine, precision, num_threads)
        self._frames: collections.deque[np.ndarray] = collections.deque(maxlen=artifact.frame_stack)
        self._input = np.zeros(artifact.input_shape, dtype=np.float32)

    @classmethod
    def from_path(cls, path: str | Path, engine: str = DEFAULT_ENGINE, precision: str = DEFAULT_PRECISION,
                  num_threads: int = 0) -> "Policy":
        """Load, verify and compile an artifact folder or .tar.gz (errors: ArtifactError / EngineError)."""
        if engine not in ENGINES:  # fail before the (slow) checksum pass
            raise EngineError(f"unknown inference engine {engine!r}; expected one of {list(ENGINES)}")
        artifact = load_artifact(path)
        try:
            return cls(artifact, engine, precision, num_threads)
        finally:
            artifact.close()  # the engines hold the model in memory; the extracted files can go

    def reset(self) -> None:
        """Forget the stacked frames (new episode / after a pause)."""
        self._frames.clear()

    def act_stacked(self, obs: np.ndarray) -> np.ndarray:
        """Batched deterministic actions for already-stacked network input (the training env's
        observation): ``(N, 120, 160, C)`` uint8, oldest frame first -> ``(N,)`` int64 argmax indices
        (discrete) or ``(N, 2)`` float32 normalised [-1, 1] means (continuous). No frame history is kept."""
        obs = np.asarray(obs)
        want = (120, 160, self.artifact.frame_stack)
        if obs.ndim != 4 or obs.shape[1:] != want:
            raise ValueError(f"act_stacked: expected (N, {want[0]}, {want[1]}, {want[2]}) frames, got {obs.shape}")
        outs = []
        for frame in obs:
            x = frame[None].astype(np.float32)
            outs.append(self.engine.infer(x if self.artifact.layout == "NHWC" else np.transpose(x, (0, 3, 1, 2))))
        out = np.stack(outs)
        return np.argmax(out, axis=1).astype(np.int64) if self.metadata.is_discrete else out.astype(np.float32)

    def decide(self, image: np.ndarray, encoding: str = "mono8") -> Decision:
        """Camera frame (any size, a supported encoding) -> :class:`Decision`.

        Raises ``preprocess.PreprocessError`` for an image that cannot be used.
        """
        start = time.perf_counter()
        return self._decide(to_network_input(image, encoding), start)

    def decide_preprocessed(self, frame: np.ndarray) -> Decision:
        """Like :meth:`decide` for a frame that is already (120, 160) uint8 network input."""
        return self._decide(frame, time.perf_counter())

    def _decide(self, frame: np.ndarray, start: float) -> Decision:
        if not self._frames:
            self._frames.extend([frame] * self._frames.maxlen)
        else:
            self._frames.append(frame)
        nhwc = self.artifact.layout == "NHWC"
        for i, f in enumerate(self._frames):
            if nhwc:
                self._input[0, :, :, i] = f
            else:
                self._input[0, i] = f
        out = self.engine.infer(self._input)
        if self.metadata.is_discrete:
            index = int(np.argmax(out))
            steering, speed = self.metadata.action_to_drive(index)
            probabilities = tuple(float(p) for p in out)
            action: tuple[float, ...] = ()
        else:
            index = -1
            steering, speed = self.metadata.action_to_drive(out, normalized=True)
            probabilities = ()
            action = tuple(float(v) for v in out)
        return Decision(index, probabilities, action, float(steering), float(speed),
                        (time.perf_counter() - start) * 1e3)


__all__ = ["ENGINES", "PRECISIONS", "ArtifactError", "Decision", "Engine", "EngineError", "OnnxRuntimeEngine",
           "OpenVINOEngine", "Policy", "create_engine", "cpu_capabilities", "read_tf_policy"]
