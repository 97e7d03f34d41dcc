"""The model artifact: what a trained policy becomes to drive a car (numpy only; no torch, no rclpy).

An artifact is a folder (or the same folder packed as ``<name>.tar.gz``) holding::

    model.onnx              the policy as one self-contained ONNX file (no external data)
    model.xml, model.bin    the same graph as OpenVINO IR, FP32 weights
    model_fp16.xml/.bin     optional: OpenVINO IR with FP16-compressed weights (``export --fp16``)
    model_metadata.json     the AWS DeepRacer format (action space, network, sensor...)
    manifest.json           sha256 of every other file, versions, input/output names and shapes,
                            and the exporter's self-check (torch vs ONNX Runtime vs OpenVINO)

Graph contract (INTERFACES.md): input ``observation`` float32 ``(1, C, 120, 160)`` with RAW 0-255
values (C = frame stack; the /255 is inside the graph); output ``action_probabilities`` ``(1, A)``
(softmax) for discrete action spaces, ``action_mean`` ``(1, 2)`` (normalised [-1, 1]) for
continuous ones.

Frame stack: AWS's ``model_metadata.json`` has no such field; this workspace stores it as the
optional top-level key ``frame_stack`` (default 1, kept in ``ModelMetadata.extra``), read by
:func:`frame_stack_of`.

An AWS/DRfC model loads too (``Artifact.kind == "aws"``): a folder or .tar.gz holding
``model_metadata.json`` and the TF frozen graph ``model.pb`` (at the top or as ``agent/model.pb``),
AWS's tensor names (:data:`AWS_INPUT_NAME`, :data:`AWS_OUTPUT_NAME`) and NHWC ``(1, 120, 160, C)``
input; the engine reads the graph through OpenVINO's TensorFlow frontend.

Loading never unpickles anything: JSON, ONNX / TF protobuf and OpenVINO IR only. A ``.tar.gz`` is
checked from its headers before anything is written (:func:`safe_extract`: no path traversal, links
or devices; size limits; only the files the manifest lists, or AWS's known file names) and then
extracted into a private temporary folder.
"""
from __future__ import annotations

import hashlib
import json
import tarfile
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from deepracer_inference.metadata import MetadataError, ModelMetadata
from deepracer_inference.preprocess import NETWORK_HEIGHT_PX, NETWORK_WIDTH_PX

ARTIFACT_FORMAT = "deepracer-model-artifact"
ARTIFACT_FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
METADATA_NAME = "model_metadata.json"
ONNX_NAME = "model.onnx"
IR_XML_NAME = "model.xml"
IR_BIN_NAME = "model.bin"
IR_FP16_XML_NAME = "model_fp16.xml"
IR_FP16_BIN_NAME = "model_fp16.bin"
REQUIRED_FILES = (ONNX_NAME, IR_XML_NAME, IR_BIN_NAME, METADATA_NAME)
INPUT_NAME = "observation"
OUTPUT_DISCRETE = "action_probabilities"
OUTPUT_CONTINUOUS = "action_mean"
TAR_SUFFIXES = (".tar.gz", ".tgz")

#: AWS's car contract (shared/REFERENCE.md): a TF frozen graph ``model.pb``, NHWC [1, 120, 160, 1]
#: raw 0-255 input and the policy output under these tensor names.
TF_PB_NAME = "model.pb"
AWS_AGENT_DIR = "agent"
AWS_INPUT_NAME = "main_level/agent/main/online/network_0/FRONT_FACING_CAMERA/FRONT_FACING_CAMERA"
AWS_OUTPUT_NAME = "main_level/agent/main/online/network_1/ppo_head_0/policy"
#: Files an AWS/DRfC model archive (no manifest) may hold: the car archives DeepRacer-on-AWS writes
#: (pb-only / openvino / rpi), the stock car's checksum, and what a console download adds.
AWS_MEMBER_NAMES = frozenset({TF_PB_NAME, METADATA_NAME, IR_XML_NAME, IR_BIN_NAME, "model.tflite", "checksum.txt",
                              "hyperparameters.json", "reward_function.py", "training_params.yaml"})

