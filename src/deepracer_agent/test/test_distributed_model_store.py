"""Model store: atomic versioned publication, checksum verification, on a folder and on a real
moto S3 server (loopback)."""

import numpy as np
import pytest

from deepracer_agent.distributed.model_store import (CorruptModelError, LocalFolderStore, ModelStoreError,
                                                     dump_npz, load_npz, open_store, version_prefix)
from distributed_fixtures import s3_server  # noqa: F401 - fixture


def _objects(scale):
    weights = {"pi.weight": np.full((4, 3), scale, np.float32), "vf.bias": np.arange(3, dtype=np.float32)}
    return {"policy.npz": dump_npz(weights), "model_metadata.json": b'{"action_space_type": "discrete"}'}


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    if request.param == "local":
        return LocalFolderStore(tmp_path / "store")
    endpoint = request.getfixturevalue("s3_server")
    return open_store("s3://models-bucket/run1", endpoint_url=endpoint, create_bucket=True)


def _corrupt(store, key):
    """Flip bytes of a stored object behind the store's back."""
    data = bytearray(store._get(key))
    data[len(data) // 2] ^= 0xFF
    store._put(key, bytes(data))


def test_publish_and_load_round_trip(store):
    assert store.latest_pointer() is None and store.versions() == [] and store.next_version() == 0
    store.publish(0, _objects(1.0))
    store.publish(1, _objects(2.0))
    assert store.versions() == [0, 1] and store.latest_pointer() == 1 and store.next_version() == 2
    mv = store.load(1)
    assert mv.arrays("policy.npz")["pi.weight"][0, 0] == 2.0
    assert mv.json("model_metadata.json") == {"action_space_type": "discrete"}
    assert set(mv.manifest["objects"]) == {"policy.npz", "model_metadata.json"}
    with pytest.raises(ModelStoreError, match="already exists"):
        store.publish(1, _objects(3.0))


def test_corrupted_object_is_rejected_and_previous_version_stays(store):
    store.publish(0, _objects(1.0))
    store.publish(1, _objects(2.0))
    _corrupt(store, version_prefix(1) + "policy.npz")
    with pytest.raises(CorruptModelError, match="checksum"):
        store.load(1)
    good = store.load_latest_valid()
    assert good.version == 0 and good.arrays("policy.npz")["pi.weight"][0, 0] == 1.0
    assert store.next_version() == 2      # the corrupted version is never overwritten


def test_version_without_manifest_does_not_exist(store):
    store.publish(0, _objects(1.0))
    store._put(version_prefix(1) + "policy.npz", b"half-written")   # a publisher died here
    assert store.versions() == [0] and store.load_latest_valid().version == 0
    with pytest.raises(ModelStoreError, match="no manifest"):
        store.load(1)
    assert store.next_version() == 2


def test_pickled_arrays_are_refused(tmp_path):
    import io
    buf = io.BytesIO()
    np.savez(buf, evil=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError):
        load_npz(buf.getvalue())
    with pytest.raises(ValueError, match="dtype object"):
        dump_npz({"evil": np.array([{"a": 1}], dtype=object)})


def test_local_store_leaves_no_temp_files_and_keys_cannot_escape(tmp_path):
    store = LocalFolderStore(tmp_path / "s")
    store.publish(0, _objects(1.0))
    assert not [p for p in (tmp_path / "s").rglob(".*")]
    with pytest.raises(ValueError, match="escapes"):
        store._put("../outside", b"x")
    with pytest.raises(ValueError, match="plain file names"):
        store.publish(1, {"../x": b""})


def test_s3_credentials_are_never_logged(s3_server, caplog):
    import logging
    caplog.set_level(logging.DEBUG, logger="deepracer_agent")
    store = open_store("s3://bucket-two/p", endpoint_url=s3_server, create_bucket=True)
    store.publish(0, _objects(1.0))
    store.load(0)
    assert "testing-secret-do-not-log" not in caplog.text and "testing-secret" not in store.url


def test_open_store_urls(tmp_path):
    assert isinstance(open_store(str(tmp_path / "a")), LocalFolderStore)
    assert isinstance(open_store("file://" + str(tmp_path / "b")), LocalFolderStore)
    with pytest.raises(ValueError, match="no bucket"):
        open_store("s3:///x")
    with pytest.raises(ValueError, match="s3://bucket"):
        open_store("gs://x/y")
