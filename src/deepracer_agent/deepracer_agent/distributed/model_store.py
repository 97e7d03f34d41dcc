"""Versioned, checksummed model store: a local folder or an S3-compatible bucket (AWS, MinIO, moto).

Layout (keys relative to the store's prefix)::

    models/v000012/policy.npz            policy weights (numpy .npz, loaded with allow_pickle=False)
    models/v000012/model_metadata.json   the AWS model_metadata.json
    models/v000012/training_config.json  the resolved training config
    models/v000012/...                   anything else the trainer adds (its optimizer state, ...)
    models/v000012/manifest.json         written LAST: {"version", "created_unix_s", "objects": {name: {sha256, size}}}
    latest                               {"version": 12}, written after the manifest

Publication is atomic for readers: a version without a manifest does not exist, and every object
a manifest lists was written before it. Readers verify each object's size and sha256 against the
manifest before anything is loaded; a mismatch raises :class:`CorruptModelError` and the caller
keeps the version it already has. Objects are immutable: a version is never rewritten.

Credentials for S3 come from the standard AWS chain (environment, ~/.aws, instance role) through
boto3; this module never reads, stores or logs them. Nothing here unpickles anything.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deepracer_common.fileio import atomic_write_bytes

from ..checkpoint import dump_npz, load_npz  # noqa: F401  (re-exported: the store's .npz objects)

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
LATEST = "latest"
_VERSION_RE = re.compile(r"^v(\d{6,})$")


class ModelStoreError(RuntimeError):
    """The store is unreachable or a requested version does not exist."""


class StoreAccessError(ModelStoreError):
    """The store refuses this client (wrong or missing credentials, access denied): retrying
    cannot help, so workers and evaluators stop with this message instead of waiting."""


#: S3 error codes that mean "these credentials will never work here".
ACCESS_ERROR_CODES = frozenset({"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "ExpiredToken",
                                "InvalidToken", "TokenRefreshRequired", "AllAccessDisabled", "InvalidClientTokenId",
                                "UnrecognizedClientException", "AuthorizationHeaderMalformed", "NoSuchBucket"})


class CorruptModelError(ModelStoreError):
    """An object does not match its manifest (size or sha256), or the manifest is unreadable."""


def version_prefix(version: int) -> str:
    return f"models/v{version:06d}/"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class ModelVersion:
    """A verified version: ``objects`` maps names to their bytes (all checksums already checked)."""

    version: int
    manifest: dict[str, Any]
    objects: dict[str, bytes]

    def json(self, name: str) -> Any:
        return json.loads(self.objects[name])

    def arrays(self, name: str) -> dict[str, np.ndarray]:
        return load_npz(self.objects[name])


class ModelStore:
    """The interface; backends implement the four raw operations ``_put/_get/_list_versions/_delete``."""

    url: str

    # -- raw operations (backend) ------------------------------------------------------------
    def _put(self, key: str, data: bytes) -> None: raise NotImplementedError
    def _get(self, key: str) -> bytes | None: raise NotImplementedError  # None if absent
    def _list_versions(self) -> list[int]: raise NotImplementedError
    def _delete(self, key: str) -> None: raise NotImplementedError  # absent is not an error

    # -- publication -------------------------------------------------------------------------
    def publish(self, version: int, objects: dict[str, bytes]) -> dict[str, Any]:
        """Write ``objects`` as ``version``: objects first, the manifest last, then ``latest``.

        Refuses to overwrite an existing version (versions are immutable)."""
        if version < 0:
            raise ValueError("version must be >= 0")
        if MANIFEST in objects or any("/" in n or n.startswith(".") for n in objects):
            raise ValueError(f"object names must be plain file names other than {MANIFEST!r}")
        prefix = version_prefix(version)
        if self._get(prefix + MANIFEST) is not None:
            raise ModelStoreError(f"{self.url}: version {version} already exists")
        for name, data in objects.items():
            self._put(prefix + name, data)
        manifest = {"version": version, "created_unix_s": time.time(),
                    "objects": {n: {"sha256": sha256(d), "size": len(d)} for n, d in objects.items()}}
        self._put(prefix + MANIFEST, json.dumps(manifest, indent=1).encode())
        current = self.latest_pointer()
        if current is None or version > current:
            self._put(LATEST, json.dumps({"version": version}).encode())
        log.info("published model version %d to %s (%d objects)", version, self.url, len(objects))
        return manifest

    # -- reading -----------------------------------------------------------------------------
    def latest_pointer(self) -> int | None:
        """The version ``latest`` points at (not verified), or None for an empty store."""
        raw = self._get(LATEST)
        if raw is None:
            return None
        try:
            return int(json.loads(raw)["version"])
        except (ValueError, KeyError, TypeError) as exc:
            raise CorruptModelError(f"{self.url}: the 'latest' pointer is unreadable") from exc

    def versions(self) -> list[int]:
        """Versions that have a manifest (i.e. were completely published), ascending."""
        return sorted(v for v in self._list_versions() if self._get(version_prefix(v) + MANIFEST) is not None)

    def load(self, version: int, names: list[str] | None = None) -> ModelVersion:
        """Fetch and verify ``version`` (only ``names`` if given). Raises CorruptModelError."""
        prefix = version_prefix(version)
        raw = self._get(prefix + MANIFEST)
        if raw is None:
            raise ModelStoreError(f"{self.url}: version {version} does not exist (no manifest)")
        try:
            manifest = json.loads(raw)
            entries = manifest["objects"]
        except (ValueError, KeyError, TypeError) as exc:
            raise CorruptModelError(f"{self.url}: manifest of version {version} is unreadable") from exc
        objects = {}
        for name in (names if names is not None else list(entries)):
            if name not in entries:
                raise ModelStoreError(f"{self.url}: version {version} has no object {name!r}")
            data = self._get(prefix + name)
            if data is None:
                raise CorruptModelError(f"{self.url}: object {prefix + name} listed in the manifest is missing")
            if len(data) != entries[name]["size"] or sha256(data) != entries[name]["sha256"]:
                raise CorruptModelError(f"{self.url}: object {prefix + name} fails its checksum "
                                        f"({len(data)} bytes, manifest says {entries[name]['size']})")
            objects[name] = data
        return ModelVersion(version, manifest, objects)

    def policy_sha256(self, version: int) -> str | None:
        """The sha256 of ``version``'s ``policy.npz`` from its manifest (None if absent/unreadable)."""
        raw = self._get(version_prefix(version) + MANIFEST)
        try:
            return str(json.loads(raw)["objects"]["policy.npz"]["sha256"]) if raw is not None else None
        except (ValueError, KeyError, TypeError):
            return None

    def load_latest_valid(self, names: list[str] | None = None) -> ModelVersion | None:
        """The newest version that verifies, walking back past corrupted ones; None if none."""
        for v in reversed(self.versions()):
            try:
                return self.load(v, names)
            except CorruptModelError as exc:
                log.error("skipping model version %d: %s", v, exc)
        return None

    def next_version(self) -> int:
        """One more than every version that exists (valid or not), so nothing is overwritten."""
        known = self._list_versions()
        ptr = self.latest_pointer()
        return max(known + ([ptr] if ptr is not None else []), default=-1) + 1

    # -- side records (not versioned models: evaluations) ---------------------------------------
    def put_record(self, key: str, data: bytes) -> None:
        """Write a non-model record such as ``evaluations/v000012.json`` (atomic per object)."""
        if key.startswith("models/") or key == LATEST:
            raise ValueError("records may not be written under models/ or to latest")
        self._put(key, data)

    def get_record(self, key: str) -> bytes | None:
        return self._get(key)

    def delete_record(self, key: str) -> None:
        if key.startswith("models/") or key == LATEST:
            raise ValueError("records may not be deleted under models/ or latest (use delete_version)")
        self._delete(key)

    # -- deletion (retention) ------------------------------------------------------------------
    def delete_version(self, version: int) -> None:
        """Delete ``version``: its manifest FIRST (from then on the version does not exist for any
        reader, which never loads a version without a manifest), then the objects it listed.
        Refuses the version ``latest`` points at. Callers decide which versions are safe to delete
        (:mod:`.retention`: newest K, best scores and readers' leases are never deleted)."""
        if version == self.latest_pointer():
            raise ModelStoreError(f"{self.url}: version {version} is the latest; it is never deleted")
        prefix = version_prefix(version)
        raw = self._get(prefix + MANIFEST)
        names: list[str] = []
        if raw is not None:
            try:
                names = list(json.loads(raw)["objects"])
            except (ValueError, KeyError, TypeError):
                names = []
        self._delete(prefix + MANIFEST)
        for name in names:
            self._delete(prefix + name)
        self._delete_prefix(prefix)   # whatever else is left (unlisted temp objects, the folder)
        log.info("deleted model version %d from %s", version, self.url)

    def _delete_prefix(self, prefix: str) -> None:
        """Remove what is left under ``prefix`` (backend-specific)."""


