"""Queues on a Redis broker, read the way kombu lays them out: the one module that knows it.

A queue `q` is a list; with priorities kombu adds lists `q\\x06\\x16{p}`. kombu pushes with LPUSH
and consumes with (B)RPOP, so the oldest message of each list is at index -1. Messages a worker
holds but has not acknowledged sit in the `unacked` hash as `[payload, exchange, routing_key]`.
Bindings live in sets `_kombu.binding.<exchange>` whose members end with the queue name, which is
how queues are discovered on any cluster. Everything else (depths, purge, the monitoring's
oldest-message age, finding a waiting task by id, taking a revoked task's message out of its
queue) asks this backend instead of reading keys.

Removing a revoked task's waiting message (`remove_waiting`): read the lists in chunks from the
tail (producers LPUSH at the head and workers pop the tail, so tail-relative positions stay put
while only producers are active, e.g. with every worker down), find the entry whose `headers.id`
is a revoked id, and `LREM` exactly that entry. `LREM` removing nothing means a worker popped it
in between: the revoke broadcast covers that one. Bounded: at most `MAX_REMOVAL_SCAN` entries per
call, `REMOVAL_CHUNK` per read; where a list is longer the report says so. Messages in `unacked`
are left alone: the worker holding them gets the broadcast (or the re-send).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import AsyncIterator, Mapping

from redis import asyncio as aioredis

from src.brokers.base import PeekedMessage, QueueDepth, RemovalReport, peeked_from_headers
from src.security.pools import blocking_redis

PRIORITY_SEP = "\x06\x16"
PRIORITY_STEPS = tuple(range(1, 10))
BINDING_PREFIX = "_kombu.binding."
UNACKED_KEY = "unacked"
MAX_UNACKED_SCAN = 10_000
MAX_PEEKED_QUEUES = 200
MAX_SCAN_PER_LIST = 2000
MAX_QUEUES_SCANNED = 200
REMOVAL_CHUNK = 1000
MAX_REMOVAL_SCAN = 200_000
_TASK_ID = re.compile(rb'"id":\s*"([^"]{1,255})"')  # a cheap pre-filter before json.loads


def list_key(queue: str, priority: int = 0) -> str:
    """The Redis list holding `queue`'s messages of one priority level (0: the plain list)."""
    return queue if priority == 0 else f"{queue}{PRIORITY_SEP}{priority}"


def list_keys(queue: str) -> list[str]:
    """Every list of a queue, highest priority (the plain list) first."""
    return [list_key(queue), *(list_key(queue, step) for step in PRIORITY_STEPS)]


def peeked(raw: bytes | str, priority: int) -> PeekedMessage:
    """A waiting message's task id, name and ETA from kombu's envelope (protocol 2 headers)."""
    try:
        envelope = json.loads(raw)
    except ValueError:
        envelope = None
    headers = envelope.get("headers") if isinstance(envelope, dict) else None
    return peeked_from_headers(headers, priority=priority)


def message_task_id(raw: bytes) -> str | None:
    """The task id of a waiting message (kombu's envelope, protocol 2: `headers.id`)."""
    try:
        headers = json.loads(raw).get("headers") or {}
    except (ValueError, AttributeError):
        return None
    value = headers.get("id") if isinstance(headers, dict) else None
    return value if isinstance(value, str) else None


