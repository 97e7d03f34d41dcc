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

Loading never unpickles anything: JSON, ONNX protobuf and OpenVINO IR only. A ``.tar.gz`` is
extracted into a private temporary folder with path-traversal, link and device entries refused.
"""
from __future__ import annotations

import hashlib
import json
import tarfile
import tempfile
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


class ArtifactError(ValueError):
    """An artifact that cannot be used; the message starts with the artifact path and names the problem."""


def frame_stack_of(metadata: ModelMetadata) -> int:
    """Number of stacked camera frames the network takes (``frame_stack`` key, default 1)."""
    value = metadata.extra.get("frame_stack", 1)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise MetadataError(f"{metadata.source}: frame_stack: expected an integer >= 1, got {value!r}")
    return value


def expected_input_shape(metadata: ModelMetadata) -> tuple[int, int, int, int]:
    """``(1, C, 120, 160)``: the network input shape ``metadata`` implies."""
    return (1, frame_stack_of(metadata), NETWORK_HEIGHT_PX, NETWORK_WIDTH_PX)


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
    removed by :meth:`close` or when the object is garbage-collected)."""

    source: Path
    folder: Path
    metadata: ModelMetadata
    manifest: dict[str, Any]
    input_shape: tuple[int, ...]
    output_name: str
    output_shape: tuple[int, ...]
    _tmp: tempfile.TemporaryDirectory | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        """Display name: the folder or archive name without .tar.gz."""
        return _display_name(self.source)

    @property
    def frame_stack(self) -> int:
        return self.input_shape[1]

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
    """True for a folder with a manifest or a file named *.tar.gz / *.tgz (cheap; no verification)."""
    path = Path(path)
    return (path.is_dir() and (path / MANIFEST_NAME).is_file()) or (
        path.is_file() and path.name.endswith(TAR_SUFFIXES))


def safe_extract(archive: str | Path, dest: str | Path) -> Path:
    """Extract a .tar.gz into ``dest`` refusing absolute paths, ``..``, links and special files.

    Returns the folder holding ``manifest.json`` (``dest`` or its single top-level subfolder).
    """
    archive, dest = Path(archive), Path(dest)
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = tar.getmembers()
            for m in members:
                parts = PurePosixPath(m.name).parts
                if m.name.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
                    raise ArtifactError(f"model artifact {archive}: unsafe path {m.name!r} in the archive")
                if not (m.isfile() or m.isdir()):
                    raise ArtifactError(f"model artifact {archive}: archive entry {m.name!r} is a link or "
                                        "special file; only plain files are allowed")
            tar.extractall(dest, members=members, filter="data")
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise ArtifactError(f"model artifact {archive}: cannot read the archive ({exc})") from None
    if (dest / MANIFEST_NAME).is_file():
        return dest
    subdirs = [p for p in dest.iterdir() if p.is_dir()]
    if len(subdirs) == 1 and (subdirs[0] / MANIFEST_NAME).is_file():
        return subdirs[0]
    raise ArtifactError(f"model artifact {archive}: no {MANIFEST_NAME} at the top of the archive")


def load_artifact(path: str | Path, verify_checksums: bool = True) -> Artifact:
    """Open an artifact folder or .tar.gz, verify it, and return an :class:`Artifact`.

    Checks, each failing with :class:`ArtifactError` ``"model artifact <path>: <problem>"``: the
    path exists; the manifest is valid JSON of this format; the required files are present and
    their sha256 match the manifest; ``model_metadata.json`` is valid; the manifest's input and
    output shapes match what the metadata implies (frame stack, 120x160, number of actions). The
    model graphs themselves are checked against the same shapes when an engine loads them.
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
        return _load_folder(source, folder, tmp, verify_checksums)
    except BaseException:
        if tmp is not None:
            tmp.cleanup()
        raise


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
    try:
        metadata = ModelMetadata.load(folder / METADATA_NAME)
        input_shape = expected_input_shape(metadata)
    except MetadataError as exc:
        raise ArtifactError(f"{where}: {exc}") from None
    output_name, output_shape = expected_output(metadata)
    declared_in = manifest.get("input", {})
    declared_out = manifest.get("output", {})
    if declared_in.get("name") != INPUT_NAME or tuple(declared_in.get("shape", ())) != input_shape:
        raise ArtifactError(f"{where}: model input {declared_in.get('name')!r} {declared_in.get('shape')} does not "
                            f"match model_metadata.json, which implies {INPUT_NAME!r} {list(input_shape)} "
                            f"(frame_stack {input_shape[1]}, 120x160)")
    if declared_out.get("name") != output_name or tuple(declared_out.get("shape", ())) != output_shape:
        raise ArtifactError(f"{where}: model output {declared_out.get('name')!r} {declared_out.get('shape')} does not "
                            f"match model_metadata.json, which implies {output_name!r} {list(output_shape)}")
    return Artifact(source=source, folder=folder, metadata=metadata, manifest=manifest,
                    input_shape=input_shape, output_name=output_name, output_shape=output_shape, _tmp=tmp)


def list_artifacts(models_dir: str | Path) -> list[dict[str, Any]]:
    """Artifacts directly inside ``models_dir`` (folders with a manifest, and .tar.gz files), sorted by
    name, each ``{"name", "path", "kind": "folder"|"archive", "action_space_type"?, "created_utc"?}``
    (the last two read from a folder's manifest; archives are not opened). Missing folder -> []."""
    models_dir = Path(models_dir).expanduser()
    if not models_dir.is_dir():
        return []
    found = []
    for path in sorted(models_dir.iterdir()):
        if path.name.startswith(".") or not is_artifact_path(path):
            continue
        entry: dict[str, Any] = {"name": _display_name(path), "path": str(path),
                                 "kind": "folder" if path.is_dir() else "archive"}
        if path.is_dir():
            try:
                manifest = json.loads((path / MANIFEST_NAME).read_text(encoding="utf-8"))
                entry["action_space_type"] = manifest.get("action_space_type")
                entry["created_utc"] = manifest.get("created_utc")
            except (OSError, ValueError):
                entry["error"] = f"unreadable {MANIFEST_NAME}"
        found.append(entry)
    return found

