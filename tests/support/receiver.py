"""A local HTTP receiver for alert notifications: `http.server` in a thread, on a free port.

It records every request (path, headers, raw body) and answers with `status` (settable while it
runs), optionally holding each answer `delay` seconds. Its port is bound when it is created but
only listened on once started, so until then connections are refused (a receiver that "comes up
later") and no other process can take the port meanwhile.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

STOP_SECONDS = 5.0


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    answered: int  # the status this receiver answered with

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def notification(self) -> str | None:
        return self.headers.get("x-celery-admin-notification")

    @property
    def accepted(self) -> bool:
        return 200 <= self.answered < 300


class Receiver:
    def __init__(self, *, status: int = 200, delay: float = 0.0):
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))  # bound, not listening: refused until started
        self.port = int(self._socket.getsockname()[1])
        self.status = status
        self.delay = delay
        self.echo_path = False  # answer with the request's path (a receiver leaking the URL)
        self.requests: list[Received] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                status = receiver.status
                with receiver._lock:  # recorded on arrival, before any delay
                    receiver.requests.append(
                        Received(
                            self.path,
                            {k.lower(): v for k, v in self.headers.items()},
                            body,
                            status,
                        )
                    )
                if receiver.delay:
                    time.sleep(receiver.delay)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                answer = {"ok": status < 300}
                if receiver.echo_path:
                    answer["path"] = self.path
                self.wfile.write(json.dumps(answer).encode())

            def log_message(self, format: str, *args: Any) -> None:
                return None

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler, bind_and_activate=False)
        server.socket.close()
        server.socket = self._socket
        server.server_activate()
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, bounded: `shutdown()` waits for the serving loop without a timeout, so it
        runs in a thread of its own and the socket is closed whatever it does."""
        server, self._server = self._server, None
        if server is not None:
            stopper = threading.Thread(target=server.shutdown, daemon=True)
            stopper.start()
            stopper.join(STOP_SECONDS)
        self._socket.close()
        if self._thread is not None:
            self._thread.join(STOP_SECONDS)
            self._thread = None

    def received(self) -> list[Received]:
        with self._lock:
            return list(self.requests)

    async def wait_for(
        self, condition: Callable[[list[Received]], bool], within: float = 90.0
    ) -> list[Received]:
        """The requests so far, once `condition` holds for them (AssertionError after `within`)."""
        deadline = time.monotonic() + within
        while True:
            found = self.received()
            if condition(found):
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"receiver: condition not met in {within} s; got {found}")
            await asyncio.sleep(0.05)

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


__all__ = ["Received", "Receiver"]
