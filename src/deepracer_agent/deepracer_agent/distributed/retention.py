"""Model-store retention: keep the newest K versions plus the best-scoring ones, delete the rest
safely.

What is kept (``retention`` settings of :class:`~.config.DistributedConfig`):

- the newest ``keep_last`` versions (never fewer than ``max_policy_lag + 2``: the versions an
  episode still in flight may have been produced with, plus the one a worker is downloading);
- the ``keep_best`` versions with the highest evaluator score (``evaluations/vNNNNNN.json`` records:
  robust lap-completion rate, then mean progress);
- every version a reader holds a LEASE on. Workers and evaluators put a key
  ``<stream>:lease:<reader>`` = version in Redis with a time-to-live (``lease_ttl_s``) before they
  load a version and refresh it while they use it; the trainer never deletes a leased version.
  A reader that dies simply lets its lease expire.

Deletion order is the reverse of publication: the manifest first (from then on the version does
not exist for readers), then its objects; ``latest`` is never touched and never deleted.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Iterable

from .model_store import ModelStore, ModelStoreError
from .transport import RedisSettings

log = logging.getLogger("deepracer.retention")


def lease_key(settings: RedisSettings, reader: str) -> str:
    return f"{settings.stream}:lease:{reader}"


class ReaderLease:
    """A reader's (worker's, evaluator's) claim on the version it uses; a Redis key with a TTL.

    Errors talking to Redis are logged, never raised: a missing lease only makes the version
    eligible for deletion once it is also outside the newest ``keep_last``."""

    def __init__(self, settings: RedisSettings, reader: str, ttl_s: float = 300.0):
        self.settings, self.key, self.ttl_ms = settings, lease_key(settings, reader), max(1, int(ttl_s * 1000))
        self._r: Any = None

    def hold(self, version: int) -> None:
        try:
            if self._r is None:
                self._r = self.settings.client()
            self._r.set(self.key, int(version), px=self.ttl_ms)
        except Exception as exc:  # noqa: BLE001 - redis errors of any kind: log, go on
            log.warning("cannot write lease %s: %s", self.key, exc)
            self._r = None

    def release(self) -> None:
        try:
            if self._r is not None:
                self._r.delete(self.key)
        except Exception:  # noqa: BLE001
            pass


def leased_versions(client: Any, settings: RedisSettings) -> set[int]:
    """Versions held by any live lease (expired leases are gone from Redis already)."""
    out: set[int] = set()
    for key in client.scan_iter(match=f"{settings.stream}:lease:*", count=100):
        raw = client.get(key)
        try:
            out.add(int(raw))
        except (TypeError, ValueError):
            continue
    return out


def score_key(row: dict[str, Any]) -> tuple[float, float]:
    """Ordering of evaluator records: robust success rate, then mean completion (progress)."""
    def num(k: str) -> float:
        v = row.get(k)
        return float(v) if isinstance(v, (int, float)) else -1.0
    return num("success_rate"), num("mean_completion")


@dataclass
class RetentionPlan:
    keep: list[int]
    delete: list[int]


def plan(versions: Iterable[int], latest: int | None, keep_last: int, keep_best: int,
         scores: dict[int, tuple[float, float]], leased: set[int], min_keep_last: int = 2) -> RetentionPlan:
    """Pure rule: which ``versions`` stay and which may go (see the module docstring)."""
    vs = sorted(set(versions))
    n_last = max(int(keep_last), int(min_keep_last), 1)
    keep = set(vs[-n_last:])
    best = sorted((v for v in vs if v in scores), key=lambda v: (scores[v], v), reverse=True)[:max(0, keep_best)]
    keep |= set(best) | (leased & set(vs))
    if latest is not None:
        keep.add(latest)
    return RetentionPlan(sorted(keep), [v for v in vs if v not in keep])


def read_scores(store: ModelStore, versions: Iterable[int]) -> dict[int, tuple[float, float]]:
    import json

    out = {}
    for v in versions:
        raw = store.get_record(f"evaluations/v{v:06d}.json")
        if raw is None:
            continue
        try:
            out[v] = score_key(json.loads(raw))
        except (ValueError, TypeError):
            continue
    return out


def prune(store: ModelStore, keep_last: int, keep_best: int, leased: set[int], min_keep_last: int = 2,
          scores: dict[int, tuple[float, float]] | None = None) -> list[int]:
    """Delete the versions :func:`plan` does not keep; returns them. A failed deletion is logged
    and retried at the next call (the manifest goes first, so a half-deleted version is invisible)."""
    versions = store.versions()
    if scores is None:
        scores = read_scores(store, versions)
    p = plan(versions, store.latest_pointer(), keep_last, keep_best, scores, leased, min_keep_last)
    deleted = []
    for v in p.delete:
        try:
            store.delete_version(v)
            store.delete_record(f"trainer/v{v:06d}/optimizer.npz")
            deleted.append(v)
        except ModelStoreError as exc:
            log.warning("could not delete version %d (retried later): %s", v, exc)
    return deleted
