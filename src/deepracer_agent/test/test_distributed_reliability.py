"""Decoupled training under the faults nobody listed (issue 21): wrong S3 credentials, a worker of
another run on the same stream, a second trainer on one store, a version published twice, a
100 MB record. Real redis-server and moto S3 (with signature checks on), the SmokeRuntime."""
import time

import numpy as np
import pytest

from deepracer_agent.distributed import wire
from deepracer_agent.distributed.config import StopFlag
from deepracer_agent.distributed.model_store import ModelStoreError, open_store
from deepracer_agent.distributed.trainer import Trainer
from deepracer_agent.distributed.transport import ExperienceStream
from deepracer_agent.distributed.worker import Worker
from distributed_fixtures import redis_server, s3_server  # noqa: F401 - fixtures
from test_distributed_roles import make_cfg


def test_wrong_s3_credentials_stop_each_role_with_one_line(tmp_path, redis_server, s3_server, monkeypatch, capsys):
    import moto.settings

    from deepracer_agent.distributed.trainer import main as trainer_main
    from deepracer_agent.distributed.worker import main as worker_main

    monkeypatch.setattr(moto.settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)   # moto checks the keys from now on
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAWRONGWRONGWRONG")
    monkeypatch.setenv("TEST_REDIS_PW", redis_server.password)
    args = ["--redis-url", f"redis://127.0.0.1:{redis_server.port}/0", "--redis-password-env", "TEST_REDIS_PW",
            "--store", "s3://models/run", "--store-endpoint-url", s3_server, "--run-dir", str(tmp_path / "run")]
    for name, main in (("worker", worker_main), ("trainer", trainer_main)):
        t0 = time.monotonic()
        assert main(args) == 2, name
        err = [line for line in capsys.readouterr().err.splitlines() if line.startswith(f"deepracer {name}:")]
        assert len(err) == 1 and "InvalidAccessKeyId" in err[0] and "retrying will not help" in err[0], err
        assert "testing-secret-do-not-log" not in err[0]
        assert time.monotonic() - t0 < 30, f"{name} kept retrying"


def test_a_worker_of_another_run_on_the_same_stream_is_dropped(tmp_path, redis_server, monkeypatch):
    cfg_a = make_cfg(tmp_path, redis_server, monkeypatch, store=str(tmp_path / "store_a"), run_dir=str(tmp_path / "a"))
    cfg_b = make_cfg(tmp_path, redis_server, monkeypatch, store=str(tmp_path / "store_b"), run_dir=str(tmp_path / "b"),
                     training={"episode_steps": 6, "seed": 7})
    trainer_a = Trainer(cfg_a)
    trainer_a.restore_or_init()                  # run A: version 0
    Trainer(cfg_b, consumer="trainer-b").restore_or_init()   # run B: its own version 0, another policy
    stop = StopFlag(install_signals=False)
    Worker(cfg_b, cfg_b.worker_settings(0, "worker-b"), stop, max_episodes=2).run()
    Worker(cfg_a, cfg_a.worker_settings(0, "worker-a"), stop, max_episodes=2).run()
    deadline = time.monotonic() + 20
    while len(trainer_a.buffer) + trainer_a.counts["dropped_foreign"] < 4 and time.monotonic() < deadline:
        for entry in trainer_a.stream.read(block_ms=200):
            trainer_a._accept(entry)
    assert trainer_a.counts["dropped_foreign"] == 2
    assert sorted({rec.worker_id for rec, _ in trainer_a.buffer.values()}) == ["worker-a"]
    # an episode whose observations do not fit the policy never reaches (and crashes) the update
    rec = next(iter(trainer_a.buffer.values()))[0]
    bad = wire.EpisodeRecord("worker-x", "x:1", 0, dict(rec.arrays, obs=np.zeros((rec.steps, 3, 3), np.uint8)))
    ExperienceStream(cfg_a.redis_settings()).push(bad.episode_id, wire.encode(bad))
    for entry in trainer_a.stream.read(block_ms=500):
        trainer_a._accept(entry)
    assert trainer_a.counts["dropped_mismatched"] == 1
    trainer_a.update()                           # the kept episodes train fine
    assert trainer_a.version == 1


def test_a_second_trainer_on_one_store_stops_and_versions_are_never_rewritten(tmp_path, redis_server, monkeypatch):
    cfg = make_cfg(tmp_path, redis_server, monkeypatch)
    first, second = Trainer(cfg), Trainer(cfg, consumer="trainer-2")
    first.restore_or_init()
    second.restore_or_init()                     # both restored version 0
    first._publish([])                           # version 1
    with pytest.raises(ModelStoreError, match="version 1 was published by someone else.*two trainers"):
        second._publish([])
    store = open_store(cfg.store)
    before = store.load(1).objects
    with pytest.raises(ModelStoreError, match="version 1 already exists"):
        store.publish(1, {"policy.npz": b"other"})
    assert store.load(1).objects == before and store.versions() == [0, 1]


def test_a_100_mb_record_goes_through(tmp_path, redis_server, monkeypatch):
    """10,000 steps of 120x160 frames (192 MB raw, ~100 MB on the wire with fast zlib): pushed,
    read back, decoded exactly; the trainer keeps it or drops it, it never blocks the stream."""
    cfg = make_cfg(tmp_path, redis_server, monkeypatch)
    rng = np.random.default_rng(0)
    steps = 10_000
    obs = rng.integers(0, 256, (steps, 120, 160, 1), dtype=np.uint8)
    obs[:, ::2] = 0                               # half compressible, like a camera frame is not
    rec = wire.EpisodeRecord("big", "big:1", 0, {"obs": obs, "actions": np.zeros(steps, np.int64),
                                                 "rewards": np.zeros(steps, np.float32),
                                                 "values": np.zeros(steps, np.float32),
                                                 "log_probs": np.zeros(steps, np.float32)})
    data = wire.encode(rec, compression="zlib")
    assert len(data) > 90e6
    stream = ExperienceStream(cfg.redis_settings(), consumer="c")
    stream.ensure_group()
    stream.push(rec.episode_id, data)
    got = stream.read(count=1, block_ms=5000)
    assert len(got) == 1 and np.array_equal(wire.decode(got[0].data).arrays["obs"], obs)


def test_a_runtime_named_in_the_store_is_imported_only_when_allowed(tmp_path, monkeypatch):
    from deepracer_agent.distributed.runtime import RuntimeError_, load_runtime

    marker = tmp_path / "IMPORTED"
    (tmp_path / "evil_runtime.py").write_text(f"open({str(marker)!r}, 'w').close()\nclass R: pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("DEEPRACER_RUNTIMES", raising=False)
    with pytest.raises(RuntimeError_, match=r"'evil_runtime:R' is not a deepracer_agent runtime.*DEEPRACER_RUNTIMES"):
        load_runtime({"runtime": "evil_runtime:R", "config": {}})
    assert not marker.exists()
    monkeypatch.setenv("DEEPRACER_RUNTIMES", "other:X, evil_runtime:R")
    with pytest.raises(RuntimeError_, match="is not a Runtime subclass"):
        load_runtime({"runtime": "evil_runtime:R", "config": {}})
    assert marker.exists()                       # listed by the operator: imported
