"""Answering a starting worker's mingle `hello` with the durable revokes.

A Celery worker started with mingle (the default on Redis and AMQP) broadcasts `hello` before it
consumes any task and merges the `revoked` ids of every reply into its own revoke memory
(celery/worker/consumer/mingle.py; the other workers answer with `control.hello`). celery-admin
answers too, as a pidbox node of its own, with the live ids of `celery-admin:revokes`: a task
revoked while every worker was down is then known revoked by the worker before it could take it,
plain or with an ETA, which no re-send after start-up can promise.

The node answers `hello` and nothing else: every other command (ping, stats, revoke, ...) is
dropped without a reply, so no count of workers or replies ever includes it. Its name,
`celery-admin.<pid>@<host>`, is unique per process (kombu's pidbox queues are exclusive) and
comes back after a restart rather than piling up new names (bindings) in the broker.
Every replica listens (no failover gap at a leader change), and the replicas race for each hello
in Redis (`claim_hello`, keyed by the hello's ticket): exactly one answers.

kombu blocks, so the node runs in a daemon thread with its own broker connection and a synchronous
Redis client; it reconnects with backoff when either is lost. It also tells the event loop who
said hello (`on_hello`): the worker counts as alive from then on, so broadcasts to every worker
wait for it, and a revoke broadcast it misses between its hello and the start of its control
consumer gets it the re-send (revoke_replay.py).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import redis
from celery import Celery
from kombu.message import Message

from src.control.revokes import claim_hello

log = logging.getLogger(__name__)

NODE_PREFIX = "celery-admin."
DRAIN_TIMEOUT = 1.0  # how often the thread looks up from the connection (for stop)
RECONNECT_DELAYS = (0.5, 1.0, 2.0, 5.0)


_instances = itertools.count()


def _node_name() -> str:
    """`celery-admin.<pid>@<host>`; a second responder in one process (tests) gets `<pid>-<n>`."""
    n = next(_instances)
    return f"{NODE_PREFIX}{os.getpid()}{f'-{n}' if n else ''}@{socket.gethostname()}"


class MingleResponder:
    """See the module docstring."""

    def __init__(
        self,
        app: Celery,
        redis_url: str,
        *,
        on_hello: Callable[[str], None],
        node_name: str | None = None,
    ) -> None:
        self.app = app
        self.redis_url = redis_url
        self.on_hello = on_hello
        self.hostname = node_name or _node_name()
        self.answered = 0  # hellos this process answered (diagnostics)
        self.listening = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._redis: redis.Redis | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._redis = redis.Redis.from_url(
            self.redis_url, socket_timeout=2, socket_connect_timeout=2
        )
        self._thread = threading.Thread(target=self._run, name="mingle-responder", daemon=True)
        self._thread.start()

    def stop_listening(self) -> None:
        """Ask the thread to stop; it notices within DRAIN_TIMEOUT. Safe from any thread."""
        self._stop.set()

    def close(self, timeout: float = 1.5) -> None:
        """Stop and join the thread (for at most `timeout`: it is a daemon) and close Redis."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._redis is not None:
            self._redis.close()

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                self._serve()
                failures = 0
            except Exception as exc:  # broker lost: reconnect
                self.listening.clear()
                delay = RECONNECT_DELAYS[min(failures, len(RECONNECT_DELAYS) - 1)]
                failures += 1
                log.warning("mingle responder: %s; reconnecting in %gs", exc, delay)
                self._stop.wait(delay)

    def _serve(self) -> None:
        with self.app.connection_for_read() as conn:
            conn.ensure_connection(max_retries=1)
            mailbox = self.app.control.mailbox(conn)
            channel = conn.channel()
            node = mailbox.Node(self.hostname, channel=channel)

            def on_message(body: Any, message: Message) -> None:
                try:
                    self._on_message(node, body, message)
                except Exception:  # one bad hello must not stop the node
                    log.exception("mingle responder: hello not answered")

            node.listen(callback=on_message)
            try:
                while not self._stop.is_set():
                    with contextlib.suppress(TimeoutError):  # socket.timeout: nothing arrived
                        conn.drain_events(timeout=DRAIN_TIMEOUT)
                    if not self.listening.is_set():  # subscribed by the first drain, surely
                        self.listening.set()
                        log.info("mingle responder %s listening", self.hostname)
            finally:
                self.listening.clear()

    def _on_message(self, node: Any, body: Any, message: Message) -> None:
        if not isinstance(body, dict) or body.get("method") != "hello":
            return  # never answer anything else: counts of workers stay right
        reply_to, ticket = body.get("reply_to"), body.get("ticket")
        destination = body.get("destination")
        if not isinstance(reply_to, dict) or not isinstance(ticket, str):
            return
        if destination and self.hostname not in destination:
            return
        expires = (message.headers or {}).get("expires")
        if isinstance(expires, int | float) and expires and time.time() > expires:
            return  # the worker has stopped listening for answers
        from_node = (body.get("arguments") or {}).get("from_node")
        if not isinstance(from_node, str) or from_node.startswith(NODE_PREFIX):
            return
        assert self._redis is not None
        ids = claim_hello(self._redis, ticket, self.hostname)
        if ids is not None:
            node.reply(
                {self.hostname: {"revoked": ids}},
                exchange=reply_to.get("exchange"),
                routing_key=reply_to.get("routing_key"),
                ticket=ticket,
            )
            self.answered += 1
            log.info("answered the hello of %s with %d revoke(s)", from_node, len(ids))
        self.on_hello(from_node)


__all__ = ["NODE_PREFIX", "MingleResponder"]
