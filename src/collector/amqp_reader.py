"""Celery events over AMQP (RabbitMQ): the collector's own durable queue, so nothing is lost while
it restarts.

Celery's `EventReceiver` consumes from an auto-deleted queue that exists only while a receiver is
connected: events published while the collector restarts (or changes leader) go nowhere. This
reader binds one durable queue of its own (`AMQP_EVENTS_QUEUE`, default `celery-admin.events`,
routing key `#`) to the event exchange, so events wait there between two collectors, however many
replicas of one deployment take turns (they share the queue; only the leader consumes). Two
deployments watching one vhost need two names, or they would split the events between them. The
queue carries a message TTL and a maximum length (`AMQP_EVENTS_TTL_SECONDS`,
`AMQP_EVENTS_MAX_LENGTH`; RabbitMQ drops the oldest beyond it), so a collector that is gone for
good cannot fill the broker.

Events are handed to the intake in batches (HAND_OVER_EVENTS, or every HAND_OVER_SECONDS) and
their messages acknowledged (`multiple=True`) only then; what a stopping collector had received
but not handed over is delivered again to the next one, and merging is idempotent. When the
intake is full the messages go back to the broker (nack with requeue) rather than being dropped.
The thread only reads and decodes (orjson, a few microseconds an event).
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import orjson
from celery.events.event import get_exchange
from kombu import Connection, Queue
from kombu.exceptions import OperationalError
from kombu.serialization import loads

from src.collector.intake import Event, Intake
from src.collector.readers import _ReaderThread

EVENTS_QUEUE = "celery-admin.events"
PREFETCH = 2000  # messages in flight to us
HAND_OVER_EVENTS = 512  # events handed to the intake at once (then their messages acknowledged)
HAND_OVER_SECONDS = 0.02  # or after this long, so a trickle is not held back
ACCEPT = ["application/json", "application/x-msgpack", "application/x-yaml"]  # never pickle


def events_queue(
    conn: Connection,
    exchange_name: str,
    *,
    ttl_seconds: float,
    max_length: int,
    name: str = EVENTS_QUEUE,
) -> Queue:
    """The collector's durable queue on the event exchange (every routing key)."""
    return Queue(
        name,
        exchange=get_exchange(conn, name=exchange_name),
        routing_key="#",
        durable=True,
        auto_delete=False,
        queue_arguments={"x-message-ttl": int(ttl_seconds * 1000), "x-max-length": max_length},
    )


class AmqpEventReader(_ReaderThread):
    name = "event-reader-amqp"

    def __init__(
        self,
        broker_url: str,
        intake: Intake,
        *,
        exchange: str = "celeryev",
        ttl_seconds: float = 3600.0,
        max_length: int = 1_000_000,
        queue: str = EVENTS_QUEUE,
    ) -> None:
        super().__init__(intake)
        self.broker_url = broker_url
        self.queue = queue
        self.exchange = exchange
        self.ttl_seconds = ttl_seconds
        self.max_length = max_length
        self._conn: Connection | None = None
        self._channel: Any = None
        self._batch: list[Event] = []
        self._batch_since = 0.0
        self._last_tag: int | None = None  # the newest delivery taken in but not acknowledged

    def _connect(self) -> None:
        conn = Connection(self.broker_url, heartbeat=0, connect_timeout=5)
        conn.ensure_connection(max_retries=1)
        self._conn = conn
        channel = conn.channel()
        channel.basic_qos(0, PREFETCH, False)
        queue = events_queue(
            conn,
            self.exchange,
            ttl_seconds=self.ttl_seconds,
            max_length=self.max_length,
            name=self.queue,
        )
        queue(channel).declare()
        # py-amqp's own consumer: kombu's Message objects cost more than decoding the event
        channel.basic_consume(self.queue, callback=self._on_message, no_ack=False)
        self._channel = channel

    def _on_message(self, message: Any) -> None:
        self.messages += 1
        body = message.body
        self.bytes += len(body)
        events = self._decode(body, message.properties)
        if events:
            if not self._batch:
                self._batch_since = time.monotonic()
            self._batch.extend(events)
        self._last_tag = message.delivery_tag

    def _decode(self, body: bytes | str, properties: dict[str, Any]) -> list[Event]:
        content_type = properties.get("content_type") or "application/json"
        try:
            if content_type == "application/json":
                decoded: Any = orjson.loads(body)
            else:
                decoded = loads(
                    body,
                    content_type,
                    properties.get("content_encoding") or "utf-8",
                    accept=ACCEPT,
                )
        except Exception:
            self.decoder.errors += 1
            return []
        return self.decoder.events_from_body(decoded)

    def _hand_over(self) -> None:
        """The batch to the intake, then acknowledge every message it came from."""
        if self._batch:
            if not self.intake.put(self._batch):
                # The loop is far behind: give everything unacknowledged back to the broker.
                self._batch = []
                if self._channel is not None and self._last_tag is not None:
                    self._channel.basic_nack(self._last_tag, multiple=True, requeue=True)
                self._last_tag = None
                self._stop.wait(0.5)
                return
            self._batch = []
        if self._last_tag is not None and self._channel is not None:
            self._channel.basic_ack(self._last_tag, multiple=True)
            self._last_tag = None

    def _run(self) -> None:
        assert self._conn is not None
        drain = self._conn.connection.drain_events  # py-amqp's own, without kombu's wrapper
        while not self._stop.is_set():
            try:
                drain(timeout=HAND_OVER_SECONDS)
            except TimeoutError:
                self._hand_over()  # idle
                continue
            if (
                len(self._batch) >= HAND_OVER_EVENTS
                or time.monotonic() - self._batch_since >= HAND_OVER_SECONDS
            ):
                self._hand_over()
        self._hand_over()

    def _close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception, OperationalError):
                self._conn.release()
            self._conn = None
        self._channel = None
        self._batch, self._last_tag = [], None  # unacknowledged: the broker delivers them again


__all__ = ["EVENTS_QUEUE", "AmqpEventReader", "events_queue"]
