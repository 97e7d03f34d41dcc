"""Decoupled training (the DeepRacer paper's architecture): rollout workers, a trainer and
evaluators that scale independently, connected by Redis Streams (experiences, notifications) and
a versioned, checksummed model store (a local folder or S3-compatible bucket).

Modules: :mod:`.wire` (episode records, no pickle), :mod:`.transport` (Redis Streams, pub/sub,
reconnects), :mod:`.model_store` (LocalFolderStore, S3Store), :mod:`.redis_server` (a private
loopback redis-server), :mod:`.trainer`, :mod:`.worker`, :mod:`.evaluator` (the roles, each a
``main(argv) -> int``), :mod:`.local` (``run_local``: everything on one machine).
"""
