"""Reader threads: they only read, decode and hand off; they never touch the database.

`RedisEventReader` speaks pub/sub directly (PSUBSCRIBE on kombu's fanout topic for the event
exchange, `/<db>.celeryev/*`), reads in large chunks so Redis's output buffer for us stays near
empty, and hands whole chunks of decoded events to the `Intake`. `KombuEventReader` uses Celery's
`EventReceiver` for any other broker (RabbitMQ). Both reconnect with backoff when the broker goes
away, and report `collector-disconnected` / `collector-connected` pseudo-events through the same
hand-off, from which the collector records each gap (it outlives readers, so a gap that spans a
restart of the collector job is still recorded once).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlparse

from src.collector.decode import Decoder
from src.collector.intake import Event
from src.collector.resp import ProtocolError, command, parse_frames

log = logging.getLogger(__name__)

Sink = Callable[[list[Event]], bool]
BACKOFF_START = 0.1
BACKOFF_MAX = 5.0
READ_CHUNK = 1 << 20


class _ReaderThread:
    """Common lifecycle: a daemon thread running `_run` until `stop()`."""

    name = "event-reader"

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.decoder = Decoder()
        self.connected = threading.Event()
        self.messages = 0
        self.reconnects = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
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
                self.sink([{"type": "collector-connected", "at": time.time()}])
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
                    self.sink(
                        [{"type": "collector-disconnected", "at": time.time(), "error": error}]
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

    def _run(self) -> None:
        raise NotImplementedError

    def _close(self) -> None:
        pass


class RedisEventReader(_ReaderThread):
    name = "event-reader-redis"

    def __init__(self, broker_url: str, sink: Sink, *, exchange: str = "celeryev") -> None:
        super().__init__(sink)
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
                return frames[0]
            chunk = self._sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed by Redis")
            buf += chunk

    def _run(self) -> None:
        sock = self._sock
        assert sock is not None
        sock.settimeout(1.0)  # wake up now and then to notice stop()
        buf = self._pending
        decode = self.decoder.decode_payload
        stopping = self._stop.is_set
        while not stopping():
            try:
                chunk = sock.recv(READ_CHUNK)
            except TimeoutError:
                continue
            if not chunk:
                raise ConnectionError("connection closed by Redis")
            if buf:
                buf += chunk
                data: bytes | bytearray = buf
            else:
                data = chunk
            frames, pos = parse_frames(data)
            buf = bytearray(data[pos:]) if pos < len(data) else bytearray()
            batch: list[Event] = []
            for frame in frames:
                if isinstance(frame, list) and frame and frame[0] == b"pmessage":
                    self.messages += 1
                    batch.extend(decode(frame[3]))
            if batch:
                self.sink(batch)

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

    def __init__(self, app: Any, sink: Sink) -> None:
        super().__init__(sink)
        self.app = app
        self._conn: Any = None
        self._receiver: Any = None

    def _connect(self) -> None:
        self._conn = self.app.connection_for_read()
        self._conn.ensure_connection(max_retries=1)
        self._receiver = self.app.events.Receiver(
            self._conn, handlers={"*": self._on_event}, queue_prefix="celery-admin"
        )

    def _on_event(self, event: Event) -> None:
        self.messages += 1
        self.sink([event])

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


def reader_for(app: Any, broker_url: str, sink: Sink) -> _ReaderThread:
    if broker_url.startswith("redis://"):
        exchange = str((app.conf.event_exchange if app is not None else None) or "celeryev")
        return RedisEventReader(broker_url, sink, exchange=exchange)
    return KombuEventReader(app, sink)


__all__ = ["KombuEventReader", "ProtocolError", "RedisEventReader", "reader_for"]
