"""Episode records on the wire: round trip, compression, and refusal of bad or hostile records."""
import json
import struct

import numpy as np
import pytest

from deepracer_agent.distributed import wire
from deepracer_agent.distributed.wire import EpisodeRecord, WireError


def _episode(steps=7, seed=0):
    rng = np.random.default_rng(seed)
    frames = np.zeros((steps, 120, 160, 1), np.uint8)
    frames[:, 60:, :, 0] = 90  # a road-like lower half: compressible like real frames
    frames[:, 60:, 70:90, 0] = rng.integers(0, 255, (steps, 60, 20), dtype=np.uint8)
    return EpisodeRecord(
        worker_id="w1", episode_id="w1:abc:3", policy_version=4,
        arrays={"obs": frames, "actions": rng.integers(0, 10, steps).astype(np.int64),
                "rewards": rng.normal(size=steps).astype(np.float32),
                "values": rng.normal(size=steps).astype(np.float32),
                "log_probs": rng.normal(size=steps).astype(np.float32)},
        terminated=False, last_value=0.25, meta={"track": "oval", "progress": 12.5})


@pytest.mark.parametrize("compression", wire.available_compressions())
def test_round_trip_is_exact(compression):
    rec = _episode()
    out = wire.decode(wire.encode(rec, compression=compression))
    assert (out.worker_id, out.episode_id, out.policy_version) == ("w1", "w1:abc:3", 4)
    assert out.terminated is False and out.last_value == 0.25 and out.meta == rec.meta
    assert out.steps == 7
    for k, v in rec.arrays.items():
        assert out.arrays[k].dtype == v.dtype and out.arrays[k].shape == v.shape
        np.testing.assert_array_equal(out.arrays[k], v)


def test_zlib_shrinks_camera_frames():
    rec = _episode(steps=20)
    plain, packed = wire.encode(rec, "none"), wire.encode(rec, "zlib")
    assert len(packed) < 0.5 * len(plain)
    header, _ = wire.decode_header(packed)
    obs = next(a for a in header["arrays"] if a["name"] == "obs")
    assert obs["compression"] == "zlib" and obs["raw_bytes"] == 20 * 120 * 160


def test_header_is_plain_json_and_no_pickle_anywhere():
    data = wire.encode(_episode(), "zlib")
    assert data[:4] == b"DRX1"
    (n,) = struct.unpack_from("<I", data, 4)
    header = json.loads(data[8:8 + n])
    assert header["policy_version"] == 4 and header["worker_id"] == "w1"
    assert b"\x80\x04\x95" not in data[:8 + n]  # no pickle protocol-4 frame in the header


@pytest.mark.parametrize("mutate, message", [
    (lambda d: b"XXXX" + d[4:], "bad magic"),
    (lambda d: d[:-10], "truncated"),
    (lambda d: d + b"junk", "trailing"),
    (lambda d: d[:8] + b"}" + d[9:], "JSON"),
])
def test_corrupt_records_are_refused(mutate, message):
    with pytest.raises(WireError, match=message):
        wire.decode(mutate(wire.encode(_episode())))


def test_object_dtype_is_refused_on_both_sides():
    rec = _episode()
    rec.arrays["actions"] = np.array([object()] * rec.steps, dtype=object)
    with pytest.raises(WireError, match="dtype object"):
        wire.encode(rec)
    # a forged header that announces a pickled ('O') dtype is refused before any bytes are read
    good = wire.encode(_episode())
    header, off = wire.decode_header(good)
    header["arrays"][1]["dtype"] = "object"
    hdr = json.dumps(header).encode()
    with pytest.raises(WireError, match="not allowed"):
        wire.decode(b"DRX1" + struct.pack("<I", len(hdr)) + hdr + good[off:])


def test_inconsistent_lengths_and_missing_arrays_are_refused():
    rec = _episode()
    rec.arrays["rewards"] = rec.arrays["rewards"][:-1]
    with pytest.raises(WireError, match="'rewards'|rows"):
        wire.encode(rec)
    rec = _episode()
    del rec.arrays["log_probs"]
    with pytest.raises(WireError, match="'log_probs' is missing"):
        wire.encode(rec)


def test_zip_bomb_is_bounded():
    # a header that announces 10 bytes for an array whose zlib stream inflates to 1 MB
    import zlib
    rec = _episode(steps=1)
    data = wire.encode(rec, "zlib")
    header, off = wire.decode_header(data)
    bomb = zlib.compress(b"\0" * (1 << 20))
    header["arrays"] = [{"name": "obs", "dtype": "uint8", "shape": [10], "compression": "zlib",
                         "raw_bytes": 10, "wire_bytes": len(bomb)}]
    hdr = json.dumps(header).encode()
    with pytest.raises(WireError):
        wire.decode(b"DRX1" + struct.pack("<I", len(hdr)) + hdr + bomb)