#: Limits checked on the archive's headers before anything is extracted (a SHALLOW model is ~23 MB
#: per graph file; an artifact with ONNX + IR + FP16 IR ~80 MB).
MAX_ARCHIVE_MEMBERS = 64
MAX_MEMBER_BYTES = 256 << 20
MAX_ARCHIVE_BYTES = 1 << 30
MAX_MANIFEST_BYTES = 1 << 20


class ArtifactError(ValueError):
    """An artifact that cannot be used; the message starts with the artifact path and names the problem."""


def frame_stack_of(metadata: ModelMetadata) -> int:
    """Number of stacked camera frames the network takes (``frame_stack`` key, default 1)."""
    value = metadata.extra.get("frame_stack", 1)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise MetadataError(f"{metadata.source}: frame_stack: expected an integer >= 1, got {value!r}")
    return value


def expected_input_shape(metadata: ModelMetadata, layout: str = "NCHW") -> tuple[int, int, int, int]:
    """``(1, C, 120, 160)`` (NCHW, this workspace's graphs) or ``(1, 120, 160, C)`` (NHWC, AWS's):
    the network input shape ``metadata`` implies."""
    c = frame_stack_of(metadata)
    if layout == "NHWC":
        return (1, NETWORK_HEIGHT_PX, NETWORK_WIDTH_PX, c)
    return (1, c, NETWORK_HEIGHT_PX, NETWORK_WIDTH_PX)


def layout_of(shape: tuple[int, ...] | list[int]) -> str | None:
    """"NCHW" for ``(1, C, 120, 160)``, "NHWC" for ``(1, 120, 160, C)``, None for anything else."""
    shape = tuple(shape)
    if len(shape) != 4 or shape[0] != 1:
        return None
    if shape[2:] == (NETWORK_HEIGHT_PX, NETWORK_WIDTH_PX):
        return "NCHW"
    if shape[1:3] == (NETWORK_HEIGHT_PX, NETWORK_WIDTH_PX):
        return "NHWC"
    return None


def expected_output(metadata: ModelMetadata) -> tuple[str, tuple[int, int]]:
    """(output name, shape) ``metadata`` implies: ``action_probabilities (1, A)`` or ``action_mean (1, 2)``."""
    if metadata.is_discrete:
        return OUTPUT_DISCRETE, (1, metadata.n_actions)
    return OUTPUT_CONTINUOUS, (1, 2)


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_checksums(folder: str | Path) -> dict[str, dict[str, Any]]:
    """``{name: {"sha256", "bytes"}}`` for every plain file in ``folder`` except the manifest."""
    folder = Path(folder)
    return {p.name: {"sha256": sha256_file(p), "bytes": p.stat().st_size}
            for p in sorted(folder.iterdir()) if p.is_file() and p.name != MANIFEST_NAME}


@dataclass
class Artifact:
    """A loaded, checksum-verified artifact. ``folder`` holds the files (a temp folder for a .tar.gz,
    removed by :meth:`close` or when the object is garbage-collected).

    ``kind``: "artifact" (this workspace's format, with a manifest) or "aws" (an AWS/DRfC model:
    ``model.pb`` + ``model_metadata.json``, no manifest; ``pb_path`` is its frozen graph, read by
    OpenVINO's TensorFlow frontend). ``input_shape`` gives the layout (NCHW or NHWC, :func:`layout_of`).
    """

    source: Path
    folder: Path
    metadata: ModelMetadata
    manifest: dict[str, Any]
    input_shape: tuple[int, ...]
    output_name: str
    output_shape: tuple[int, ...]
    _tmp: tempfile.TemporaryDirectory | None = field(default=None, repr=False)
    kind: str = "artifact"
    input_name: str = INPUT_NAME
    pb_path: Path | None = None

    @property
    def name(self) -> str:
        """Display name: the folder or archive name without .tar.gz."""
        return _display_name(self.source)

    @property
    def layout(self) -> str:
        """"NCHW" or "NHWC": where the frame-stack channel sits in :attr:`input_shape`."""
        return layout_of(self.input_shape) or "NCHW"

    @property
    def frame_stack(self) -> int:
        return self.input_shape[3] if self.layout == "NHWC" else self.input_shape[1]

    def path(self, name: str) -> Path:
        return self.folder / name

    @property
    def has_fp16_ir(self) -> bool:
        return IR_FP16_XML_NAME in self.manifest.get("files", {})

    def error(self, problem: str) -> ArtifactError:
        """An :class:`ArtifactError` naming this artifact."""
        return ArtifactError(f"model artifact {self.source}: {problem}")

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


