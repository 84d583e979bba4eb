"""Where durable events live in Redis; shared by the worker-side mirror and the collector.

One capped stream per shard of worker hostnames (`celery_admin:events:<shard>`), the shard a
stable hash of the hostname, so every event of one worker lands in one stream, in order, and the
shards can later be split between collectors (each claiming its shards through the lease).
Every entry carries its producer (`hostname/pid/nonce`: one per worker process life) and that
producer's sequence number, so a reader counts what fell off a stream's cap, or was dropped before
it got there, as a gap in the numbers.
"""

from __future__ import annotations

import zlib

STREAM_PREFIX = "celery_admin:events:"
GROUP = "celery-admin"
PRODUCERS_KEY = "celery_admin:events-producers"  # producer -> its counters (JSON)
FIELD = b"e"  # the one field of an entry: the event as JSON
DEFAULT_SHARDS = 4
DEFAULT_MAXLEN = 200_000
DEFAULT_ARGS_MAX_BYTES = 65_536


def shard_of(hostname: str, shards: int) -> int:
    """Stable across processes and Python versions (not `hash()`, which is salted)."""
    return zlib.crc32(hostname.encode()) % max(shards, 1)


def stream_key(shard: int) -> str:
    return f"{STREAM_PREFIX}{shard}"


def stream_keys(shards: int) -> list[str]:
    return [stream_key(i) for i in range(max(shards, 1))]


__all__ = [
    "DEFAULT_ARGS_MAX_BYTES",
    "DEFAULT_MAXLEN",
    "DEFAULT_SHARDS",
    "FIELD",
    "GROUP",
    "PRODUCERS_KEY",
    "STREAM_PREFIX",
    "shard_of",
    "stream_key",
    "stream_keys",
]
