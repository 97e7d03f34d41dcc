"""The folder of model artifacts the console lists, receives uploads into, and deletes from.

An upload is streamed to a hidden temporary file (``deepracer_common.fileio`` naming) INSIDE ``models_dir`` (so the final step is an
atomic rename on one file system), counted against ``max_bytes`` while it arrives, then opened with
the inference package's artifact loader (:func:`deepracer_inference.artifact.load_artifact`: safe
extraction, manifest, required members, sha256 checksums, metadata vs. shapes). Only an archive
that passes replaces ``<models_dir>/<name>.tar.gz``; a refused upload leaves the folder as it was.

Names are restricted to ``[A-Za-z0-9][A-Za-z0-9._-]*`` (at most 100 characters, no path), so a
name can never leave the folder. Nothing here runs a shell.
"""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import IO, Any

from deepracer_common.fileio import clean_stale_temps, commit_temp, temp_path_for
from deepracer_inference.artifact import TAR_SUFFIXES, ArtifactError, list_artifacts, load_artifact

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
CHUNK_BYTES = 1 << 20
DEFAULT_MAX_UPLOAD_BYTES = 200 * 1024 * 1024


class ModelStoreError(ValueError):
    """A refused upload or request; the message says why in one line. ``status`` is the HTTP status."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def model_name(filename: str) -> str:
    """``my_model.tar.gz`` -> ``my_model``; ModelStoreError for anything else."""
    base = Path(filename or "").name
    for suffix in TAR_SUFFIXES:
        if base.endswith(suffix):
            name = base[: -len(suffix)]
            break
    else:
        raise ModelStoreError(f"upload {filename!r}: expected a model artifact .tar.gz (or .tgz)")
    check_name(name)
    return name


def check_name(name: str) -> str:
    if not NAME_RE.match(name or "") or name in (".", ".."):
        raise ModelStoreError(f"model name {name!r}: use letters, digits, '.', '_' and '-' (at most 100, "
                              "starting with a letter or digit)")
    return name


class ModelStore:
    """Artifacts directly inside ``models_dir`` (created when missing)."""

    def __init__(self, models_dir: str | os.PathLike[str], max_bytes: int = DEFAULT_MAX_UPLOAD_BYTES) -> None:
        self.folder = Path(models_dir).expanduser()
        self.max_bytes = int(max_bytes)
        clean_stale_temps(self.folder)  # uploads cut off by a killed server

    def list(self) -> list[dict[str, Any]]:
        return list_artifacts(self.folder)

    def path_of(self, name: str) -> Path:
        """The artifact called ``name`` (folder or archive); ModelStoreError 404 when absent."""
        check_name(name)
        for entry in self.list():
            if entry["name"] == name:
                return Path(entry["path"])
        raise ModelStoreError(f"model {name!r} is not in {self.folder}", status=404)

    def add(self, stream: IO[bytes], filename: str) -> dict[str, Any]:
        """Receive an upload, verify it, then move it into place; returns its list entry."""
        name = model_name(filename)
        self.folder.mkdir(parents=True, exist_ok=True)
        # the common temp name (clean_stale_temps knows it), ending in .tgz so the loader accepts it
        tmp = temp_path_for(self.folder / f"{name}.tgz")
        try:
            size = 0
            with open(tmp, "xb") as out:
                while True:
                    block = stream.read(CHUNK_BYTES)
                    if not block:
                        break
                    size += len(block)
                    if size > self.max_bytes:
                        raise ModelStoreError(f"upload {filename!r}: larger than the limit of "
                                              f"{self.max_bytes // (1024 * 1024)} MiB", status=413)
                    out.write(block)
                out.flush()
                os.fsync(out.fileno())
            if size == 0:
                raise ModelStoreError(f"upload {filename!r}: the file is empty")
            try:
                artifact = load_artifact(tmp)
            except ArtifactError as exc:
                raise ModelStoreError(f"upload {filename!r} refused: {str(exc).replace(str(tmp), 'the archive')}") \
                    from None
            artifact.close()
            final = self.folder / f"{name}.tar.gz"
            if (self.folder / name).is_dir():
                raise ModelStoreError(f"model {name!r} already exists as a folder in {self.folder}; "
                                      "rename the upload", status=409)
            commit_temp(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return next(e for e in self.list() if e["name"] == name)

    def delete(self, name: str, loaded: Path | None = None) -> None:
        """Remove an artifact; refused (409) for the one the inference node has loaded."""
        path = self.path_of(name)
        if loaded is not None and path.resolve() == loaded.resolve():
            raise ModelStoreError(f"model {name!r} is loaded; select another model (or stop) first", status=409)
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
