"""Experience transport on Redis Streams, and the model-version notifications (pub/sub).

Delivery is *at-least-once*, counting is *exactly-once*:

- Workers ``XADD`` one complete episode per stream entry (fields ``episode_id`` and ``data``, the
  :mod:`.wire` record). If Redis is down the worker keeps the episode and retries with exponential
  backoff; a retry after a lost reply can add the same episode twice, which is fine because:
- the trainer reads with ``XREADGROUP`` in a consumer group and ``XACK``s (then ``XDEL``s) an entry
  only once the episode was used in a *published* model version, or dropped (duplicate, stale,
  corrupt). A trainer that dies before publishing leaves its entries pending; on restart
  :meth:`ExperienceStream.reclaim` takes them back (``XAUTOCLAIM``) and they are used again.
- the trainer remembers the episode ids it has used (saved with every published version), so a
  redelivered or duplicated episode is never counted twice.
- Redis itself should run with ``appendonly yes`` (``run_local`` does), so un-ACKed entries and the
  consumer group survive a Redis restart. Without persistence a restart loses what was waiting in
  the stream (never what the trainer already holds); the group is recreated automatically.

Security: password and ACL username, TLS (``ssl``, CA certificate, client certificate) are passed
straight to redis-py. :meth:`RedisSettings.describe` is the only way settings are logged, and it
never prints the password.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

log = logging.getLogger(__name__)

STREAM_KEY = "deepracer:experience"
GROUP = "trainers"
MODEL_CHANNEL = "deepracer:models"
_CONN_ERRORS = (redis.ConnectionError, redis.TimeoutError, ConnectionError, OSError)


class TransportError(RuntimeError):
    """Redis could not be reached in time or answered something unusable."""


@dataclass
class RedisSettings:
    """Where and how to reach Redis. ``password`` may also come from ``REDIS_PASSWORD``."""

    host: str = "127.0.0.1"
    port: int = 6379
    db: int = 0
    username: str | None = None          # Redis 6+ ACL user; None = the default user
    password: str | None = field(default=None, repr=False)
    ssl: bool = False
    ssl_ca_certs: str | None = None      # CA bundle that signed the server certificate
    ssl_certfile: str | None = None      # client certificate (mutual TLS), optional
    ssl_keyfile: str | None = None
    socket_timeout_s: float = 10.0
    stream: str = STREAM_KEY
    group: str = GROUP
    channel: str = MODEL_CHANNEL

    @classmethod
    def from_url(cls, url: str, **overrides: Any) -> "RedisSettings":
        """Parse ``redis://[user:password@]host:port/db`` or ``rediss://`` (TLS)."""
        from urllib.parse import unquote, urlparse

        u = urlparse(url)
        if u.scheme not in ("redis", "rediss"):
            raise ValueError(f"redis url must start with redis:// or rediss://, got {u.scheme!r}://")
        s = cls(host=u.hostname or "127.0.0.1", port=u.port or 6379,
                db=int((u.path or "/0").strip("/") or 0),
                username=unquote(u.username) if u.username else None,
                password=unquote(u.password) if u.password else None, ssl=u.scheme == "rediss")
        for k, v in overrides.items():
            if v is not None:
                setattr(s, k, v)
        return s

    def describe(self) -> str:
        """A loggable description: host, port, user, TLS; the password only as 'set' or 'none'."""
        return (f"redis{'s' if self.ssl else ''}://{self.username + '@' if self.username else ''}"
                f"{self.host}:{self.port}/{self.db} (password {'set' if self.password else 'none'})")

    def client(self, retries: int = 3) -> redis.Redis:
        """A redis-py client that retries a failing command ``retries`` times (exponential backoff)."""
        kwargs: dict[str, Any] = dict(
            host=self.host, port=self.port, db=self.db, username=self.username, password=self.password,
            socket_timeout=self.socket_timeout_s, socket_connect_timeout=self.socket_timeout_s,
            retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), retries),
            retry_on_error=[redis.ConnectionError, redis.TimeoutError], health_check_interval=30,
        )
        if self.ssl:
            kwargs.update(ssl=True, ssl_ca_certs=self.ssl_ca_certs, ssl_certfile=self.ssl_certfile,
                          ssl_keyfile=self.ssl_keyfile)
        return redis.Redis(**kwargs)