class RedisQueueBackend:
    def __init__(self, url: str, *, timeout: float = 2.0) -> None:
        self._redis = blocking_redis(  # waits for a connection: never "Too many connections"
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            decode_responses=False,
            max_connections=16,
        )

    @property
    def redis(self) -> aioredis.Redis:
        return self._redis

    async def ping(self) -> None:
        await self._redis.ping()

    async def discover(self) -> set[str]:
        names: set[str] = set()
        keys = [key async for key in self._redis.scan_iter(match=BINDING_PREFIX + "*", count=500)]
        if not keys:
            return names
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.smembers(key)
            for members in await pipe.execute():
                for member in members:
                    queue = member.decode(errors="replace").rsplit(PRIORITY_SEP, 1)[-1]
                    if queue and not queue.endswith(".pidbox") and not queue.startswith("celeryev"):
                        names.add(queue)
        return names

    async def depths(self, names: list[str]) -> dict[str, QueueDepth]:
        if not names:
            return {}
        async with self._redis.pipeline(transaction=False) as pipe:
            for name in names:
                for key in list_keys(name):
                    pipe.llen(key)
            pipe.hlen(UNACKED_KEY)
            counts = await pipe.execute()
        unacked_total = int(counts[-1])
        unacked = await self._unacked_by_routing_key() if unacked_total else Counter()
        per_queue = 1 + len(PRIORITY_STEPS)
        result: dict[str, QueueDepth] = {}
        for i, name in enumerate(names):
            chunk = counts[i * per_queue : (i + 1) * per_queue]
            by_priority = {0: int(chunk[0])}
            by_priority.update(
                {step: int(n) for step, n in zip(PRIORITY_STEPS, chunk[1:], strict=True) if n}
            )
            result[name] = QueueDepth(
                name=name,
                messages=sum(by_priority.values()),
                by_priority=by_priority,
                unacked=unacked.get(name, 0),
            )
        return result

    async def _unacked_by_routing_key(self) -> Counter[str]:
        """Count unacked messages per routing key (which is the queue name for direct routing)."""
        counts: Counter[str] = Counter()
        seen = 0
        async for _tag, raw in self._redis.hscan_iter(UNACKED_KEY, count=500):
            seen += 1
            try:
                _payload, _exchange, routing_key = json.loads(raw)
            except (ValueError, TypeError):
                continue
            counts[str(routing_key)] += 1
            if seen >= MAX_UNACKED_SCAN:
                break
        return counts

    async def peek_oldest(self, depths: Mapping[str, QueueDepth]) -> dict[str, list[bytes]]:
        """The oldest waiting message of each non-empty priority list of each queue (at most
        MAX_PEEKED_QUEUES queues), highest priority first, read in one pipeline without
        consuming anything."""
        keys: list[tuple[str, str]] = []
        for name, depth in list(depths.items())[:MAX_PEEKED_QUEUES]:
            for priority, count in sorted(depth.by_priority.items()):
                if count:
                    keys.append((name, list_key(name, priority)))
        if not keys:
            return {}
        async with self._redis.pipeline(transaction=False) as pipe:
            for _name, key in keys:
                pipe.lindex(key, -1)
            raws = await pipe.execute()
        heads: dict[str, list[bytes]] = {}
        for (name, _key), raw in zip(keys, raws, strict=True):
            if raw is not None:
                heads.setdefault(name, []).append(raw)
        return heads

    async def peek(self, name: str, count: int) -> list[PeekedMessage]:
        """The next `count` messages to be delivered: the plain list first, then the priority
        lists in order (kombu's `priority` strategy), each read from its tail (its oldest)."""
        result: list[PeekedMessage] = []
        for priority, key in zip((0, *PRIORITY_STEPS), list_keys(name), strict=True):
            if len(result) >= count:
                break
            raws = await self._redis.lrange(key, -(count - len(result)), -1)
            result.extend(peeked(raw, priority) for raw in reversed(raws))
        return result

    async def scan(self, names: list[str], needle: bytes) -> AsyncIterator[tuple[str, bytes]]:
        """Waiting messages that contain `needle`, queue by queue (bounded: MAX_QUEUES_SCANNED
        queues, MAX_SCAN_PER_LIST messages of each list), without consuming anything."""
        for name in names[:MAX_QUEUES_SCANNED]:
            async with self._redis.pipeline(transaction=False) as pipe:
                for key in list_keys(name):
                    pipe.lrange(key, 0, MAX_SCAN_PER_LIST - 1)
                lists = await pipe.execute()
            for raw in (m for messages in lists for m in messages):
                if needle in raw:
                    yield name, raw

    async def remove_waiting(self, names: list[str], task_ids: list[str]) -> RemovalReport:
        """Remove the waiting messages of `task_ids` from the named queues (every priority list);
        see the module docstring."""
        wanted = set(task_ids)
        report = RemovalReport()
        queues = sorted(set(names))[:MAX_QUEUES_SCANNED]
        keys = [(name, key) for name in queues for key in list_keys(name)]
        if not wanted or not keys:
            return report
        async with self._redis.pipeline(transaction=False) as pipe:
            for _name, key in keys:
                pipe.llen(key)
            lengths = await pipe.execute()
        for (name, key), length in zip(keys, lengths, strict=True):
            offset = 0
            while offset < int(length) and wanted:
                if report.scanned >= MAX_REMOVAL_SCAN:
                    report.incomplete.append(name)
                    break
                chunk = await self._redis.lrange(key, -(offset + REMOVAL_CHUNK), -(offset + 1))
                offset += REMOVAL_CHUNK
                report.scanned += len(chunk)
                for entry in chunk:
                    raw = entry if isinstance(entry, bytes) else entry.encode()
                    match = _TASK_ID.search(raw)
                    if match is None or match.group(1).decode(errors="replace") not in wanted:
                        continue
                    task_id = message_task_id(raw)
                    if task_id is None or task_id not in wanted:
                        continue
                    if await self._redis.lrem(key, 1, raw):  # type: ignore[arg-type]
                        wanted.discard(task_id)
                        report.removed[task_id] = name
                        offset -= 1  # the entries before it moved one place towards the tail
            if not wanted:
                break
        report.incomplete = sorted(set(report.incomplete))
        return report

    async def purge(self, name: str) -> int:
        keys = list_keys(name)
        async with self._redis.pipeline(transaction=True) as pipe:
            for key in keys:
                pipe.llen(key)
            pipe.delete(*keys)
            replies = await pipe.execute()
        return int(sum(replies[: len(keys)]))

    async def close(self) -> None:
        await self._redis.aclose()


__all__ = [
    "PRIORITY_SEP",
    "PRIORITY_STEPS",
    "RedisQueueBackend",
    "list_key",
    "list_keys",
    "message_task_id",
    "peeked",
]
