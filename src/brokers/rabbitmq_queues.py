"""Queues on RabbitMQ through its management HTTP API (RABBITMQ_MANAGEMENT_URL), with passive
declares underneath.

- Discovery: every queue of the broker URL's vhost (`GET /api/queues/<vhost>`), not only those the
  app declares; Celery's own plumbing (pidbox reply queues, event queues) is left out.
- Depths: the waiting count comes from a passive declare, which is exact at once, whereas the
  management API's counts lag by its statistics interval (5 s by default); unacknowledged
  messages, the consumers with their prefetch, the message rates and the head message's timestamp
  come from the management API. If it does not answer, depths are the passive declares' alone
  (depth and consumer count), as without a management URL.
- The monitoring's oldest-message age: the head message's timestamp as RabbitMQ reports it when
  publishers stamp messages (Celery does not), else the head read with the same requeueing get
  (see `peek_oldest`).
- Peek: `POST /api/queues/<vhost>/<name>/get` with `ackmode: ack_requeue_true`, the API's way of
  showing messages without consuming them: RabbitMQ puts them back where they were (flagged
  redelivered).
- Scan (finding a waiting task by id, e.g. to revoke it while every worker is down): the same
  requeueing get, bounded to MAX_SCAN_PER_QUEUE messages of MAX_SCANNED_QUEUES queues.
- Purge goes through AMQP (`queue.purge`, which says how many it removed).

The management URL's credentials go into the HTTP client's auth only, never into a message or a
log line (`src.security.masking.mask_url` where the URL is shown).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import httpx
import orjson
from kombu import Connection

from src.brokers.base import (
    BrokerConsumer,
    MessageRates,
    PeekedMessage,
    QueueBackend,
    QueueDepth,
    RemovalReport,
    peeked_from_headers,
)
from src.errors import BrokerUnavailable, NotFound
from src.security.masking import mask_url

log = logging.getLogger(__name__)

MAX_PEEK = 100  # messages one peek may show
MAX_PEEKED_QUEUES = 50  # queues whose head the monitoring reads per sample
MAX_SCANNED_QUEUES = 50  # queues a scan (finding a waiting task by id) reads
MAX_SCAN_PER_QUEUE = 500  # messages of each: every one read is put back, so keep it modest
PEEK_CONCURRENCY = 4
PEEK_TRUNCATE = 4096  # bytes of each payload the API returns: the headers are what we read
QUEUE_COLUMNS = "name,messages_unacknowledged,message_stats,head_message_timestamp"
_HIDDEN_SUFFIXES = (".pidbox",)
_HIDDEN_PREFIXES = ("celeryev", "celery-admin.")


def vhost_of(broker_url: str) -> str:
    return str(Connection(broker_url).virtual_host or "/")


def is_plumbing(name: str) -> bool:
    """Celery's and our own internal queues: pidbox (control replies), event queues."""
    return name.endswith(_HIDDEN_SUFFIXES) or name.startswith(_HIDDEN_PREFIXES)


