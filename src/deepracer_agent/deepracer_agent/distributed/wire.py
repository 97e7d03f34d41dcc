"""Wire format of experience records: one complete episode = a JSON header + raw numpy bytes.

Layout of one record (all integers little-endian)::

    b"DRX1"                 4 bytes magic (format version 1)
    header_len              4 bytes unsigned
    header                  header_len bytes of UTF-8 JSON
    payload                 the arrays' bytes, one after the other, in header order

The header names the producer (``worker_id``, ``episode_id``, ``policy_version``), the number of
steps, free-form ``meta`` (JSON values only: track, seed, progress, termination reason, ...) and,
for every array, its name, dtype, shape, compression and the byte count on the wire.

Safety: nothing is ever unpickled. dtypes are limited to a whitelist of plain numeric types
(``ALLOWED_DTYPES``), arrays are rebuilt with ``np.frombuffer``, and every size is checked against
the header before it is used, so a truncated or hostile record raises :class:`WireError` instead of
allocating or executing anything.

Why whole episodes: a worker pushes an episode only once it is finished, so a worker killed
mid-episode leaves nothing partial behind that the trainer could use.

Compression: ``"zlib"`` (always available) and ``"lz4"`` (only if the ``lz4`` package is
installed) apply to arrays of at least ``min_bytes``; by default only the observation (camera
frames, uint8) is compressed. BENCHMARKS.md records what it buys for 120x160 frames.
"""
from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

try:  # optional: faster than zlib, less compression
    import lz4.frame as _lz4  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - depends on the installation
    _lz4 = None

MAGIC = b"DRX1"
ALLOWED_DTYPES = frozenset(
    ["uint8", "int8", "uint16", "int16", "uint32", "int32", "int64", "uint64",
     "float16", "float32", "float64", "bool"]
)
COMPRESSIONS = ("none", "zlib", "lz4")
# Arrays an episode record must carry (per-step, leading dimension = steps).
REQUIRED_ARRAYS = ("obs", "actions", "rewards", "values", "log_probs")
MAX_HEADER_BYTES = 1 << 20


class WireError(ValueError):
    """A record that cannot be encoded or decoded; the message says which field is wrong."""


def available_compressions() -> list[str]:
    """Compression names usable on this installation (``lz4`` only if the package is installed)."""
    return [c for c in COMPRESSIONS if c != "lz4" or _lz4 is not None]


@dataclass
class EpisodeRecord:
    """One complete episode from a rollout worker.

    Arrays (leading dimension ``steps``): ``obs`` (observation before each action, e.g. uint8
    (T, 120, 160, 1)), ``actions`` (as sampled by the policy, before clipping), ``rewards``
    (float32), ``values`` (critic estimate of ``obs``, float32), ``log_probs`` (log-probability of
    the action under the behaviour policy, float32). ``terminated`` is False when the episode was
    cut by a step limit (truncated): the trainer then bootstraps with ``last_value``, the critic's
    estimate of the final observation.
    """

    worker_id: str
    episode_id: str
    policy_version: int
    arrays: dict[str, np.ndarray]
    terminated: bool = True
    last_value: float = 0.0
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def steps(self) -> int:
        return int(len(self.arrays["rewards"]))

    def validate(self) -> None:
        """Raise :class:`WireError` if a required array is missing or lengths disagree."""
        for name in REQUIRED_ARRAYS:
            if name not in self.arrays:
                raise WireError(f"episode {self.episode_id!r}: array '{name}' is missing")
        steps = self.steps
        if steps < 1:
            raise WireError(f"episode {self.episode_id!r}: an episode needs at least one step")
        for name, arr in self.arrays.items():
            if arr.ndim == 0 or len(arr) != steps:
                raise WireError(f"episode {self.episode_id!r}: array '{name}' has {len(arr) if arr.ndim else 0} "
                                f"rows, expected {steps} (one per step)")
        if not isinstance(self.policy_version, int) or self.policy_version < 0:
            raise WireError(f"episode {self.episode_id!r}: policy_version must be an int >= 0")


def _compress(data: bytes, method: str, level: int) -> bytes:
    if method == "zlib":
        return zlib.compress(data, level)
    if method == "lz4":
        if _lz4 is None:
            raise WireError("compression 'lz4' requested but the lz4 package is not installed")
        return _lz4.compress(data)
    return data


def _decompress(data: bytes, method: str, expected: int) -> bytes:
    try:
        if method == "zlib":
            d = zlib.decompressobj()
            out = d.decompress(data, expected + 1)  # bounded: never inflate past the announced size
        elif method == "lz4":
            if _lz4 is None:
                raise WireError("record uses lz4 but the lz4 package is not installed here")
            out = _lz4.decompress(data)
        elif method == "none":
            out = data
        else:
            raise WireError(f"unknown compression {method!r}")
    except (zlib.error, RuntimeError) as exc:
        raise WireError(f"corrupt compressed array: {exc}") from exc
    if len(out) != expected:
        raise WireError(f"array decompressed to {len(out)} bytes, header says {expected}")
    return out