def _display_name(path: Path) -> str:
    name = path.name
    for suffix in TAR_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def is_artifact_path(path: str | Path) -> bool:
    """True for a folder with a manifest, an AWS/DRfC model folder, or a file named *.tar.gz / *.tgz
    (cheap; no verification)."""
    path = Path(path)
    return (path.is_dir() and ((path / MANIFEST_NAME).is_file() or find_aws_layout(path) is not None)) or (
        path.is_file() and path.name.endswith(TAR_SUFFIXES))


def find_aws_layout(folder: str | Path) -> Path | None:
    """The ``model.pb`` of an AWS/DRfC model folder (``model_metadata.json`` beside ``model.pb`` or
    ``agent/model.pb``), or None when ``folder`` is not one."""
    folder = Path(folder)
    if not (folder / METADATA_NAME).is_file():
        return None
    for candidate in (folder / TF_PB_NAME, folder / AWS_AGENT_DIR / TF_PB_NAME):
        if candidate.is_file():
            return candidate
    return None


def _member_parts(archive: Path, m: tarfile.TarInfo) -> tuple[str, ...]:
    parts = PurePosixPath(m.name).parts
    if m.name.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]) or "\\" in m.name:
        raise ArtifactError(f"model artifact {archive}: unsafe path {m.name!r} in the archive")
    if not (m.isfile() or m.isdir()) or m.issparse():
        raise ArtifactError(f"model artifact {archive}: archive entry {m.name!r} is a link or "
                            "special file; only plain files are allowed")
    return parts


def _scan_members(archive: Path, tar: tarfile.TarFile) -> list[tuple[tarfile.TarInfo, tuple[str, ...]]]:
    """Every entry's header, checked for safety and against the size limits BEFORE anything is
    extracted (headers are read one by one, so a bomb is refused at the first header past a limit)."""
    where = f"model artifact {archive}"
    seen: set[tuple[str, ...]] = set()
    out: list[tuple[tarfile.TarInfo, tuple[str, ...]]] = []
    total = 0
    for m in tar:
        parts = _member_parts(archive, m)
        if len(out) >= MAX_ARCHIVE_MEMBERS:
            raise ArtifactError(f"{where}: more than {MAX_ARCHIVE_MEMBERS} entries; a model archive holds a few files")
        if m.isfile():
            if m.size > MAX_MEMBER_BYTES:
                raise ArtifactError(f"{where}: {m.name!r} is {m.size} bytes, more than the "
                                    f"{MAX_MEMBER_BYTES >> 20} MiB allowed per file")
            total += m.size
            if total > MAX_ARCHIVE_BYTES:
                raise ArtifactError(f"{where}: its files add up to more than {MAX_ARCHIVE_BYTES >> 20} MiB "
                                    "(the limit for a model archive)")
            if parts in seen:
                raise ArtifactError(f"{where}: {m.name!r} appears twice in the archive")
            seen.add(parts)
        out.append((m, parts))
    return out


def _archive_root(entries: list[tuple[tarfile.TarInfo, tuple[str, ...]]]) -> tuple[str, ...]:
    """() for files at the top of the archive, or (name,) when everything sits in one top folder that
    holds the model (manifest.json or model_metadata.json)."""
    files = [parts for m, parts in entries if m.isfile()]
    tops = {parts[0] for parts in files if len(parts) > 1}
    if len(tops) == 1 and all(len(parts) > 1 for parts in files):
        top = next(iter(tops))
        if any(parts[1:] in ((MANIFEST_NAME,), (METADATA_NAME,)) for parts in files):
            return (top,)
    return ()