class RabbitQueueBackend:
    def __init__(
        self,
        broker_url: str,
        management_url: str,
        *,
        passive: QueueBackend,
        timeout: float = 2.0,
    ) -> None:
        parts = urlsplit(management_url)
        netloc = parts.hostname or "localhost"
        if parts.port:
            netloc = f"{netloc}:{parts.port}"
        auth = None
        if parts.username is not None:
            auth = httpx.BasicAuth(unquote(parts.username), unquote(parts.password or ""))
        self.where = mask_url(management_url)
        self._vhost = quote(vhost_of(broker_url), safe="")
        self._http = httpx.AsyncClient(
            base_url=f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}",
            auth=auth,
            timeout=timeout,
            limits=httpx.Limits(max_connections=PEEK_CONCURRENCY + 2),
        )
        self._passive = passive

    async def _get(self, path: str, **params: str) -> Any:
        try:
            response = await self._http.get(path, params=params or None)
        except httpx.HTTPError as exc:
            raise BrokerUnavailable(
                f"RabbitMQ's management API at {self.where}: {type(exc).__name__}"
            ) from exc
        if response.status_code == 404:
            raise NotFound(f"RabbitMQ has no {path.rsplit('/', 1)[-1]!r} in this vhost")
        if response.status_code != 200:
            raise BrokerUnavailable(
                f"RabbitMQ's management API at {self.where} answered {response.status_code}"
            )
        return orjson.loads(response.content)

    async def ping(self) -> None:
        await self._passive.ping()

    async def discover(self) -> set[str]:
        """Every queue of the vhost; nothing (the app's and the workers' queues are still listed)
        while the management API does not answer."""
        try:
            queues = await self._get(f"/api/queues/{self._vhost}", columns="name")
        except (BrokerUnavailable, NotFound) as exc:
            log.warning("queue discovery: %s", exc)
            return set()
        return {str(q["name"]) for q in queues if not is_plumbing(str(q["name"]))}

    async def depths(self, names: list[str]) -> dict[str, QueueDepth]:
        passive = await self._passive.depths(names)
        if not names:
            return passive
        try:
            queues, consumers, channels = await asyncio.gather(
                self._get(f"/api/queues/{self._vhost}", columns=QUEUE_COLUMNS),
                self._get(f"/api/consumers/{self._vhost}"),
                self._get(f"/api/vhosts/{self._vhost}/channels"),
            )
        except (BrokerUnavailable, NotFound):
            return passive  # the passive declares' depth and consumer count are still right
        by_name = {str(q.get("name")): q for q in queues}
        # Celery sets its prefetch with basic.qos on the channel once it consumes: a consumer's
        # own limit then shows 0, and the channel's (global, else per-consumer) is the one
        channel_prefetch = {
            str(c.get("name")): int(c.get("global_prefetch_count") or c.get("prefetch_count") or 0)
            for c in channels
        }
        consumers_of: dict[str, list[BrokerConsumer]] = {}
        for consumer in consumers:
            queue = (consumer.get("queue") or {}).get("name")
            if queue is not None:
                consumers_of.setdefault(str(queue), []).append(
                    _consumer(consumer, channel_prefetch)
                )
        result: dict[str, QueueDepth] = {}
        for name in names:
            base = passive[name]
            stats = by_name.get(name)
            if stats is None:
                result[name] = base
                continue
            result[name] = QueueDepth(
                name=name,
                messages=base.messages,
                by_priority=base.by_priority,
                unacked=int(stats.get("messages_unacknowledged") or 0),
                consumer_count=base.consumer_count,
                broker_consumers=tuple(consumers_of.get(name, ())),
                rates=_rates(stats.get("message_stats")),
                oldest_published_at=_number(stats.get("head_message_timestamp")),
            )
        return result

    async def purge(self, name: str) -> int:
        return await self._passive.purge(name)

    async def _get_messages(self, name: str, count: int) -> list[dict[str, Any]]:
        path = f"/api/queues/{self._vhost}/{quote(name, safe='')}/get"
        body = {
            "count": count,
            "ackmode": "ack_requeue_true",
            "encoding": "auto",
            "truncate": PEEK_TRUNCATE,
        }
        try:
            response = await self._http.post(path, json=body)
        except httpx.HTTPError as exc:
            raise BrokerUnavailable(
                f"RabbitMQ's management API at {self.where}: {type(exc).__name__}"
            ) from exc
        if response.status_code == 404:
            raise NotFound(f"unknown queue {name!r}", field="name")
        if response.status_code != 200:
            raise BrokerUnavailable(
                f"RabbitMQ's management API at {self.where} answered {response.status_code}"
            )
        messages = orjson.loads(response.content)
        return [m for m in messages if isinstance(m, dict)]

    async def peek(self, name: str, count: int) -> list[PeekedMessage]:
        messages = await self._get_messages(name, max(1, min(count, MAX_PEEK)))
        result: list[PeekedMessage] = []
        for message in messages:
            properties = message.get("properties") or {}
            priority = properties.get("priority")
            result.append(
                peeked_from_headers(
                    _clean(properties.get("headers") or {}),
                    priority=int(priority) if isinstance(priority, int) else None,
                    redelivered=bool(message.get("redelivered")),
                )
            )
        return result

    async def peek_oldest(self, depths: Mapping[str, QueueDepth]) -> dict[str, list[bytes]]:
        """The head message of each non-empty queue as the monitoring's age reader expects it
        (an envelope with `headers` and `properties`). Where RabbitMQ knows the head's publish
        time (`head_message_timestamp`: the publisher stamped it) that is all it takes; else the
        head is read with the API's requeueing get (at most MAX_PEEKED_QUEUES queues a sample):
        it goes back where it was, flagged redelivered, which Celery only looks at for
        `acks_late` tasks with `worker_deduplicate_successful_tasks`."""
        heads: dict[str, list[bytes]] = {}
        unstamped: list[str] = []
        for name, depth in depths.items():
            if not depth.messages:
                continue
            if depth.oldest_published_at is not None:
                envelope = {"headers": {}, "properties": {"timestamp": depth.oldest_published_at}}
                heads[name] = [orjson.dumps(envelope)]
            else:
                unstamped.append(name)
        gate = asyncio.Semaphore(PEEK_CONCURRENCY)

        async def head(name: str) -> tuple[str, bytes | None]:
            async with gate:
                try:
                    messages = await self._get_messages(name, 1)
                except (BrokerUnavailable, NotFound):
                    return name, None
            if not messages:
                return name, None
            properties = messages[0].get("properties") or {}
            envelope = {"headers": _clean(properties.get("headers")), "properties": properties}
            return name, orjson.dumps(envelope)

        for name, raw in await asyncio.gather(*(head(n) for n in unstamped[:MAX_PEEKED_QUEUES])):
            if raw is not None:
                heads[name] = [raw]
        return heads

    async def scan(self, names: list[str], needle: bytes) -> AsyncIterator[tuple[str, bytes]]:
        """Waiting messages whose headers contain `needle`, as kombu-like envelopes (`headers`,
        `properties`), queue by queue, each queue's messages put back as they were."""
        for name in names[:MAX_SCANNED_QUEUES]:
            try:
                messages = await self._get_messages(name, MAX_SCAN_PER_QUEUE)
            except (BrokerUnavailable, NotFound):
                continue
            for message in messages:
                properties = message.get("properties") or {}
                headers = _clean(properties.get("headers") or {})
                raw = orjson.dumps({"headers": headers, "properties": properties})
                if needle in raw:
                    yield name, raw

    async def remove_waiting(self, names: list[str], task_ids: list[str]) -> RemovalReport | None:
        return None  # AMQP cannot take one message out of a queue without consuming the others

    async def close(self) -> None:
        await self._http.aclose()
        await self._passive.close()


