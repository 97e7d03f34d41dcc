"""Settings shared by the decoupled-training roles (trainer, worker, evaluator, run_local).

A YAML file (``--config``) with the keys of :class:`DistributedConfig`; unknown keys and wrong
types are rejected with the key named. Command-line flags override the file. Secrets never go in
the file or on the command line: the Redis password is read from the environment variable named
by ``redis_password_env`` (default ``REDIS_PASSWORD``); S3 credentials come from the AWS chain.
"""
from __future__ import annotations

import argparse
import os
import signal
import threading
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from .runtime import DEFAULT_RUNTIME, WorkerSettings
from .transport import RedisSettings


class ConfigError(ValueError):
    """A bad decoupled-training setting; the message names the file and the key."""


@dataclass
class DistributedConfig:
    redis_url: str = "redis://127.0.0.1:6379/0"     # rediss:// for TLS; no password in the URL
    redis_username: str | None = None               # ACL user
    redis_password_env: str = "REDIS_PASSWORD"      # env var holding the password
    redis_ssl_ca_certs: str | None = None
    redis_ssl_certfile: str | None = None
    redis_ssl_keyfile: str | None = None
    store: str = "runs/decoupled/store"             # folder, or s3://bucket/prefix
    store_endpoint_url: str | None = None           # MinIO / moto / other S3 API; None = AWS
    run_dir: str = "runs/decoupled"                 # metrics and logs of this machine's roles
    num_episodes_between_training: int = 20
    max_policy_lag: int = 1                         # drop episodes from versions older than latest - lag
    max_versions: int | None = None                 # trainer: stop after publishing this version
    max_wall_time_s: float | None = None            # trainer/worker/evaluator: stop after this long
    trainer_device: str = "cpu"                     # torch device of the PPO update (cpu, cuda, auto)
    max_backlog: int = 200                          # worker: wait while more entries are queued
    compression: str = "zlib"                       # experience frames on the wire: none | zlib | lz4
    runtime: str = DEFAULT_RUNTIME
    training: dict[str, Any] | str = field(default_factory=dict)   # training config or a YAML path
    workers: list[dict[str, Any]] = field(default_factory=list)    # per-worker settings by index
    evaluation: dict[str, Any] = field(default_factory=dict)       # evaluator options

    def validate(self, source: str = "config") -> None:
        for name, lo in (("num_episodes_between_training", 1), ("max_policy_lag", 0), ("max_backlog", 1)):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < lo:
                raise ConfigError(f"{source}: '{name}' must be an integer >= {lo}, got {v!r}")
        if self.compression not in ("none", "zlib", "lz4"):
            raise ConfigError(f"{source}: 'compression' must be none, zlib or lz4, got {self.compression!r}")
        if not self.redis_url.startswith(("redis://", "rediss://")):
            raise ConfigError(f"{source}: 'redis_url' must start with redis:// or rediss://")
        if "@" in self.redis_url.split("//", 1)[1].split("/", 1)[0] and ":" in self.redis_url.split("//", 1)[1].split("@")[0]:
            raise ConfigError(f"{source}: 'redis_url' must not contain a password; set the environment "
                              f"variable named by 'redis_password_env' ({self.redis_password_env}) instead")
        for i, w in enumerate(self.workers):
            if not isinstance(w, dict):
                raise ConfigError(f"{source}: 'workers[{i}]' must be a mapping")
            unknown = set(w) - {f.name for f in fields(WorkerSettings)}
            if unknown:
                raise ConfigError(f"{source}: 'workers[{i}]' has unknown keys {sorted(unknown)}")

    # -- derived ---------------------------------------------------------------------------------
    def redis_settings(self) -> RedisSettings:
        return RedisSettings.from_url(
            self.redis_url, username=self.redis_username, password=os.environ.get(self.redis_password_env) or None,
            ssl_ca_certs=self.redis_ssl_ca_certs, ssl_certfile=self.redis_ssl_certfile,
            ssl_keyfile=self.redis_ssl_keyfile)

    def training_spec(self) -> dict[str, Any]:
        """{"runtime": ..., "config": training dict} as published in training_config.json."""
        training = self.training
        if isinstance(training, str):
            import yaml
            path = Path(training)
            try:
                training = yaml.safe_load(path.read_text()) or {}
            except OSError as exc:
                raise ConfigError(f"training config {path}: cannot read it ({exc.strerror})") from exc
            except yaml.YAMLError as exc:
                raise ConfigError(f"training config {path}: not valid YAML ({exc})") from exc
            if not isinstance(training, dict):
                raise ConfigError(f"training config {path}: must be a mapping")
        return {"runtime": self.runtime, "config": training}

    def worker_settings(self, index: int, worker_id: str | None = None) -> WorkerSettings:
        base = dict(self.workers[index]) if index < len(self.workers) else {}
        base.setdefault("worker_id", worker_id or f"worker-{index}")
        if worker_id:
            base["worker_id"] = worker_id
        return WorkerSettings(**base)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_config(path: str | Path | None, overrides: dict[str, Any] | None = None) -> DistributedConfig:
    """Read a YAML file (or nothing) and apply ``overrides`` (None values are ignored)."""
    data: dict[str, Any] = {}
    source = str(path) if path else "command line"
    if path:
        import yaml
        try:
            data = yaml.safe_load(Path(path).read_text()) or {}
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read the config ({exc.strerror})") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: the config must be a mapping of keys to values")
    data.update({k: v for k, v in (overrides or {}).items() if v is not None})
    known = {f.name: f for f in fields(DistributedConfig)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {unknown}; known keys: {sorted(known)}")
    cfg = DistributedConfig(**data)
    for name, f in known.items():  # shallow type check against the defaults
        v, default = getattr(cfg, name), (f.default if f.default is not MISSING else f.default_factory())  # type: ignore[misc]
        if v is None or default is None:
            continue
        if isinstance(default, bool) != isinstance(v, bool) or (
                isinstance(default, (int, float)) and not isinstance(v, (int, float))) or (
                isinstance(default, str) and not isinstance(v, str) and name != "training"):
            raise ConfigError(f"{source}: '{name}' has the wrong type ({type(v).__name__}, expected "
                              f"{type(default).__name__})")
    cfg.validate(source)
    return cfg


def common_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags every role accepts (each overrides the --config file)."""
    parser.add_argument("--config", help="YAML file with the decoupled-training settings")
    parser.add_argument("--redis-url", help="redis://host:port/db or rediss:// (TLS); password via $REDIS_PASSWORD")
    parser.add_argument("--redis-username", help="Redis ACL user name")
    parser.add_argument("--redis-password-env", help="environment variable that holds the Redis password")
    parser.add_argument("--redis-ca-cert", dest="redis_ssl_ca_certs", help="CA certificate for TLS")
    parser.add_argument("--store", help="model store: a folder or s3://bucket/prefix")
    parser.add_argument("--store-endpoint-url", help="S3 API endpoint (MinIO, moto); default AWS")
    parser.add_argument("--run-dir", help="folder for this role's metrics")
    parser.add_argument("--max-wall-time-s", type=float, help="stop after this many seconds")


def config_from_args(args: argparse.Namespace, extra: tuple[str, ...] = ()) -> DistributedConfig:
    keys = ("redis_url", "redis_username", "redis_password_env", "redis_ssl_ca_certs", "store",
            "store_endpoint_url", "run_dir", "max_wall_time_s") + extra
    return load_config(args.config, {k: getattr(args, k, None) for k in keys})


class StopFlag:
    """Set by SIGTERM/SIGINT (or by code); roles check it between steps and exit cleanly."""

    def __init__(self, install_signals: bool = True):
        self.event = threading.Event()
        if install_signals and threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: self.event.set())

    def __call__(self) -> bool:
        return self.event.is_set()

    def set(self) -> None:
        self.event.set()
