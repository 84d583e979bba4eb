"""A control broadcast that stops when the right workers have answered: the one adapter over
kombu's pidbox internals.

Celery's `control.broadcast(limit=N)` stops after N replies from anyone, so a worker nobody knew of
can stand in for a known one that has not answered yet; without a limit it listens until a whole
timeout passes with no reply, so every call to all workers costs at least that timeout. Here the
caller names the workers to wait for: collection stops once each of them has answered (by hostname)
and then lingers `settle` seconds for workers nobody knew of, or at the deadline.

Blocking: run it in the inspector's thread pool. It publishes and collects as
`kombu.pidbox.Mailbox._broadcast` does, with the private `Mailbox._publish` and `reply_queue`
(kombu 5.7, pinned; tests/contracts/test_kombu_pidbox.py fails loudly when they change). Each
call binds its own mailbox copy, hence its own reply queue, so a late reply to an earlier call is
never read here; a reply for another ticket is dropped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from celery import Celery
from kombu import Consumer
from kombu.message import Message
from kombu.utils.uuid import uuid

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Collected:
    """The replies of one broadcast, by hostname, and whether every awaited worker answered."""

    replies: dict[str, Any]
    complete: bool


def _refused_reply(message: Message, exc: Exception) -> None:
    """A reply we do not decode (pickle, YAML: JSON only, see src/cluster.py) is dropped, and
    the broadcast goes on: a worker serializing with pickle answers nothing here."""
    content_type = getattr(message, "content_type", None)
    log.warning("dropped a control reply in %s (only JSON is read): %s", content_type, exc)


def broadcast_collect(
    app: Celery,
    command: str,
    arguments: dict[str, Any],
    *,
    destination: list[str] | None,
    wait_for: Collection[str],
    timeout: float,
    settle: float,
) -> Collected:
    """Send `command` and collect replies until every host in `wait_for` has answered plus
    `settle` seconds, or `timeout` seconds after sending (an empty `wait_for`: the timeout).

    The command itself carries Celery's usual `expires` (now + timeout): a worker that reads it
    later ignores it, exactly as with `app.control.broadcast`."""
    awaited = set(wait_for)
    replies: dict[str, Any] = {}
    with app.connection_or_acquire() as conn:
        mailbox = app.control.mailbox(conn)
        channel = conn.default_channel
        ticket = uuid()
        mailbox._publish(
            command,
            arguments,
            destination=destination,
            reply_ticket=ticket,
            channel=channel,
            timeout=timeout,
            serializer=mailbox.serializer,
        )
        deadline = time.monotonic() + timeout
        queue = mailbox.reply_queue

        def on_reply(body: Any, message: Message) -> None:
            headers = message.headers or {}
            mailbox.clock.adjust(headers.get("clock") or 0)
            if headers.get("ticket") != ticket or not isinstance(body, dict):
                return
            for hostname, value in body.items():
                replies.setdefault(str(hostname), value)

        consumer = Consumer(
            channel,
            [queue],
            accept=mailbox.accept,
            no_ack=True,
            on_decode_error=_refused_reply,
        )
        consumer.register_callback(on_reply)
        try:
            with consumer:
                settled_at: float | None = None
                while True:
                    now = time.monotonic()
                    if awaited and settled_at is None and awaited.issubset(replies):
                        settled_at = now + settle
                    until = deadline if settled_at is None else min(deadline, settled_at)
                    if now >= until:
                        break
                    try:
                        conn.drain_events(timeout=until - now)
                    except TimeoutError:  # socket.timeout: nothing more arrived in time
                        continue
        finally:
            channel.after_reply_message_received(queue.name)
    return Collected(replies=replies, complete=awaited.issubset(replies))


__all__ = ["Collected", "broadcast_collect"]
