"""``deepracer export CHECKPOINT``: a trained SB3 PPO checkpoint -> a model artifact (ONNX + OpenVINO IR).

The artifact format and the graph contract are defined in :mod:`deepracer_inference.artifact`;
this module is the only producer. Steps:

1. Load the checkpoint (:func:`deepracer_agent.checkpoint.make_policy`: the policy rebuilt from the
   checkpoint's own config, weights from ``.npz``; nothing is unpickled) and ``model_metadata.json``
   (``--metadata``, else beside the checkpoint, else in its parent run folders, else the one the
   checkpoint was trained with). Check that the policy's network and action space match the metadata;
   a policy with a frame stack C > 1 gets ``"frame_stack": C`` in the exported metadata unless the
   file already says (and then it must agree).
2. Wrap the policy: ``observation`` float32 (1, C, 120, 160) raw 0-255 -> ``action_probabilities``
   (softmax, discrete) or ``action_mean`` (continuous, normalised [-1, 1]); eval mode (dropout off,
   batch norm running statistics).
3. ``torch.onnx.export`` (dynamo exporter, opset 18, no external data; the legacy exporter as a
   fallback) -> ``model.onnx``; OpenVINO ``convert_model`` + ``save_model`` -> ``model.xml/.bin``
   (FP32) and with ``--fp16`` ``model_fp16.xml/.bin`` (FP16-compressed weights).
4. Self-check on 32 random + 8 structured frames: torch, ONNX Runtime and OpenVINO f32 must choose
   the same action on every frame (discrete) or agree within 1e-4 (continuous); the largest
   probability difference per engine goes into the manifest. A failed check aborts the export.
5. ``manifest.json`` (sha256 of every file, versions, input/output, self-check), then the folder and
   ``<folder>.tar.gz`` appear atomically: everything is built in hidden temp paths beside the
   destination and renamed at the end, so an interrupted export leaves no half artifact.
6. The AWS car files, beside the artifact (skip with ``--no-aws``; single-frame policies only):
   ``model.pb``, a TF frozen graph with AWS's tensor names and NHWC raw 0-255 input, written from the
   torch weights by :mod:`deepracer_agent.frozen_graph` (no TensorFlow needed) and checked like the
   stock car loads it (OpenVINO's TF frontend, AWS's input name, [1, 120, 160, 1]) against torch on
   the same 40 frames (argmax equal, probabilities within 1e-5), packed as ``pb-only-model.tar.gz``
   (model_metadata.json + model.pb: the stock car), ``openvino-model.tar.gz`` (+ model.xml/.bin,
   IR v11, NHWC input: custom cars) and the console/DRfC folder ``<out>_aws_model/``
   (model_metadata.json + agent/model.pb). ``rpi-model.tar.gz`` (model.tflite) is not written: no
   TFLite writer short of TensorFlow itself is a sensible dependency here.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import io
import json
import logging
import os
import platform
import shutil
import sys
import tarfile
import warnings
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from deepracer_common.fileio import commit_temp, make_temp_dir, replace_directory, temp_path_for
from deepracer_inference.artifact import (ARTIFACT_FORMAT, ARTIFACT_FORMAT_VERSION, AWS_AGENT_DIR, AWS_INPUT_NAME,
                                          AWS_OUTPUT_NAME, INPUT_NAME, IR_BIN_NAME, IR_FP16_BIN_NAME, IR_FP16_XML_NAME, IR_XML_NAME,
                                          MANIFEST_NAME, METADATA_NAME, ONNX_NAME, TF_PB_NAME, expected_input_shape,
                                          expected_output, file_checksums, frame_stack_of, sha256_file)
from deepracer_inference.metadata import MetadataError, ModelMetadata
from deepracer_inference.preprocess import NETWORK_HEIGHT_PX, NETWORK_WIDTH_PX

OPSET = 18
CONTINUOUS_TOLERANCE = 1e-4
PB_TOLERANCE = 1e-5          # the frozen graph vs torch: probabilities (discrete) / mean (continuous)

#: The car archives DeepRacer-on-AWS writes (shared/REFERENCE.md), and the console/DRfC folder suffix.
PB_ONLY_ARCHIVE = "pb-only-model.tar.gz"
OPENVINO_ARCHIVE = "openvino-model.tar.gz"
AWS_FOLDER_SUFFIX = "_aws_model"


class ExportError(RuntimeError):
    """The export cannot proceed; the message names the checkpoint/file and the problem."""


@dataclass
class ExportResult:
    """folder / archive: the model artifact; aws: the AWS car files (``pb_only``, ``openvino``,
    ``folder``), empty when they were not written (``aws_skipped`` says why)."""

    folder: Path
    archive: Path
    manifest: dict[str, Any]
    aws: dict[str, Path] = field(default_factory=dict)
    aws_skipped: str | None = None


def aws_outputs(out: Path) -> dict[str, Path]:
    """Where the AWS car files of the artifact ``out`` go: beside it."""
    return {"pb_only": out.parent / PB_ONLY_ARCHIVE, "openvino": out.parent / OPENVINO_ARCHIVE,
            "folder": out.parent / f"{out.name}{AWS_FOLDER_SUFFIX}"}


# ---------------------------------------------------------------------------------------- inputs
def find_metadata(checkpoint: Path, metadata: str | Path | None = None) -> Path | None:
    """``--metadata`` if given, else ``model_metadata.json`` beside the checkpoint or in its parent folders
    (up to two levels: ``run/checkpoints/x.zip`` -> ``run/model_metadata.json``)."""
    if metadata is not None:
        path = Path(metadata).expanduser()
        if not path.is_file():
            raise ExportError(f"--metadata {path}: file not found")
        return path
    for folder in (checkpoint.parent, checkpoint.parent.parent, checkpoint.parent.parent.parent):
        if (folder / METADATA_NAME).is_file():
            return folder / METADATA_NAME
    return None   # the checkpoint's own (its embedded training config)


def load_checkpoint(checkpoint: Path):
    """(checkpoint, policy on the CPU in eval mode) with an :class:`ExportError` naming the file on
    failure (:mod:`deepracer_agent.checkpoint`: nothing is unpickled)."""
    from . import checkpoint as ckpt_format

    try:
        ckpt = ckpt_format.read(checkpoint)
        from .sac import export_view

        return ckpt, export_view(ckpt_format.make_policy(ckpt, device="cpu"))   # SAC: the actor's tanh(mean)
    except ckpt_format.CheckpointError as exc:
        raise ExportError(f"cannot load the checkpoint: {exc}") from None


def check_policy_matches(policy: Any, metadata: ModelMetadata, checkpoint: Path) -> tuple[int, int, int]:
    """Raise :class:`ExportError` unless observation/action spaces fit the metadata; returns (C, H, W)."""
    import gymnasium as gym

    obs_shape = tuple(policy.observation_space.shape or ())
    if len(obs_shape) != 3 or obs_shape[1:] != (NETWORK_HEIGHT_PX, NETWORK_WIDTH_PX):
        raise ExportError(f"{checkpoint}: observation space {obs_shape} is not channel-first (C, 120, 160)")
    if obs_shape[0] != frame_stack_of(metadata):
        raise ExportError(f"{checkpoint}: the policy sees {obs_shape[0]} stacked frame(s) but "
                          f"{metadata.source} says frame_stack {frame_stack_of(metadata)}")
    network = getattr(policy.pi_features_extractor, "network", None)
    if network is not None and network != metadata.neural_network:
        raise ExportError(f"{checkpoint}: the policy is a {network} but {metadata.source} says "
                          f"neural_network {metadata.neural_network}")
    space = policy.action_space
    if metadata.is_discrete:
        if not isinstance(space, gym.spaces.Discrete) or int(space.n) != metadata.n_actions:
            raise ExportError(f"{checkpoint}: action space {space} does not match the {metadata.n_actions} "
                              f"discrete actions of {metadata.source}")
    else:
        if not (isinstance(space, gym.spaces.Box) and space.shape == (2,)
                and np.allclose(space.low, -1.0) and np.allclose(space.high, 1.0)):
            raise ExportError(f"{checkpoint}: a continuous policy must act in Box(-1, 1, (2,)) (normalised "
                              f"[steering, speed], mapped by model_metadata); got {space}")
    return obs_shape  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------- torch side
def exportable_policy(policy: Any, discrete: bool):
    """The policy's actor path as a torch module: raw 0-255 (1, C, 120, 160) -> probabilities or mean."""
    import torch
    from torch import nn

    class ExportablePolicy(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features = policy.pi_features_extractor
            self.mlp = policy.mlp_extractor
            self.head = policy.action_net
            self.scale = 1.0 / 255.0 if policy.normalize_images else 1.0  # our networks divide inside

        def forward(self, observation: torch.Tensor) -> torch.Tensor:
            x = observation * self.scale if self.scale != 1.0 else observation
            out = self.head(self.mlp.forward_actor(self.features(x)))
            return torch.softmax(out, dim=-1) if discrete else out

    module = ExportablePolicy()
    module.eval()
    return module


def export_onnx(module: Any, input_shape: tuple[int, ...], output_name: str, path: Path) -> str:
    """Write a single self-contained ONNX file; returns the exporter used ("dynamo" or "legacy")."""
    import torch

    example = (torch.zeros(input_shape, dtype=torch.float32),)
    kwargs = dict(input_names=[INPUT_NAME], output_names=[output_name], opset_version=OPSET)
    quiet = logging.getLogger("torch.onnx")  # "torchvision is not installed" registration warnings
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    with warnings.catch_warnings(), redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(module, example, str(path), dynamo=True, external_data=False, verbose=False,
                              **kwargs)
            exporter = "dynamo"
        except Exception:  # fall back to the TorchScript exporter; it writes one file for small models
            path.unlink(missing_ok=True)
            torch.onnx.export(module, example, str(path), dynamo=False, **kwargs)
            exporter = "legacy"
        finally:
            quiet.setLevel(level)
    extra = [p.name for p in path.parent.iterdir() if p != path]  # called on an otherwise empty folder
    if extra:
        raise ExportError(f"the ONNX exporter wrote external data files {extra}; expected one self-contained file")
    return exporter


def self_check_frames(frame_stack: int, n_random: int = 32, seed: int = 0) -> np.ndarray:
    """(N, C, 120, 160) float32 raw 0-255: uniform noise plus structured images (black, white, gradients,
    a checkerboard, stripes, a bright road-like band, low-contrast noise)."""
    rng = np.random.default_rng(seed)
    h, w = NETWORK_HEIGHT_PX, NETWORK_WIDTH_PX
    frames = [rng.integers(0, 256, (frame_stack, h, w)).astype(np.float32) for _ in range(n_random)]
    yy, xx = np.mgrid[0:h, 0:w]
    structured = [
        np.zeros((h, w)), np.full((h, w), 255.0),
        255.0 * xx / (w - 1), 255.0 * yy / (h - 1),
        255.0 * (((yy // 10) + (xx // 10)) % 2),
        255.0 * ((xx // 8) % 2),
        np.where(np.abs(xx - w / 2 - (yy - h) * 0.4) < 30 + yy * 0.3, 200.0, 40.0),
        np.clip(128 + rng.normal(0, 8, (h, w)), 0, 255),
    ]
    frames += [np.repeat(np.round(s)[None].astype(np.float32), frame_stack, axis=0) for s in structured]
    return np.stack(frames).astype(np.float32)


def _torch_outputs(module: Any, frames: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad():
        return np.stack([module(torch.from_numpy(f[None]))[0].numpy() for f in frames])


def self_check(folder: Path, module: Any, frames: np.ndarray, discrete: bool, fp16: bool) -> dict[str, Any]:
    """Compare torch with ONNX Runtime and OpenVINO (f32; and the FP16 IR, recorded only) on ``frames``."""
    import onnxruntime as ort
    import openvino as ov

    reference = _torch_outputs(module, frames)
    runners: dict[str, Any] = {}
    session = ort.InferenceSession(str(folder / ONNX_NAME), providers=["CPUExecutionProvider"])
    runners["onnxruntime"] = lambda x: session.run(None, {INPUT_NAME: x})[0][0]
    core = ov.Core()
    compiled = core.compile_model(core.read_model(str(folder / IR_XML_NAME)), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    runners["openvino_f32"] = lambda x: compiled(x)[0][0]
    if fp16:
        compiled16 = core.compile_model(core.read_model(str(folder / IR_FP16_XML_NAME)), "CPU",
                                        {"INFERENCE_PRECISION_HINT": "f32"})
        runners["openvino_fp16_ir"] = lambda x: compiled16(x)[0][0]
    result: dict[str, Any] = {"frames": int(len(frames)), "engines": {}}
    passed = True
    for name, run in runners.items():
        outputs = np.stack([np.asarray(run(f[None])) for f in frames])
        max_diff = float(np.max(np.abs(outputs - reference)))
        entry: dict[str, Any] = {"max_abs_diff": max_diff}
        if discrete:
            agree = int(np.sum(np.argmax(outputs, axis=1) == np.argmax(reference, axis=1)))
            entry["argmax_agree"] = agree
            ok = agree == len(frames)
        else:
            ok = max_diff <= CONTINUOUS_TOLERANCE
        entry["gating"] = name != "openvino_fp16_ir"  # FP16 weights may flip near-ties: recorded, not gating
        entry["ok"] = bool(ok)
        passed &= bool(ok) or not entry["gating"]
        result["engines"][name] = entry
    result["passed"] = bool(passed)
    return result


# ---------------------------------------------------------------------------------------- AWS car files
def layers_from_policy(policy: Any) -> list:
    """The actor path of an SB3 policy with a DeepRacer network as :class:`frozen_graph.Layer` s
    (numpy): convs (batch norm folded in, eval statistics), flatten, dense layers, the action head.

    Raises :class:`ExportError` for a layer the frozen-graph writer does not know.
    """
    from torch import nn

    from .frozen_graph import Layer, fold_batch_norm

    def arr(t: Any) -> np.ndarray:
        return t.detach().cpu().numpy().astype(np.float32)

    features = policy.pi_features_extractor
    modules: list[Any] = []
    for part in (getattr(features, "cnn", None), getattr(features, "linear", None)):
        if part is None:
            raise ExportError(f"the policy's feature extractor {type(features).__name__} is not a DeepRacer "
                              "network (no cnn/linear); cannot write it as a TF frozen graph")
        modules += list(part)
    head = policy.action_net       # squashed policies (networks.TanhHeadView): Sequential(mean, Tanh)
    modules += list(policy.mlp_extractor.policy_net) + (list(head) if isinstance(head, nn.Sequential) else [head])
    layers: list[Any] = []
    i = 0
    while i < len(modules):
        m = modules[i]
        if isinstance(m, nn.Conv2d):
            if m.padding not in ((0, 0), "valid") or m.stride[0] != m.stride[1] or m.dilation != (1, 1) or m.groups != 1:
                raise ExportError(f"convolution {m}: only VALID padding, square strides, no dilation or groups")
            weight, bias = arr(m.weight), (arr(m.bias) if m.bias is not None else np.zeros(m.out_channels, np.float32))
            if i + 1 < len(modules) and isinstance(modules[i + 1], nn.BatchNorm2d):
                bn = modules[i + 1]
                weight, bias = fold_batch_norm(weight, bias, arr(bn.weight), arr(bn.bias), arr(bn.running_mean),
                                               arr(bn.running_var), float(bn.eps))
                i += 1
            layers.append(Layer("conv", weight, bias, int(m.stride[0])))
        elif isinstance(m, nn.Linear):
            bias = arr(m.bias) if m.bias is not None else np.zeros(m.out_features, np.float32)
            layers.append(Layer("dense", arr(m.weight), bias))
        elif isinstance(m, nn.ReLU):
            layers.append(Layer("relu"))
        elif isinstance(m, nn.Tanh):
            layers.append(Layer("tanh"))
        elif isinstance(m, nn.Flatten):
            layers.append(Layer("flatten"))
        elif isinstance(m, (nn.Dropout, nn.Identity)):
            pass  # eval mode: identity
        else:
            raise ExportError(f"layer {type(m).__name__} cannot be written as a TF frozen graph")
        i += 1
    return layers


def _pb_runner(pb: Path, frame_stack: int) -> Any:
    """The frozen graph as the stock car loads it: OpenVINO's TF frontend with AWS's input name and
    the fixed NHWC shape, compiled f32; returns ``run(nchw (1, C, 120, 160)) -> (A,)``."""
    import openvino as ov

    model = ov.convert_model(str(pb), input=[(f"{AWS_INPUT_NAME}:0", [1, NETWORK_HEIGHT_PX, NETWORK_WIDTH_PX,
                                                                       frame_stack])])
    compiled = ov.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    return model, lambda x: compiled(np.ascontiguousarray(np.transpose(x, (0, 2, 3, 1))))[0][0]


def write_aws_files(folder: Path, policy: Any, meta: ModelMetadata, module: Any, frames: np.ndarray,
                    frame_stack: int) -> dict[str, Any]:
    """Write ``model.pb`` (AWS tensor names, NHWC, raw 0-255 input) and its OpenVINO IR (``model.xml``
    / ``.bin``, input NHWC [1, 120, 160, C]) into ``folder`` with ``model_metadata.json``, after checking
    the graph against torch on ``frames``; returns the check (``max_abs_diff``, ``argmax_agree``)."""
    import openvino as ov

    from .frozen_graph import write_frozen_graph

    divisor = 255.0 * (255.0 if getattr(policy, "normalize_images", False) else 1.0)
    write_frozen_graph(folder / TF_PB_NAME, layers_from_policy(policy), in_channels=frame_stack,
                       discrete=meta.is_discrete, input_scale_divisor=divisor)
    model, run = _pb_runner(folder / TF_PB_NAME, frame_stack)
    reference = _torch_outputs(module, frames)
    outputs = np.stack([np.asarray(run(f[None])) for f in frames])
    max_diff = float(np.max(np.abs(outputs - reference)))
    check: dict[str, Any] = {"frames": int(len(frames)), "max_abs_diff": max_diff}
    ok = max_diff <= PB_TOLERANCE
    if meta.is_discrete:
        check["argmax_agree"] = int(np.sum(np.argmax(outputs, axis=1) == np.argmax(reference, axis=1)))
        ok = ok and check["argmax_agree"] == len(frames)
    check["ok"] = bool(ok)
    if not ok:
        raise ExportError(f"the TF frozen graph disagrees with torch: {json.dumps(check)}")
    ov.save_model(model, str(folder / IR_XML_NAME), compress_to_fp16=False)
    meta.save(folder / METADATA_NAME)
    return check


def _tar(path: Path, folder: Path, names: list[str]) -> None:
    """A .tar.gz of ``folder``'s ``names`` at the top of the archive (as DeepRacer-on-AWS packs them)."""
    with tarfile.open(path, "w:gz") as tar:
        for name in names:
            tar.add(folder / name, arcname=name, recursive=False)


# ---------------------------------------------------------------------------------------- artifact
def _versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for module in ("numpy", "torch", "stable_baselines3", "onnx", "onnxscript", "onnxruntime", "openvino"):
        try:
            versions[module] = str(__import__(module).__version__)
        except Exception:  # version is informative only
            versions[module] = "unknown"
    return versions


def export_checkpoint(checkpoint: str | Path, out: str | Path | None = None, metadata: str | Path | None = None,
                      fp16: bool = False, force: bool = False, seed: int = 0, aws: bool = True) -> ExportResult:
    """Export ``checkpoint`` to the artifact folder ``out`` and ``out.tar.gz`` (see the module docstring).

    ``out`` defaults to ``<checkpoint folder>/<checkpoint stem>_artifact``. An existing destination is
    an error unless ``force`` (then it is replaced only after the new artifact is complete).
    With ``aws`` (and a single-frame policy: the stock car feeds one frame) the AWS car files are
    written beside ``out`` too (:func:`aws_outputs`): ``pb-only-model.tar.gz``,
    ``openvino-model.tar.gz`` and the console/DRfC folder ``<out>_aws_model/`` (``agent/model.pb``).
    """
    import openvino as ov

    checkpoint = Path(checkpoint).expanduser()
    if not checkpoint.is_file():
        raise ExportError(f"{checkpoint}: checkpoint not found (expected a .zip written by 'deepracer train')")
    out = Path(out).expanduser() if out is not None else checkpoint.parent / f"{checkpoint.stem}_artifact"
    archive = out.parent / f"{out.name}.tar.gz"
    targets = aws_outputs(out) if aws else {}
    if not force:
        existing = [p for p in (out, archive, *targets.values()) if p.exists()]
        if existing:
            raise ExportError(f"{existing[0]}: already exists; pass --force to replace it")
    metadata_path = find_metadata(checkpoint, metadata)
    ckpt, policy = load_checkpoint(checkpoint)
    try:
        meta = ModelMetadata.load(metadata_path) if metadata_path is not None else ckpt.metadata()
        frame_stack_of(meta)
    except MetadataError as exc:
        raise ExportError(str(exc)) from None
    obs_shape = tuple(policy.observation_space.shape or ())
    if "frame_stack" not in meta.extra and len(obs_shape) == 3 and obs_shape[0] != 1:
        meta.extra["frame_stack"] = int(obs_shape[0])  # AWS files have no such key: record what the policy sees
    c, _, _ = check_policy_matches(policy, meta, checkpoint)
    input_shape = expected_input_shape(meta)
    output_name, output_shape = expected_output(meta)
    module = exportable_policy(policy, meta.is_discrete)

    aws_skipped = None
    if aws and c != 1:
        aws_skipped = (f"the policy sees {c} stacked frames; the stock car feeds one [1, 120, 160, 1] frame, "
                       "so no AWS car files were written")
        targets = {}
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(out.parent).free
    except OSError as exc:
        raise ExportError(f"{out.parent}: cannot create the output folder ({exc.strerror or exc})") from None
    weights = sum(p.numel() * p.element_size() for p in module.parameters()) + \
        sum(b.numel() * b.element_size() for b in module.buffers())
    need = int(weights * ((5.0 if fp16 else 4.0) + (3.0 if targets else 0.0))) + (4 << 20)  # onnx, IR, .tar.gz, AWS files
    if free < need:
        raise ExportError(f"{out.parent}: {free / 1e6:.1f} MB free, the artifact needs about {need / 1e6:.0f} MB; "
                          f"free some space or pass --out on another disk")
    tmp = make_temp_dir(out)
    tmp_archive = temp_path_for(archive)
    tmp_aws = make_temp_dir(out.parent / f"{out.name}.aws") if targets else None
    staged: dict[str, Path] = {}
    try:
        exporter = export_onnx(module, input_shape, output_name, tmp / ONNX_NAME)
        ov_model = ov.convert_model(str(tmp / ONNX_NAME))
        ov.save_model(ov_model, str(tmp / IR_XML_NAME), compress_to_fp16=False)
        if fp16:
            ov.save_model(ov.convert_model(str(tmp / ONNX_NAME)), str(tmp / IR_FP16_XML_NAME), compress_to_fp16=True)
        meta.save(tmp / METADATA_NAME)
        frames = self_check_frames(c, seed=seed)
        check = self_check(tmp, module, frames, meta.is_discrete, fp16)
        if not check["passed"]:
            raise ExportError(f"{checkpoint}: self-check failed, the engines disagree with torch: "
                              f"{json.dumps(check['engines'])}")
        aws_check = None
        if tmp_aws is not None:
            try:
                aws_check = write_aws_files(tmp_aws, policy, meta, module, frames, c)
            except ExportError as exc:
                raise ExportError(f"{checkpoint}: {exc}") from None
        manifest = {
            "format": ARTIFACT_FORMAT,
            "format_version": ARTIFACT_FORMAT_VERSION,
            "created_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "source_checkpoint": {"name": checkpoint.name, "sha256": sha256_file(checkpoint)},
            "neural_network": meta.neural_network,
            "action_space_type": meta.action_space_type,
            "frame_stack": c,
            "input": {"name": INPUT_NAME, "shape": list(input_shape), "dtype": "float32",
                      "layout": "NCHW", "value_range": [0, 255]},
            "output": {"name": output_name, "shape": list(output_shape), "dtype": "float32"},
            "onnx": {"opset": OPSET, "exporter": exporter},
            "openvino_ir": {"fp32": [IR_XML_NAME, IR_BIN_NAME]}
            | ({"fp16": [IR_FP16_XML_NAME, IR_FP16_BIN_NAME]} if fp16 else {}),
            "versions": _versions(),
            "self_check": check,
            "files": file_checksums(tmp),
        }
        if aws_check is not None:
            manifest["aws_model_pb"] = {"input": {"name": AWS_INPUT_NAME, "layout": "NHWC",
                                                  "shape": [1, NETWORK_HEIGHT_PX, NETWORK_WIDTH_PX, c]},
                                        "output": {"name": AWS_OUTPUT_NAME}, "self_check": aws_check,
                                        "sha256": sha256_file(tmp_aws / TF_PB_NAME)}
        with open(tmp / MANIFEST_NAME, "w", encoding="utf-8") as fh:
            json.dump(manifest, fh, indent=2)
            fh.write("\n")
        _make_readable(tmp, *tmp.iterdir())
        with tarfile.open(tmp_archive, "w:gz") as tar:
            for path in sorted(tmp.iterdir()):
                tar.add(path, arcname=f"{out.name}/{path.name}", recursive=False)
        _make_readable(tmp_archive)
        if tmp_aws is not None:
            _stage_aws(tmp_aws, targets, staged)
        replace_directory(tmp, out)
        commit_temp(tmp_archive, archive)
        for key, path in staged.items():
            if path.is_dir():
                replace_directory(path, targets[key])
            else:
                commit_temp(path, targets[key])
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp_archive.unlink(missing_ok=True)
        for path in staged.values():
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
        if isinstance(exc, OSError):             # disk full, quota, folder removed: one line, nothing left
            raise ExportError(f"{out}: cannot write the artifact ({exc.strerror or exc}); nothing was written, "
                              f"an existing artifact there is unchanged") from None
        raise
    finally:
        if tmp_aws is not None:
            shutil.rmtree(tmp_aws, ignore_errors=True)
    return ExportResult(out, archive, manifest, aws=targets, aws_skipped=aws_skipped)


def _stage_aws(files: Path, targets: dict[str, Path], staged: dict[str, Path]) -> None:
    """Hidden temp copies of the AWS car files beside their destinations, recorded in ``staged`` as
    they are made (the caller renames them into place last, or removes them on failure)."""
    pb_only = staged["pb_only"] = temp_path_for(targets["pb_only"])
    _tar(pb_only, files, [METADATA_NAME, TF_PB_NAME])
    ov_archive = staged["openvino"] = temp_path_for(targets["openvino"])
    _tar(ov_archive, files, [METADATA_NAME, TF_PB_NAME, IR_XML_NAME, IR_BIN_NAME])
    folder = staged["folder"] = make_temp_dir(targets["folder"])
    (folder / AWS_AGENT_DIR).mkdir()
    shutil.copyfile(files / METADATA_NAME, folder / METADATA_NAME)
    shutil.copyfile(files / TF_PB_NAME, folder / AWS_AGENT_DIR / TF_PB_NAME)
    _make_readable(pb_only, ov_archive, folder, folder / AWS_AGENT_DIR, folder / METADATA_NAME,
                   folder / AWS_AGENT_DIR / TF_PB_NAME)


def _make_readable(*paths: Path) -> None:
    """mkdtemp/mkstemp create owner-only paths; give the artifact the usual umask permissions."""
    umask = os.umask(0)
    os.umask(umask)
    for path in paths:
        os.chmod(path, (0o777 if path.is_dir() else 0o666) & ~umask)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="deepracer export",
        description="Export a trained PPO checkpoint to a model artifact: model.onnx, OpenVINO IR "
                    "(model.xml/.bin), model_metadata.json and manifest.json, as a folder and a .tar.gz. "
                    "torch, ONNX Runtime and OpenVINO must agree on 40 test frames or the export fails.")
    parser.add_argument("checkpoint", help="checkpoint (.zip) written by 'deepracer train'")
    parser.add_argument("--out", help="artifact folder to create (default: <checkpoint stem>_artifact beside "
                                      "the checkpoint); <out>.tar.gz is written next to it")
    parser.add_argument("--metadata", help="model_metadata.json (default: beside the checkpoint or in its run folder, "
                                           "else the checkpoint's own)")
    parser.add_argument("--fp16", action="store_true", help="also write an FP16-compressed OpenVINO IR")
    parser.add_argument("--force", action="store_true", help="replace an existing artifact")
    parser.add_argument("--no-aws", action="store_true",
                        help="do not write the AWS car files (pb-only-model.tar.gz, openvino-model.tar.gz, "
                             "<out>_aws_model/agent/model.pb)")
    args = parser.parse_args(argv)
    try:
        result = export_checkpoint(args.checkpoint, args.out, args.metadata, fp16=args.fp16, force=args.force,
                                   aws=not args.no_aws)
    except (ExportError, MetadataError) as exc:
        print(f"deepracer export: {exc}", file=sys.stderr)
        return 1
    check = result.manifest["self_check"]
    print(f"artifact: {result.folder}\narchive:  {result.archive}")
    for name, entry in check["engines"].items():
        agree = f", argmax agrees on {entry['argmax_agree']}/{check['frames']}" if "argmax_agree" in entry else ""
        print(f"  self-check {name}: max |diff| {entry['max_abs_diff']:.3g}{agree}")
    if result.aws:
        pb = result.manifest["aws_model_pb"]["self_check"]
        agree = f", argmax agrees on {pb['argmax_agree']}/{pb['frames']}" if "argmax_agree" in pb else ""
        print(f"stock AWS car (upload in its web console): {result.aws['pb_only']}\n"
              f"custom car (OpenVINO IR, NHWC):             {result.aws['openvino']}\n"
              f"console/DRfC model folder:                   {result.aws['folder']}\n"
              f"  self-check model.pb (OpenVINO TF frontend, AWS input name): max |diff| "
              f"{pb['max_abs_diff']:.3g}{agree}")
    elif result.aws_skipped:
        print(f"note: {result.aws_skipped}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
