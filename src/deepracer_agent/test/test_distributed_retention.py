"""Model-store retention: newest K + best-scoring + leased versions stay, the rest is deleted
(manifest first), on the local folder store and on a real moto S3 server, with leases in a real
redis-server."""
import json

import pytest

from deepracer_agent.distributed.model_store import MANIFEST, ModelStoreError, open_store, version_prefix
from deepracer_agent.distributed.retention import ReaderLease, leased_versions, plan, prune
from distributed_fixtures import redis_server, s3_server  # noqa: F401 - fixtures


def test_plan_keeps_newest_best_leased_and_latest():
    scores = {1: (0.9, 80.0), 2: (0.1, 10.0), 4: (0.9, 90.0)}
    p = plan(range(10), latest=9, keep_last=2, keep_best=2, scores=scores, leased={3}, min_keep_last=3)
    # newest max(2, 3) = 3 versions; best two by (success, progress) = 4, 1; leased 3
    assert p.keep == [1, 3, 4, 7, 8, 9]
    assert p.delete == [0, 2, 5, 6]
    assert plan([5], latest=5, keep_last=1, keep_best=0, scores={}, leased=set()).delete == []


def _fill(store, n):
    for v in range(n):
        store.publish(v, {"policy.npz": b"x" * 100, "training_config.json": b"{}"})


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    if request.param == "local":
        return open_store(str(tmp_path / "store"))
    endpoint = request.getfixturevalue("s3_server")
    return open_store("s3://retention-test/run", endpoint_url=endpoint, create_bucket=True)


def test_prune_deletes_the_rest_and_never_a_leased_version(store, redis_server):
    _fill(store, 8)
    store.put_record("evaluations/v000002.json", json.dumps({"version": 2, "success_rate": 1.0}).encode())
    store.put_record("trainer/v000001/optimizer.npz", b"moments")
    lease = ReaderLease(redis_server.settings, "worker-7", ttl_s=60)
    lease.hold(1)
    r = redis_server.settings.client()
    assert leased_versions(r, redis_server.settings) == {1}
    deleted = prune(store, keep_last=3, keep_best=1, leased=leased_versions(r, redis_server.settings))
    assert deleted == [0, 3, 4]
    assert store.versions() == [1, 2, 5, 6, 7] and store.latest_pointer() == 7
    with pytest.raises(ModelStoreError, match="does not exist"):
        store.load(0)
    assert store.load(1).objects["policy.npz"] == b"x" * 100      # the leased version is intact
    # the lease ends: the version goes at the next prune (the optimizer side record with it)
    lease.release()
    assert prune(store, keep_last=3, keep_best=1, leased=leased_versions(r, redis_server.settings)) == [1]
    assert store.get_record("trainer/v000001/optimizer.npz") is None
    with pytest.raises(ModelStoreError, match="latest"):
        store.delete_version(7)


def test_local_delete_removes_manifest_first_and_the_folder(tmp_path):
    store = open_store(str(tmp_path / "store"))
    _fill(store, 3)
    store.delete_version(0)
    assert not (tmp_path / "store" / version_prefix(0)).exists()
    assert store.versions() == [1, 2]
    # a version whose deletion stopped half-way (manifest gone, an object left) does not exist
    (tmp_path / "store" / version_prefix(1) / MANIFEST).unlink()
    assert store.versions() == [2]
    assert store.next_version() == 3             # and its number is never reused


def test_lease_expires(redis_server):
    import time

    lease = ReaderLease(redis_server.settings, "evaluator", ttl_s=1.0)
    lease.hold(4)
    r = redis_server.settings.client()
    assert leased_versions(r, redis_server.settings) == {4}
    time.sleep(1.3)
    assert leased_versions(r, redis_server.settings) == set()
