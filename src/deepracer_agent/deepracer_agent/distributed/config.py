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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deepracer_common.options import Options, OptionsError, option, read_yaml

from .transport import RedisSettings

#: The runtime a training config names when it names none (see :mod:`.runtime`).
DEFAULT_RUNTIME = "deepracer_agent.distributed.runtime:DeepRacerRuntime"


class ConfigError(OptionsError):
    """A bad decoupled-training setting; the message names the key (and the file)."""


def _mapping(name: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{name}: expected a mapping of keys, got {type(value).__name__} {value!r}")
    return value


@dataclass
class WorkerSettings(Options):
    """A worker's own simulation settings; ``None`` keeps the training config's value."""

    error = ConfigError

    worker_id: str = option("worker-0", kind=str, doc="name in logs, metrics and experiences")
    track: str | None = option(None, kind=str, allow_none=True, doc="built-in track name or .npy path")
    seed: int | None = option(None, kind=int, lo=0, allow_none=True, doc="this worker's simulator seed")
    randomization: dict[str, Any] | None = option(None, kind=_mapping, allow_none=True,
                                                  doc="SimConfig randomization options")
    speed_scale: float | None = option(None, lo=0.1, hi=3.0, allow_none=True,
                                       doc="this worker's car: actual speed = commanded speed x this "
                                           "(sim.actuation.speed_scale)")
    overrides: dict[str, Any] = option(kind=_mapping, default_factory=dict,
                                       doc="other training-config keys (dotted)")

    def to_json(self) -> dict[str, Any]:
        return self.to_dict()


def _training(name: str, value: Any) -> dict[str, Any] | str:
    if isinstance(value, str):
        return value
    return _mapping(name, value)


def _workers(name: str, value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise ConfigError(f"{name}: expected a list of per-worker settings, got {value!r}")
    for i, w in enumerate(value):
        WorkerSettings.from_dict(w, prefix=f"{name}[{i}]", error=ConfigError)   # keys and values checked
    return value


def _redis_url(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.startswith(("redis://", "rediss://")):
        raise ConfigError(f"{name}: must start with redis:// or rediss://")
    netloc = value.split("//", 1)[1].split("/", 1)[0]
    if "@" in netloc and ":" in netloc.split("@")[0]:
        raise ConfigError(f"{name}: must not contain a password; set the environment variable named by "
                          f"'redis_password_env' instead")
    return value


@dataclass
class DistributedConfig(Options):
    """Settings of the decoupled-training roles (one YAML file, flags override it)."""

    error = ConfigError

    redis_url: str = option("redis://127.0.0.1:6379/0", kind=_redis_url,
                            doc="redis:// or rediss:// (TLS); no password in the URL")
    redis_username: str | None = option(None, kind=str, allow_none=True, doc="ACL user")
    redis_password_env: str = option("REDIS_PASSWORD", kind=str, doc="environment variable holding the password")
    redis_ssl_ca_certs: str | None = option(None, kind=str, allow_none=True)
    redis_ssl_certfile: str | None = option(None, kind=str, allow_none=True)
    redis_ssl_keyfile: str | None = option(None, kind=str, allow_none=True)
    store: str = option("runs/decoupled/store", kind=str, doc="folder, or s3://bucket/prefix")
    store_endpoint_url: str | None = option(None, kind=str, allow_none=True,
                                            doc="MinIO / moto / other S3 API; None = AWS")
    run_dir: str = option("runs/decoupled", kind=str, doc="metrics and logs of this machine's roles")
    num_episodes_between_training: int = option(20, kind=int, lo=1, doc="K: episodes per PPO update")
    k_per_worker: int | None = option(None, kind=int, lo=1, allow_none=True,
                                      doc="scale K with the workers: an update waits for max(K, k_per_worker x "
                                          "active workers) episodes (null: K alone); keeps the policy lag of "
                                          "an episode (in versions) the same for any number of workers")
    max_policy_lag: int = option(1, kind=int, lo=0, doc="drop episodes from versions older than latest - lag")
    max_versions: int | None = option(None, kind=int, lo=0, allow_none=True,
                                      doc="trainer: stop after publishing this version")
    max_wall_time_s: float | None = option(None, lo=0.0, lo_open=True, allow_none=True, unit="s",
                                           doc="trainer/worker/evaluator: stop after this long")
    keep_versions: int | None = option(5, kind=int, lo=1, allow_none=True,
                                       doc="model store: keep the newest K versions (None: keep all); never "
                                           "fewer than max_policy_lag + 2")
    keep_best_versions: int = option(2, kind=int, lo=0, doc="model store: also keep the best-scoring versions")
    lease_ttl_s: float = option(300.0, lo=1.0, unit="s",
                                doc="a reader's lease on the version it uses expires after this long without refresh")
    trainer_device: str = option("cpu", kind=str, doc="torch device of the PPO update (cpu, cuda, auto)")
    max_backlog: int = option(200, kind=int, lo=1, doc="worker: wait while more entries are queued")
    compression: str = option("zlib", kind=str, choices=("none", "zlib", "lz4"),
                              doc="experience frames on the wire")
    runtime: str = option(DEFAULT_RUNTIME, kind=str, doc="module:Class building env, model and metadata")
    training: dict[str, Any] | str = option(kind=_training, default_factory=dict,
                                            doc="training config (mapping) or a YAML path")
    workers: list[dict[str, Any]] = option(kind=_workers, default_factory=list, doc="per-worker settings by index")
    evaluation: dict[str, Any] = option(kind=_mapping, default_factory=dict, doc="evaluator options")

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
            training = read_yaml(training, ConfigError, what="training config")
        return {"runtime": self.runtime, "config": training}

    def worker_settings(self, index: int, worker_id: str | None = None) -> WorkerSettings:
        base = dict(self.workers[index]) if index < len(self.workers) else {}
        base.setdefault("worker_id", worker_id or f"worker-{index}")
        if worker_id:
            base["worker_id"] = worker_id
        return WorkerSettings.from_dict(base, prefix=f"workers[{index}]")


def load_config(path: str | Path | None, overrides: dict[str, Any] | None = None) -> DistributedConfig:
    """Read a YAML file (or nothing) and apply ``overrides`` (None values are ignored)."""
    data: dict[str, Any] = read_yaml(path, ConfigError) if path else {}
    data.update({k: v for k, v in (overrides or {}).items() if v is not None})
    try:
        return DistributedConfig.from_dict(data)
    except ConfigError as exc:
        raise ConfigError(f"{exc} (in {path or 'command line'})") from None


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