def safe_extract(archive: str | Path, dest: str | Path) -> Path:
    """Check, then extract, a model .tar.gz into ``dest``; returns the folder holding the model.

    Before anything is written: absolute paths, ``..``, links and special files are refused; at most
    :data:`MAX_ARCHIVE_MEMBERS` entries, :data:`MAX_MEMBER_BYTES` per file and
    :data:`MAX_ARCHIVE_BYTES` in all. A model artifact (``manifest.json`` at the top or in one top
    folder) may hold only the files its manifest lists, each of the size the manifest records; an
    AWS/DRfC archive without a manifest only the known names :data:`AWS_MEMBER_NAMES` (at the top or
    under ``agent/``). Returns ``dest`` or the archive's single top-level folder.
    """
    archive, dest = Path(archive), Path(dest)
    where = f"model artifact {archive}"
    try:
        with tarfile.open(archive, "r:gz") as tar:
            entries = _scan_members(archive, tar)
            root = _archive_root(entries)
            by_name = {parts[len(root):]: m for m, parts in entries if m.isfile() and parts[:len(root)] == root}
            manifest_member = by_name.get((MANIFEST_NAME,))
            if manifest_member is not None:
                allowed = _manifest_sizes(archive, tar, manifest_member)
            else:
                allowed = {}
                stray = [m.name for m, parts in entries if m.isfile() and parts[-1] == MANIFEST_NAME]
                if stray:
                    raise ArtifactError(f"{where}: {stray[0]!r}: a model artifact keeps {MANIFEST_NAME} and every "
                                        "file it lists at the top of the archive or in one top folder")
            for m, parts in entries:
                rel = parts[len(root):] if parts[:len(root)] == root else None
                if m.isdir():
                    if rel is None or (rel and (manifest_member is not None or rel != (AWS_AGENT_DIR,))):
                        raise ArtifactError(f"{where}: unexpected folder {m.name!r} in the archive")
                    continue
                if manifest_member is not None:
                    name = rel[0] if rel is not None and len(rel) == 1 else None
                    if name is None or (name != MANIFEST_NAME and name not in allowed):
                        raise ArtifactError(f"{where}: {m.name!r} is not listed in {MANIFEST_NAME}; "
                                            "refusing to extract files the manifest does not describe")
                    if name != MANIFEST_NAME and allowed[name] is not None and m.size != allowed[name]:
                        raise ArtifactError(f"{where}: {m.name!r} is {m.size} bytes but {MANIFEST_NAME} "
                                            f"says {allowed[name]}")
                elif rel is None or not (len(rel) == 1 and rel[0] in AWS_MEMBER_NAMES
                                         or rel == (AWS_AGENT_DIR, TF_PB_NAME)):
                    raise ArtifactError(f"{where}: unexpected file {m.name!r}; an archive without {MANIFEST_NAME} "
                                        f"(AWS/DRfC model) may hold only {sorted(AWS_MEMBER_NAMES)} and "
                                        f"{AWS_AGENT_DIR}/{TF_PB_NAME}")
            tar.extractall(dest, members=[m for m, _ in entries], filter="data")
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise ArtifactError(f"{where}: cannot read the archive ({exc})") from None
    folder = dest.joinpath(*root)
    if (folder / MANIFEST_NAME).is_file() or find_aws_layout(folder) is not None:
        return folder
    raise ArtifactError(f"{where}: no {MANIFEST_NAME} (a model artifact) and no {TF_PB_NAME} + {METADATA_NAME} "
                        f"(an AWS/DRfC model) at the top of the archive")


def _manifest_sizes(archive: Path, tar: tarfile.TarFile, member: tarfile.TarInfo) -> dict[str, int | None]:
    """``{file name: bytes}`` from the archive's manifest, read before extraction."""
    where = f"model artifact {archive}"
    if member.size > MAX_MANIFEST_BYTES:
        raise ArtifactError(f"{where}: {MANIFEST_NAME} is {member.size} bytes; a manifest is a few KiB")
    fh = tar.extractfile(member)
    assert fh is not None  # a regular file
    try:
        manifest = json.loads(fh.read().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"{where}: {MANIFEST_NAME} is not valid JSON ({exc})") from None
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict):
        raise ArtifactError(f"{where}: {MANIFEST_NAME}: 'files' must be an object of name -> {{sha256, bytes}}")
    sizes: dict[str, int | None] = {}
    for name, entry in files.items():
        size = entry.get("bytes") if isinstance(entry, dict) else None
        sizes[str(name)] = size if isinstance(size, int) and not isinstance(size, bool) else None
    return sizes