class Backoff:
    """Exponential backoff with a cap: 0.1, 0.2, 0.4 ... ``cap_s`` seconds; ``reset()`` on success."""

    def __init__(self, base_s: float = 0.1, cap_s: float = 5.0):
        self.base_s, self.cap_s, self.failures = base_s, cap_s, 0

    def reset(self) -> None:
        self.failures = 0

    def next_delay(self) -> float:
        self.failures += 1
        return min(self.cap_s, self.base_s * 2 ** (self.failures - 1))


def call_with_reconnect(fn: Callable[[], Any], what: str, deadline_s: float | None = None,
                        should_stop: Callable[[], bool] = lambda: False, backoff: Backoff | None = None) -> Any:
    """Call ``fn`` until it succeeds, sleeping with exponential backoff on connection errors.

    Gives up with :class:`TransportError` after ``deadline_s`` seconds (None = never) or as soon as
    ``should_stop()`` is true. Other Redis errors propagate unchanged.
    """
    backoff = backoff or Backoff()
    start = time.monotonic()
    while True:
        try:
            result = fn()
            if backoff.failures:
                log.info("redis reachable again (%s) after %d failed attempts", what, backoff.failures)
            backoff.reset()
            return result
        except redis.AuthenticationError as exc:   # a wrong password does not heal with time
            raise TransportError(f"redis rejected the credentials during {what} (check the user and the "
                                 f"password variable): {type(exc).__name__}") from None
        except _CONN_ERRORS as exc:
            delay = backoff.next_delay()
            if backoff.failures == 1 or backoff.failures % 10 == 0:
                log.warning("redis unreachable during %s (%s); retrying with backoff (next in %.1f s)",
                            what, type(exc).__name__, delay)
            if should_stop() or (deadline_s is not None and time.monotonic() - start + delay > deadline_s):
                raise TransportError(f"redis unreachable during {what}: {exc}") from exc
            time.sleep(delay)


@dataclass
class StreamEntry:
    entry_id: bytes
    episode_id: str
    data: bytes