def encode(record: EpisodeRecord, compression: str = "none", level: int = 1,
           compress_arrays: tuple[str, ...] = ("obs",), min_bytes: int = 4096) -> bytes:
    """Serialise ``record`` to bytes (see the module docstring for the layout).

    ``compression`` applies to the arrays named in ``compress_arrays`` that are at least
    ``min_bytes`` long; ``level`` is zlib's level (1 = fastest).
    """
    if compression not in COMPRESSIONS:
        raise WireError(f"unknown compression {compression!r}; choose one of {COMPRESSIONS}")
    record.validate()
    specs, chunks = [], []
    for name, arr in record.arrays.items():
        arr = np.ascontiguousarray(arr)
        dtype = arr.dtype.name
        if dtype not in ALLOWED_DTYPES:
            raise WireError(f"array '{name}' has dtype {dtype}, not one of {sorted(ALLOWED_DTYPES)}")
        raw = arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
        method = compression if (name in compress_arrays and len(raw) >= min_bytes) else "none"
        data = _compress(raw, method, level)
        specs.append({"name": name, "dtype": dtype, "shape": list(arr.shape), "compression": method,
                      "raw_bytes": len(raw), "wire_bytes": len(data)})
        chunks.append(data)
    header = {
        "worker_id": record.worker_id, "episode_id": record.episode_id,
        "policy_version": int(record.policy_version), "steps": record.steps,
        "terminated": bool(record.terminated), "last_value": float(record.last_value),
        "meta": record.meta, "arrays": specs,
    }
    try:
        hdr = json.dumps(header, separators=(",", ":"), allow_nan=False).encode()
    except (TypeError, ValueError) as exc:
        raise WireError(f"episode {record.episode_id!r}: meta must be plain JSON values ({exc})") from exc
    return b"".join([MAGIC, struct.pack("<I", len(hdr)), hdr, *chunks])


def decode_header(data: bytes) -> tuple[dict[str, Any], int]:
    """Parse and check the header; returns (header, offset of the payload)."""
    if len(data) < 8 or data[:4] != MAGIC:
        raise WireError("not an experience record (bad magic)")
    (hlen,) = struct.unpack_from("<I", data, 4)
    if hlen > MAX_HEADER_BYTES or 8 + hlen > len(data):
        raise WireError(f"header length {hlen} is invalid for a record of {len(data)} bytes")
    try:
        header = json.loads(data[8:8 + hlen])
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WireError(f"header is not valid JSON: {exc}") from exc
    for key, typ in (("worker_id", str), ("episode_id", str), ("policy_version", int), ("steps", int),
                     ("arrays", list), ("meta", dict)):
        if not isinstance(header.get(key), typ):
            raise WireError(f"header field '{key}' is missing or not {typ.__name__}")
    return header, 8 + hlen


def decode(data: bytes) -> EpisodeRecord:
    """Rebuild an :class:`EpisodeRecord`; raises :class:`WireError` on anything inconsistent."""
    header, offset = decode_header(data)
    arrays: dict[str, np.ndarray] = {}
    for spec in header["arrays"]:
        try:
            name, dtype, shape = str(spec["name"]), str(spec["dtype"]), [int(s) for s in spec["shape"]]
            method, raw_n, wire_n = str(spec["compression"]), int(spec["raw_bytes"]), int(spec["wire_bytes"])
        except (KeyError, TypeError, ValueError) as exc:
            raise WireError(f"array spec {spec!r} is malformed") from exc
        if dtype not in ALLOWED_DTYPES:
            raise WireError(f"array '{name}': dtype {dtype!r} is not allowed")
        if any(s < 0 for s in shape) or raw_n != int(np.prod(shape)) * np.dtype(dtype).itemsize:
            raise WireError(f"array '{name}': shape {shape} and dtype {dtype} do not match {raw_n} bytes")
        if wire_n < 0 or offset + wire_n > len(data):
            raise WireError(f"array '{name}': record is truncated")
        raw = _decompress(data[offset:offset + wire_n], method, raw_n)
        offset += wire_n
        arrays[name] = np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<")).reshape(shape)
    if offset != len(data):
        raise WireError(f"record has {len(data) - offset} trailing bytes")
    rec = EpisodeRecord(worker_id=header["worker_id"], episode_id=header["episode_id"],
                        policy_version=header["policy_version"], arrays=arrays,
                        terminated=bool(header.get("terminated", True)),
                        last_value=float(header.get("last_value", 0.0)), meta=header["meta"])
    rec.validate()
    if rec.steps != header["steps"]:
        raise WireError(f"header says {header['steps']} steps, arrays hold {rec.steps}")
    return rec