def load_artifact(path: str | Path, verify_checksums: bool = True) -> Artifact:
    """Open an artifact folder or .tar.gz, verify it, and return an :class:`Artifact`.

    Checks, each failing with :class:`ArtifactError` ``"model artifact <path>: <problem>"``: the
    path exists; the manifest is valid JSON of this format; the required files are present and
    their sha256 match the manifest; ``model_metadata.json`` is valid; the manifest's input and
    output shapes match what the metadata implies (frame stack, 120x160, number of actions). The
    model graphs themselves are checked against the same shapes when an engine loads them.

    An AWS/DRfC model (folder or .tar.gz with ``model_metadata.json`` and ``model.pb`` or
    ``agent/model.pb``, no manifest) loads as ``kind="aws"``: its metadata is validated here, its
    graph (AWS's tensor names, NHWC) by :class:`deepracer_inference.engine.OpenVINOEngine`.
    """
    source = Path(path).expanduser()
    where = f"model artifact {source}"
    if not source.exists():
        raise ArtifactError(f"{where}: not found")
    tmp: tempfile.TemporaryDirectory | None = None
    if source.is_dir():
        folder = source
    elif source.name.endswith(TAR_SUFFIXES):
        tmp = tempfile.TemporaryDirectory(prefix="deepracer_artifact_")
        try:
            folder = safe_extract(source, tmp.name)
        except BaseException:
            tmp.cleanup()
            raise
    else:
        raise ArtifactError(f"{where}: expected an artifact folder or a .tar.gz file")
    try:
        if not (folder / MANIFEST_NAME).is_file():
            pb = find_aws_layout(folder)
            if pb is not None:
                return _load_aws_folder(source, folder, pb, tmp)
            if source.is_dir():
                raise ArtifactError(f"{where}: neither a model artifact (no {MANIFEST_NAME}) nor an AWS/DRfC "
                                    f"model ({TF_PB_NAME} or {AWS_AGENT_DIR}/{TF_PB_NAME} beside {METADATA_NAME})")
        return _load_folder(source, folder, tmp, verify_checksums)
    except BaseException:
        if tmp is not None:
            tmp.cleanup()
        raise


def _load_aws_folder(source: Path, folder: Path, pb: Path, tmp: tempfile.TemporaryDirectory | None) -> Artifact:
    """An AWS/DRfC model: validated metadata; the graph's names and shapes are checked by the engine."""
    try:
        metadata = ModelMetadata.load(folder / METADATA_NAME)
        input_shape = expected_input_shape(metadata, "NHWC")
    except MetadataError as exc:
        raise ArtifactError(f"model artifact {source}: {exc}") from None
    _, output_shape = expected_output(metadata)
    manifest = {"format": "aws-deepracer-model", "files": {}, "model_pb": str(pb.relative_to(folder))}
    return Artifact(source=source, folder=folder, metadata=metadata, manifest=manifest, input_shape=input_shape,
                    output_name=AWS_OUTPUT_NAME, output_shape=output_shape, _tmp=tmp, kind="aws",
                    input_name=AWS_INPUT_NAME, pb_path=pb)