class LocalFolderStore(ModelStore):
    """A folder on disk; every write is atomic (deepracer_common.fileio: temp file, fsync, ``os.replace``)."""

    def __init__(self, root: str | Path):
        self.root = Path(root).expanduser().resolve()
        self.url = str(self.root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        p = (self.root / key).resolve()
        if self.root not in p.parents:
            raise ValueError(f"key {key!r} escapes the store folder")
        return p

    def _put(self, key: str, data: bytes) -> None:
        atomic_write_bytes(self._path(key), data)

    def _get(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None

    def _delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def _delete_prefix(self, prefix: str) -> None:
        import shutil

        d = self._path(prefix.rstrip("/"))
        if d.is_dir():
            shutil.rmtree(d, ignore_errors=True)

    def _list_versions(self) -> list[int]:
        d = self.root / "models"
        if not d.is_dir():
            return []
        return sorted(int(m.group(1)) for p in d.iterdir() if (m := _VERSION_RE.match(p.name)))


class S3Store(ModelStore):
    """An S3-compatible bucket through boto3.

    ``endpoint_url`` selects MinIO, moto or another S3 API (None = AWS). Credentials and region come
    from boto3's standard chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, instance
    role...); they are never passed through this class or logged."""

    def __init__(self, bucket: str, prefix: str = "", endpoint_url: str | None = None,
                 region_name: str | None = None, create_bucket: bool = False):
        import boto3
        from botocore.config import Config

        self.bucket, self.prefix = bucket, prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.url = f"s3://{bucket}/{self.prefix}" + (f" (endpoint {endpoint_url})" if endpoint_url else "")
        self.s3 = boto3.client("s3", endpoint_url=endpoint_url, region_name=region_name or os.environ.get(
            "AWS_DEFAULT_REGION", "us-east-1"), config=Config(retries={"max_attempts": 5, "mode": "standard"}))
        self._errors = __import__("botocore.exceptions", fromlist=["ClientError"])
        if create_bucket:
            try:
                self.s3.create_bucket(Bucket=bucket)
            except self._errors.ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise self._error("cannot create bucket", exc) from exc
            except self._errors.BotoCoreError as exc:
                raise self._error("cannot create bucket", exc) from exc

    def _error(self, what: str, exc: Exception) -> ModelStoreError:
        """A ModelStoreError for a boto error; StoreAccessError for credential / access problems."""
        code = getattr(exc, "response", {}).get("Error", {}).get("Code") if hasattr(exc, "response") else None
        nocreds = type(exc).__name__ in ("NoCredentialsError", "PartialCredentialsError", "CredentialRetrievalError")
        if code in ACCESS_ERROR_CODES or nocreds:
            return StoreAccessError(f"{self.url}: {what}: {exc} (check the AWS credentials, e.g. AWS_ACCESS_KEY_ID / "
                                    f"AWS_PROFILE, and the bucket name; retrying will not help)")
        return ModelStoreError(f"{self.url}: {what}: {exc}")

    def _put(self, key: str, data: bytes) -> None:
        try:
            self.s3.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=data)
        except (self._errors.ClientError, self._errors.BotoCoreError) as exc:
            raise self._error(f"cannot write {key}", exc) from exc

    def _get(self, key: str) -> bytes | None:
        try:
            return self.s3.get_object(Bucket=self.bucket, Key=self.prefix + key)["Body"].read()
        except self._errors.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise self._error(f"cannot read {key}", exc) from exc
        except self._errors.BotoCoreError as exc:
            raise self._error(f"cannot read {key}", exc) from exc

    def _delete(self, key: str) -> None:
        try:
            self.s3.delete_object(Bucket=self.bucket, Key=self.prefix + key)
        except (self._errors.ClientError, self._errors.BotoCoreError) as exc:
            raise ModelStoreError(f"{self.url}: cannot delete {key}: {exc}") from exc

    def _delete_prefix(self, prefix: str) -> None:
        try:
            pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix + prefix)
            for page in pages:
                for obj in page.get("Contents", []):
                    self.s3.delete_object(Bucket=self.bucket, Key=obj["Key"])
        except (self._errors.ClientError, self._errors.BotoCoreError) as exc:
            raise ModelStoreError(f"{self.url}: cannot delete {prefix}: {exc}") from exc

    def _list_versions(self) -> list[int]:
        out: list[int] = []
        try:
            pages = self.s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix + "models/", Delimiter="/")
            for page in pages:
                for cp in page.get("CommonPrefixes", []):
                    name = cp["Prefix"][len(self.prefix + "models/"):].strip("/")
                    if m := _VERSION_RE.match(name):
                        out.append(int(m.group(1)))
        except (self._errors.ClientError, self._errors.BotoCoreError) as exc:
            raise self._error("cannot list versions", exc) from exc
        return sorted(out)


def open_store(url: str, endpoint_url: str | None = None, region_name: str | None = None,
               create_bucket: bool = False) -> ModelStore:
    """``s3://bucket/prefix`` -> :class:`S3Store`; a path or ``file://path`` -> :class:`LocalFolderStore`."""
    if url.startswith("s3://"):
        rest = url[5:]
        bucket, _, prefix = rest.partition("/")
        if not bucket:
            raise ValueError(f"model store url {url!r} names no bucket (s3://BUCKET/prefix)")
        return S3Store(bucket, prefix, endpoint_url=endpoint_url, region_name=region_name, create_bucket=create_bucket)
    if url.startswith("file://"):
        url = url[7:]
    if "://" in url:
        raise ValueError(f"model store url {url!r}: use s3://bucket/prefix or a folder path")
    return LocalFolderStore(url)
