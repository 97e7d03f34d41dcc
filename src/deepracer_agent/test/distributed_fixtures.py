"""Fixtures for the decoupled-training tests: a REAL redis-server and a REAL moto S3 server on
127.0.0.1 (random ports), both stopped at the end of the test. Import the fixtures by name."""
from __future__ import annotations

import os
import shutil

import pytest

from deepracer_agent.distributed.redis_server import RedisServerProcess, free_port


def _have_redis() -> bool:
    return bool(os.environ.get("DEEPRACER_REDIS_SERVER") or shutil.which("redis-server")
                or os.path.exists("/usr/bin/redis-server"))


@pytest.fixture
def redis_server(tmp_path):
    if not _have_redis():
        pytest.fail("redis-server is not installed: run 'make setup' (scripts/install_system_deps.sh) "
                    "or apt-get install redis-server")
    server = RedisServerProcess(data_dir=tmp_path / "redis").start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def s3_server(monkeypatch):
    """A moto S3 API server; yields its endpoint URL. Fake credentials go through the AWS env chain."""
    from moto.server import ThreadedMotoServer

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing-secret-do-not-log")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    # moto keeps its state per process, not per server: start every test from an empty S3
    import urllib.request
    urllib.request.urlopen(urllib.request.Request(endpoint + "/moto-api/reset", method="POST"), timeout=10).close()
    try:
        yield endpoint
    finally:
        server.stop()