def _load_folder(source: Path, folder: Path, tmp: tempfile.TemporaryDirectory | None,
                 verify_checksums: bool) -> Artifact:
    where = f"model artifact {source}"
    manifest_path = folder / MANIFEST_NAME
    if not manifest_path.is_file():
        raise ArtifactError(f"{where}: missing file {MANIFEST_NAME}")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"{where}: {MANIFEST_NAME} is not valid JSON ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != ARTIFACT_FORMAT:
        raise ArtifactError(f"{where}: {MANIFEST_NAME} is not a {ARTIFACT_FORMAT} manifest")
    if manifest.get("format_version") != ARTIFACT_FORMAT_VERSION:
        raise ArtifactError(f"{where}: {MANIFEST_NAME}: format_version {manifest.get('format_version')!r} "
                            f"is not supported (this reader knows {ARTIFACT_FORMAT_VERSION})")
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise ArtifactError(f"{where}: {MANIFEST_NAME}: 'files' must be an object of name -> {{sha256, bytes}}")
    for name in REQUIRED_FILES:
        if name not in files:
            raise ArtifactError(f"{where}: {MANIFEST_NAME} does not list the required file {name}")
    for name, entry in files.items():
        if PurePosixPath(name).name != name or name in ("", ".", ".."):
            raise ArtifactError(f"{where}: {MANIFEST_NAME}: file name {name!r} is not a plain file name")
        file_path = folder / name
        if not file_path.is_file():
            raise ArtifactError(f"{where}: missing file {name}")
        if verify_checksums:
            expected = entry.get("sha256") if isinstance(entry, dict) else None
            actual = sha256_file(file_path)
            if actual != expected:
                raise ArtifactError(f"{where}: checksum mismatch for {name} (manifest sha256 {expected}, "
                                    f"file sha256 {actual}); the file was modified or corrupted")
    declared_in = manifest.get("input", {})
    declared_out = manifest.get("output", {})
    declared_in = declared_in if isinstance(declared_in, dict) else {}
    declared_out = declared_out if isinstance(declared_out, dict) else {}
    try:
        layout = layout_of(tuple(declared_in.get("shape", ()))) or "NCHW"
    except TypeError:
        layout = "NCHW"
    try:
        metadata = ModelMetadata.load(folder / METADATA_NAME)
        input_shape = expected_input_shape(metadata, layout)
    except MetadataError as exc:
        raise ArtifactError(f"{where}: {exc}") from None
    output_name, output_shape = expected_output(metadata)
    if declared_in.get("name") != INPUT_NAME or tuple(declared_in.get("shape", ())) != input_shape:
        raise ArtifactError(f"{where}: model input {declared_in.get('name')!r} {declared_in.get('shape')} does not "
                            f"match model_metadata.json, which implies {INPUT_NAME!r} {list(input_shape)} "
                            f"(frame_stack {frame_stack_of(metadata)}, 120x160, {layout})")
    if declared_out.get("name") != output_name or tuple(declared_out.get("shape", ())) != output_shape:
        raise ArtifactError(f"{where}: model output {declared_out.get('name')!r} {declared_out.get('shape')} does not "
                            f"match model_metadata.json, which implies {output_name!r} {list(output_shape)}")
    return Artifact(source=source, folder=folder, metadata=metadata, manifest=manifest,
                    input_shape=input_shape, output_name=output_name, output_shape=output_shape, _tmp=tmp)


def list_artifacts(models_dir: str | Path) -> list[dict[str, Any]]:
    """Artifacts directly inside ``models_dir`` (folders with a manifest, AWS/DRfC model folders, and
    .tar.gz files), sorted by name, each ``{"name", "path", "kind": "folder"|"archive",
    "action_space_type"?, "created_utc"?}`` (the last two read from a folder's manifest; an AWS
    folder has ``"format": "aws"``; archives are not opened). Missing folder -> []."""
    models_dir = Path(models_dir).expanduser()
    if not models_dir.is_dir():
        return []
    found = []
    for path in sorted(models_dir.iterdir()):
        if path.name.startswith(".") or not is_artifact_path(path):
            continue
        entry: dict[str, Any] = {"name": _display_name(path), "path": str(path),
                                 "kind": "folder" if path.is_dir() else "archive"}
        if path.is_dir() and not (path / MANIFEST_NAME).exists():
            entry["format"] = "aws"          # an AWS/DRfC model folder (model.pb + model_metadata.json)
        elif path.is_dir():
            try:
                manifest = json.loads((path / MANIFEST_NAME).read_text(encoding="utf-8"))
                entry["action_space_type"] = manifest.get("action_space_type")
                entry["created_utc"] = manifest.get("created_utc")
            except (OSError, ValueError):
                entry["error"] = f"unreadable {MANIFEST_NAME}"
        found.append(entry)
    return found

