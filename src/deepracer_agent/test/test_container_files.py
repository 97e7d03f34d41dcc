"""docker/Dockerfile and docker/docker-compose.yml checked with what runs here (no Docker engine):
the compose file parses, every role's command is a real `deepracer` verb whose REAL argument
parser accepts the arguments, workers and the evaluator get nothing but the Redis URL, the S3
endpoint and credentials (no volume, no config file), Redis has a password, and the Dockerfile's
structure holds (base image first, every COPY source exists, non-root user, the entrypoint runs the
dispatcher)."""
from __future__ import annotations

import argparse
import importlib
import os
import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
DOCKER = REPO / "docker"


class _Parsed(Exception):
    def __init__(self, ns: argparse.Namespace):
        self.ns = ns


def parse_with_verb(argv: list[str], monkeypatch) -> argparse.Namespace:
    """Run the verb's own ``main`` until its parser has parsed ``argv`` (then stop it)."""
    from deepracer_common.cli import discover

    verbs = discover()
    assert argv[0] in verbs, f"compose command {argv[0]!r} is not a deepracer verb ({sorted(verbs)})"
    mod, _, fn = verbs[argv[0]].target.partition(":")
    original = argparse.ArgumentParser.parse_args

    def spy(self, args=None, namespace=None):
        raise _Parsed(original(self, args, namespace))
    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", spy)
    with pytest.raises(_Parsed) as got:
        getattr(importlib.import_module(mod), fn)(argv[1:])
    return got.value.ns


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((DOCKER / "docker-compose.yml").read_text())


def _roles(compose):
    return {n: s for n, s in compose["services"].items() if s.get("image", "").startswith("deepracer")}


def test_compose_services_and_redis_password(compose):
    services = compose["services"]
    assert {"redis", "minio", "trainer", "evaluator"} <= set(services)
    assert len([n for n in services if n.startswith("worker-")]) >= 2
    redis_cmd = services["redis"]["command"]
    assert "--requirepass" in redis_cmd and redis_cmd[redis_cmd.index("--requirepass") + 1].startswith("${REDIS_PASSWORD")


def test_every_role_command_parses_with_the_real_cli(compose, monkeypatch):
    from deepracer_agent.distributed.config import DistributedConfig

    seen = set()
    for name, svc in _roles(compose).items():
        ns = parse_with_verb(list(svc["command"]), monkeypatch)
        seen.add(svc["command"][0])
        assert ns.redis_url.startswith("redis://") and "@" not in ns.redis_url, name
        assert ns.store.startswith("s3://") and ns.store_endpoint_url, name
        env = svc["environment"]
        # the password reaches each role through the variable the config reads by default
        assert DistributedConfig().redis_password_env in env, name
        assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} <= set(env), name
        assert not any(re.fullmatch(r"[^$]+", str(v)) and "SECRET" in k for k, v in env.items()), \
            f"{name}: a secret is written into the compose file"
    assert seen == {"trainer", "worker", "evaluator"}


def test_workers_and_evaluator_share_no_filesystem(compose):
    for name, svc in _roles(compose).items():
        if svc["command"][0] in ("worker", "evaluator"):
            assert not svc.get("volumes"), f"{name} mounts a volume: workers must need only Redis + S3"
            assert "--config" not in svc["command"], f"{name} reads a config file"
    indexes = sorted(int(s["command"][s["command"].index("--index") + 1])
                     for s in _roles(compose).values() if s["command"][0] == "worker")
    assert indexes == list(range(len(indexes))), "worker --index values must be 0..N-1"


def test_trainer_config_is_valid_and_names_every_worker(compose, tmp_path):
    from deepracer_agent.distributed.config import load_config
    from deepracer_agent.distributed.runtime import DeepRacerRuntime

    trainer = compose["services"]["trainer"]
    mounts = dict(v.split(":")[:2] for v in trainer["volumes"])
    in_container = trainer["command"][trainer["command"].index("--config") + 1]
    host = DOCKER / next(h for h, c in mounts.items() if c == in_container)   # the file the trainer mounts
    cfg = load_config(host)
    assert str(cfg.training).startswith("/opt/deepracer/")          # inside the image: the repo's copy
    local_training = REPO / str(cfg.training).removeprefix("/opt/deepracer/")
    assert local_training.is_file(), f"{cfg.training} is not in the image (no {local_training})"
    n_workers = len([n for n in compose["services"] if n.startswith("worker-")])
    assert len(cfg.workers) >= n_workers
    rt = DeepRacerRuntime(yaml.safe_load(local_training.read_text()))
    for i in range(n_workers):
        ws = cfg.worker_settings(i)
        c = rt._cfg_for(ws)                       # the worker's own config validates (track, randomization, speed)
        if ws.track:
            assert c.track == ws.track


def test_dockerfile_structure():
    lines = [l.strip() for l in (DOCKER / "Dockerfile").read_text().splitlines()]
    # join continuation lines into instructions
    instr, cur = [], ""
    for l in lines:
        if not l or l.startswith("#"):
            continue
        cur = f"{cur} {l[:-1].strip()}" if l.endswith("\\") else f"{cur} {l}"
        if not l.endswith("\\"):
            instr.append(cur.strip())
            cur = ""
    ops = [i.split()[0].upper() for i in instr]
    assert ops[0] == "FROM", "the first instruction must be FROM"
    assert set(ops) <= {"FROM", "ENV", "RUN", "WORKDIR", "COPY", "USER", "ENTRYPOINT", "CMD", "ARG", "LABEL", "EXPOSE"}
    for i in instr:
        if i.upper().startswith("COPY"):
            for src in i.split()[1:-1]:
                assert (REPO / src).exists(), f"COPY source {src} does not exist in the build context"
    assert "USER" in ops and not any(i == "USER root" for i in instr), "the roles must not run as root"
    torch_pin = re.search(r'torch==([\d.]+)', (REPO / "Makefile").read_text()).group(1)
    assert f"torch=={torch_pin}" in " ".join(instr), "the image's torch must be the Makefile's pin"
    entry = DOCKER / "entrypoint.sh"
    assert os.access(entry, os.X_OK)
    assert "deepracer_common.cli" in entry.read_text()
    assert any(i.startswith("ENTRYPOINT") for i in instr)
