"""Redis Streams transport against a real redis-server on 127.0.0.1 (started by the fixture)."""
import logging
import threading
import time

import pytest
import redis

from deepracer_agent.distributed.transport import (ExperienceStream, ModelNotifications, RedisSettings,
                                                   TransportError, call_with_reconnect)
from distributed_fixtures import redis_server  # noqa: F401 - fixture


def test_password_is_required_and_never_described(redis_server):
    s = redis_server.settings
    assert s.password and s.password not in s.describe() and "password set" in s.describe()
    assert s.password not in repr(s)
    anonymous = RedisSettings(host="127.0.0.1", port=s.port).client(retries=0)
    with pytest.raises(redis.AuthenticationError):
        anonymous.ping()
    assert s.client().ping()
    wrong = ExperienceStream(RedisSettings(host="127.0.0.1", port=s.port, password="wrong-pw"))
    with pytest.raises(TransportError, match="rejected the credentials") as exc:
        wrong.push("e", b"x")                       # fails fast, no endless backoff
    assert "wrong-pw" not in str(exc.value)


def test_url_parsing_with_acl_user_and_tls():
    s = RedisSettings.from_url("rediss://trainer:s3cr%40t@redis.example:6380/2", ssl_ca_certs="/ca.pem")
    assert (s.host, s.port, s.db, s.username, s.password, s.ssl, s.ssl_ca_certs) == (
        "redis.example", 6380, 2, "trainer", "s3cr@t", True, "/ca.pem")
    assert "s3cr@t" not in s.describe() and s.describe().startswith("rediss://trainer@")
    with pytest.raises(ValueError, match="redis://"):
        RedisSettings.from_url("http://x")


def test_push_read_ack_and_reclaim_after_consumer_restart(redis_server):
    s = redis_server.settings
    trainer = ExperienceStream(s, consumer="trainer")
    trainer.ensure_group()
    worker = ExperienceStream(s, consumer="w")
    for i in range(3):
        worker.push(f"ep{i}", b"payload%d" % i)
    got = trainer.read(count=10, block_ms=100)
    assert [e.episode_id for e in got] == ["ep0", "ep1", "ep2"] and got[1].data == b"payload1"
    trainer.ack([got[0].entry_id])
    assert trainer.read(block_ms=50) == []          # delivered once only
    # a new trainer process (same or another consumer name) takes over what was never ACKed
    restarted = ExperienceStream(s, consumer="trainer-2")
    again = restarted.reclaim(min_idle_ms=0)
    assert sorted(e.episode_id for e in again) == ["ep1", "ep2"]
    restarted.ack([e.entry_id for e in again])
    assert restarted.pending_count() == 0 and restarted.backlog() == 0


def test_entries_survive_a_redis_crash_and_clients_reconnect(redis_server, caplog):
    s = redis_server.settings
    trainer = ExperienceStream(s)
    trainer.ensure_group()
    worker = ExperienceStream(s, consumer="w")
    worker.push("before", b"x")
    delivered = trainer.read(block_ms=100)
    assert [e.episode_id for e in delivered] == ["before"]   # delivered, NOT acked
    caplog.set_level(logging.WARNING)
    # crash redis (SIGKILL) and bring it back 1 s later while the worker is pushing
    restarter = threading.Thread(target=redis_server.restart, kwargs={"kill": True, "downtime_s": 1.0})
    restarter.start()
    time.sleep(0.2)
    worker.push("during", b"y")       # blocks with backoff until redis is back
    restarter.join()
    assert "redis unreachable" in caplog.text and s.password not in caplog.text
    # the un-ACKed entry survived (appendonly) and is reclaimable; the new one is readable
    assert [e.episode_id for e in trainer.reclaim()] == ["before"]
    assert [e.episode_id for e in trainer.read(block_ms=100)] == ["during"]


def test_group_is_recreated_when_redis_loses_everything(tmp_path):
    from deepracer_agent.distributed.redis_server import RedisServerProcess
    with RedisServerProcess(data_dir=tmp_path / "r", appendonly=False) as server:
        stream = ExperienceStream(server.settings)
        stream.ensure_group()
        server.restart(kill=True)            # no persistence: stream and group are gone
        assert stream.read(block_ms=50) == []  # NOGROUP handled: group recreated
        ExperienceStream(server.settings, consumer="w").push("ep", b"z")
        assert [e.episode_id for e in stream.read(block_ms=100)] == ["ep"]


def test_reconnect_gives_up_at_deadline():
    calls = []
    def fail():
        calls.append(1)
        raise redis.ConnectionError("down")
    t0 = time.monotonic()
    with pytest.raises(TransportError, match="unreachable during probe"):
        call_with_reconnect(fail, "probe", deadline_s=0.5)
    assert 2 <= len(calls) <= 6 and time.monotonic() - t0 < 1.5   # backoff, not a busy loop


def test_model_notifications_and_fallback_after_restart(redis_server):
    s = redis_server.settings
    sub = ModelNotifications(s)
    assert sub.poll(0.05) is None            # subscribes
    pub = ExperienceStream(s)
    pub.announce(3)
    pub.announce(5)
    deadline = time.monotonic() + 2
    got = None
    while got is None and time.monotonic() < deadline:
        got = sub.poll(0.1)
    assert got == 5
    redis_server.restart(kill=False)          # clean restart: subscription dropped
    pub.announce(6)                            # nobody hears the message, but the key is set
    seen = None
    deadline = time.monotonic() + 3
    while seen != 6 and time.monotonic() < deadline:
        seen = sub.poll(0.1) or seen
    assert seen == 6