def _clean(headers: Any) -> dict[str, Any]:
    """Headers as the publisher meant them: the management API shows a void (None) header as the
    string "undefined"."""
    if not isinstance(headers, dict):
        return {}
    return {k: (None if v == "undefined" else v) for k, v in headers.items()}


def _consumer(raw: Mapping[str, Any], channel_prefetch: Mapping[str, int]) -> BrokerConsumer:
    """The consumer's prefetch: its own limit, else its channel's (0: unlimited)."""
    channel = raw.get("channel_details") or {}
    own = int(raw.get("prefetch_count") or 0)
    return BrokerConsumer(
        tag=str(raw.get("consumer_tag") or ""),
        prefetch=own or channel_prefetch.get(str(channel.get("name")), 0),
        ack_required=bool(raw.get("ack_required")),
        connection=str(channel.get("connection_name")) if channel.get("connection_name") else None,
    )


def _rates(stats: Any) -> MessageRates | None:
    if not isinstance(stats, dict):
        return MessageRates(publish=0.0, deliver=0.0, ack=0.0)  # nothing happened yet

    def rate(key: str) -> float:
        details = stats.get(f"{key}_details") or {}
        return float(_number(details.get("rate")) or 0.0)

    return MessageRates(publish=rate("publish"), deliver=rate("deliver_get"), ack=rate("ack"))


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


__all__ = ["RabbitQueueBackend", "is_plumbing", "vhost_of"]
