"""Reader threads: they only read, decode and hand off; they never touch the database.

`RedisEventReader` speaks pub/sub directly (PSUBSCRIBE on kombu's fanout topic for the event
exchange, `/<db>.celeryev/*`) and does nothing but read: raw chunks of up to 1 MiB go to the
`Intake` as they are, and are cut into frames and decoded on the loop's side (`PubSubDecoder`).
Reading costs microseconds per megabyte, so even a full-speed burst leaves Redis's output buffer
for us far below the 32 MB at which it would drop the connection. `KombuEventReader` uses Celery's
`EventReceiver` for any other broker (RabbitMQ). Both reconnect with backoff when the broker goes
away, and report `collector-disconnected` / `collector-connected` pseudo-events through the same
hand-off, from which the collector records each gap (it outlives readers, so a gap that spans a
restart of the collector job is still recorded once).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import sys
import threading
import time
from typing import Any
from urllib.parse import unquote, urlparse

from src.collector.decode import Decoder
from src.collector.intake import Event, Intake
from src.collector.resp import ProtocolError, command, parse_frames

log = logging.getLogger(__name__)

BACKOFF_START = 0.1
BACKOFF_MAX = 5.0
READ_CHUNK = 1 << 20
# The reader needs the GIL for a moment per chunk while the event loop decodes and merges; at
# Python's default 5 ms switch interval a burst can outrun it and Redis then drops the subscriber
# (32 MB output-buffer limit). 1 ms lets it drain the socket five times as often.
READER_SWITCH_INTERVAL = 0.001


class _ReaderThread:
    """Common lifecycle: a daemon thread running `_run` until `stop()`."""

    name = "event-reader"

    def __init__(self, intake: Intake) -> None:
        self.intake = intake
        self.decoder = Decoder()
        self.connected = threading.Event()
        self.messages = 0
        self.bytes = 0
        self.reconnects = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        sys.setswitchinterval(min(sys.getswitchinterval(), READER_SWITCH_INTERVAL))
        self._thread = threading.Thread(target=self._guarded, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._interrupt()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def _interrupt(self) -> None:
        pass

    def _guarded(self) -> None:
        backoff = BACKOFF_START
        lost = False
        while not self._stop.is_set():
            try:
                self._connect()
                self.intake.put([{"type": "collector-connected", "at": time.time()}])
                self._after_connect()
                if lost:
                    log.warning("event stream back")
                lost = False
                self.connected.set()
                backoff = BACKOFF_START
                self._run()
            except Exception as exc:
                if self._stop.is_set():
                    break
                self.connected.clear()
                error = f"{type(exc).__name__}: {exc}"
                if not lost:
                    log.warning("event stream lost: %s; reconnecting", error)
                    lost_at = time.time()
                    self.intake.put(
                        [{"type": "collector-disconnected", "at": lost_at, "error": error}]
                    )
                lost = True
                self.reconnects += 1
            finally:
                self._close()
            self._stop.wait(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX)
        self.connected.clear()

    def _connect(self) -> None:
        raise NotImplementedError

    def _after_connect(self) -> None:
        pass

    def _run(self) -> None:
        raise NotImplementedError

    def _close(self) -> None:
        pass


class RedisEventReader(_ReaderThread):
    name = "event-reader-redis"

    def __init__(self, broker_url: str, intake: Intake, *, exchange: str = "celeryev") -> None:
        super().__init__(intake)
        url = urlparse(broker_url)
        self.host = url.hostname or "localhost"
        self.port = url.port or 6379
        self.username = unquote(url.username) if url.username else None
        self.password = unquote(url.password) if url.password else None
        db = (url.path or "/0").strip("/") or "0"
        self.pattern = f"/{db}.{exchange}/*"
        self._sock: socket.socket | None = None
        self._pending = bytearray()

    def _connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), timeout=5)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        self._sock = sock
        buf = bytearray()
        if self.password is not None:
            auth = (
                ("AUTH", self.username, self.password) if self.username else ("AUTH", self.password)
            )
            sock.sendall(command(*[a for a in auth if a is not None]))
            self._expect(buf)
        sock.sendall(command("PSUBSCRIBE", self.pattern))
        self._expect(buf)
        self._pending = buf

    def _expect(self, buf: bytearray) -> Any:
        assert self._sock is not None
        while True:
            frames, pos = parse_frames(buf)
            if frames:
                del buf[:pos]
                if isinstance(frames[0], ProtocolError):
                    raise frames[0]
                return frames[0]
            chunk = self._sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed by Redis")
            buf += chunk

    def _after_connect(self) -> None:
        if self._pending:  # messages that arrived with the subscription's confirmation
            self.intake.put_raw(bytes(self._pending))
            self._pending = bytearray()

    def _run(self) -> None:
        sock = self._sock
        assert sock is not None
        sock.settimeout(1.0)  # wake up now and then to notice stop()
        recv, put_raw, stopping = sock.recv, self.intake.put_raw, self._stop.is_set
        while not stopping():
            try:
                chunk = recv(READ_CHUNK)
            except TimeoutError:
                continue
            if not chunk:
                raise ConnectionError("connection closed by Redis")
            self.bytes += len(chunk)
            put_raw(chunk)

    def _interrupt(self) -> None:
        sock = self._sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _close(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
            self._sock = None


class KombuEventReader(_ReaderThread):
    """Celery's EventReceiver, for brokers other than Redis."""

    name = "event-reader-kombu"

    def __init__(self, app: Any, intake: Intake) -> None:
        super().__init__(intake)
        self.app = app
        self._conn: Any = None
        self._receiver: Any = None

    def _connect(self) -> None:
        self._conn = self.app.connection_for_read()
        self._conn.ensure_connection(max_retries=1)
        self._receiver = self.app.events.Receiver(
            self._conn,
            handlers={"*": self._on_event},
            queue_prefix="celery-admin",
            accept={"json"},  # JSON only (src/cluster.py)
        )

    def _on_event(self, event: Event) -> None:
        self.messages += 1
        self.intake.put([event])

    def _run(self) -> None:
        receiver = self._receiver
        while not self._stop.is_set():
            try:
                receiver.capture(limit=None, timeout=1.0, wakeup=False)
            except TimeoutError:
                continue

    def _interrupt(self) -> None:
        if self._receiver is not None:
            self._receiver.should_stop = True

    def _close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.release()
            self._conn = None


def reader_for(app: Any, broker_url: str, intake: Intake, **amqp_options: Any) -> _ReaderThread:
    """Redis: pub/sub directly; AMQP: a durable queue of our own (src/collector/amqp_reader.py,
    `amqp_options`: ttl_seconds, max_length); anything else: Celery's EventReceiver."""
    exchange = str((app.conf.event_exchange if app is not None else None) or "celeryev")
    if broker_url.startswith("redis://"):
        return RedisEventReader(broker_url, intake, exchange=exchange)
    if broker_url.startswith(("amqp://", "amqps://", "pyamqp://")):
        from src.collector.amqp_reader import AmqpEventReader

        return AmqpEventReader(broker_url, intake, exchange=exchange, **amqp_options)
    return KombuEventReader(app, intake)


__all__ = ["KombuEventReader", "ProtocolError", "RedisEventReader", "reader_for"]