class ExperienceStream:
    """Both ends of the experience stream (a worker uses :meth:`push`, the trainer the rest)."""

    def __init__(self, settings: RedisSettings, consumer: str = "trainer",
                 should_stop: Callable[[], bool] = lambda: False):
        self.settings, self.consumer, self.should_stop = settings, consumer, should_stop
        self.r = settings.client()

    def _retry(self, fn: Callable[[], Any], what: str, deadline_s: float | None = None) -> Any:
        return call_with_reconnect(fn, what, deadline_s, self.should_stop)

    # -- worker side -------------------------------------------------------------------------
    def push(self, episode_id: str, data: bytes, deadline_s: float | None = None) -> bytes:
        """Append one encoded episode; retries through Redis outages. Returns the entry id."""
        return self._retry(lambda: self.r.xadd(self.settings.stream, {"episode_id": episode_id, "data": data}),
                           "XADD", deadline_s)

    def backlog(self) -> int:
        """Entries in the stream (read or not, until the trainer deletes them)."""
        return int(self._retry(lambda: self.r.xlen(self.settings.stream), "XLEN"))

    # -- trainer side ------------------------------------------------------------------------
    def ensure_group(self) -> None:
        """Create the consumer group (and the stream) if missing; idempotent."""
        def create() -> None:
            try:
                self.r.xgroup_create(self.settings.stream, self.settings.group, id="0", mkstream=True)
            except redis.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
        self._retry(create, "XGROUP CREATE")

    def _parse(self, raw: list[Any]) -> list[StreamEntry]:
        out = []
        for entry_id, fields in raw:
            if fields is None:  # an entry deleted while pending
                continue
            out.append(StreamEntry(entry_id, fields.get(b"episode_id", b"").decode(errors="replace"),
                                   fields.get(b"data", b"")))
        return out

    def read(self, count: int = 64, block_ms: int = 1000) -> list[StreamEntry]:
        """New entries for this consumer (XREADGROUP ... >); [] after ``block_ms`` without any."""
        def once() -> list[StreamEntry]:
            try:
                resp = self.r.xreadgroup(self.settings.group, self.consumer, {self.settings.stream: ">"},
                                         count=count, block=block_ms)
            except redis.ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    raise
                log.warning("consumer group missing (Redis restarted without persistence?); recreating it")
                self.ensure_group()
                return []
            return self._parse(resp[0][1]) if resp else []
        return self._retry(once, "XREADGROUP")

    def reclaim(self, min_idle_ms: int = 0) -> list[StreamEntry]:
        """Take over pending (delivered, never ACKed) entries: this consumer's own and, with
        ``XAUTOCLAIM``, other consumers' idle for at least ``min_idle_ms``. Used after a restart."""
        def once() -> list[StreamEntry]:
            out: list[StreamEntry] = []
            start: Any = "0-0"
            while True:
                resp = self.r.xautoclaim(self.settings.stream, self.settings.group, self.consumer,
                                         min_idle_ms, start_id=start, count=100)
                start, claimed = resp[0], resp[1]
                out += self._parse(claimed)
                if start in (b"0-0", "0-0"):
                    return out
        try:
            return self._retry(once, "XAUTOCLAIM")
        except redis.ResponseError as exc:
            if "NOGROUP" in str(exc):
                self.ensure_group()
                return []
            raise

    def ack(self, entry_ids: list[bytes], delete: bool = True) -> None:
        """Acknowledge entries (and delete them so the stream does not grow)."""
        if not entry_ids:
            return
        def once() -> None:
            p = self.r.pipeline()
            p.xack(self.settings.stream, self.settings.group, *entry_ids)
            if delete:
                p.xdel(self.settings.stream, *entry_ids)
            p.execute()
        self._retry(once, "XACK")

    def pending_count(self) -> int:
        info = self._retry(lambda: self.r.xpending(self.settings.stream, self.settings.group), "XPENDING")
        return int(info["pending"])

    # -- notifications -----------------------------------------------------------------------
    def announce(self, version: int) -> None:
        """Tell subscribers (workers, evaluators) that model ``version`` is published.

        Pub/sub is fire-and-forget: a missed message is harmless because readers also poll the
        model store's ``latest`` pointer (and the ``<channel>:latest`` key set here)."""
        msg = json.dumps({"version": int(version)})
        def once() -> None:
            p = self.r.pipeline()
            p.set(self.settings.channel + ":latest", int(version))
            p.publish(self.settings.channel, msg)
            p.execute()
        self._retry(once, "PUBLISH", deadline_s=30.0)


class ModelNotifications:
    """Subscriber side of :meth:`ExperienceStream.announce`; survives Redis restarts."""

    def __init__(self, settings: RedisSettings):
        self.settings = settings
        self.r = settings.client(retries=1)
        self._pubsub: Any = None

    def _ensure(self) -> Any:
        if self._pubsub is None:
            ps = self.r.pubsub(ignore_subscribe_messages=True)
            ps.subscribe(self.settings.channel)
            self._pubsub = ps
        return self._pubsub

    def poll(self, timeout_s: float = 0.0) -> int | None:
        """The highest version announced so far (messages since the last call, and the
        ``<channel>:latest`` key, which covers messages lost while a connection was down), else
        None. Never raises on a lost connection: it resubscribes on the next call."""
        best: int | None = None
        try:
            ps = self._ensure()
            msg = ps.get_message(timeout=timeout_s)
            while msg is not None:
                if msg.get("type") == "message":
                    try:
                        v = int(json.loads(msg["data"])["version"])
                        best = v if best is None else max(best, v)
                    except (ValueError, KeyError, TypeError):
                        log.warning("ignoring a malformed model notification")
                msg = ps.get_message(timeout=0.0)
        except _CONN_ERRORS:
            self.close()
        try:
            v = self.r.get(self.settings.channel + ":latest")
            if v is not None:
                best = int(v) if best is None else max(best, int(v))
        except _CONN_ERRORS:
            pass
        except ValueError:
            log.warning("ignoring a malformed %s:latest key", self.settings.channel)
        return best

    def close(self) -> None:
        if self._pubsub is not None:
            try:
                self._pubsub.close()
            except Exception:  # noqa: BLE001 - closing a dead connection
                pass
            self._pubsub = None


def iter_entries(stream: ExperienceStream, stop: Callable[[], bool], block_ms: int = 500) -> Iterator[StreamEntry]:
    """Yield entries until ``stop()``; a small convenience for tools and tests."""
    while not stop():
        yield from stream.read(block_ms=block_ms)
