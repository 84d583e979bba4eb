"""A Redis (or any TCP server) that hangs, reproducibly: it accepts connections and reads what it
is sent, but answers nothing.

`StallingServer()` answers nothing at all. `StallingServer(upstream=port, stall_on=b"...")` is a
proxy to a real server that stalls a connection for good once the client sends those bytes, e.g. the
leader lease's key: from then on that command is in flight and never answered, while everything
else works. `freeze()` stalls every connection from then on (a database that hangs), `cut()` closes
them all and refuses new ones (a database that is down). `wait_for(needle)` returns once a client
has sent `needle`.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time


class StallingServer:
    def __init__(self, *, upstream: int | None = None, stall_on: bytes | None = None) -> None:
        self.upstream = upstream
        self.stall_on = stall_on
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(128)
        self.port: int = self._listener.getsockname()[1]
        self.received = bytearray()
        self.stalled = 0  # connections stalled so far
        self._changed = threading.Condition()
        self._sockets: list[socket.socket] = []
        self._closed = False
        self._frozen = False
        threading.Thread(target=self._accept, name="stalling-accept", daemon=True).start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = None
            if self.upstream is not None and not self._frozen:
                try:
                    server = socket.create_connection(("127.0.0.1", self.upstream), timeout=5)
                    server.settimeout(None)
                except OSError:
                    client.close()
                    continue
                self._sockets.append(server)
                threading.Thread(target=self._answers, args=(server, client), daemon=True).start()
            self._sockets.append(client)
            threading.Thread(target=self._requests, args=(client, server), daemon=True).start()

    def _requests(self, client: socket.socket, server: socket.socket | None) -> None:
        seen = bytearray()
        stalled = server is None
        with contextlib.suppress(OSError):
            while chunk := client.recv(65536):
                seen += chunk
                if not stalled and (
                    self._frozen or (self.stall_on is not None and self.stall_on in seen)
                ):
                    stalled = True
                    with self._changed:
                        self.stalled += 1
                if not stalled and server is not None:
                    server.sendall(chunk)
                with self._changed:
                    self.received += chunk
                    self._changed.notify_all()
        if server is not None and not stalled:
            with contextlib.suppress(OSError):
                server.shutdown(socket.SHUT_WR)

    def _answers(self, server: socket.socket, client: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while chunk := server.recv(65536):
                if self._frozen:
                    continue
                client.sendall(chunk)
        with contextlib.suppress(OSError):
            client.shutdown(socket.SHUT_WR)

    def wait_for(self, needle: bytes, timeout: float = 60.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._changed:
            while needle not in self.received:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
        return True

    def freeze(self) -> None:
        self._frozen = True

    def thaw(self) -> None:
        """New connections pass again (those stalled stay stalled): a database that is back."""
        self._frozen = False

    def cut(self) -> None:
        self.close()

    def close(self) -> None:
        self._closed = True
        # shutdown() first: close() alone does not wake a thread blocked in accept() or recv(),
        # and the listener would go on accepting.
        for sock in [self._listener, *self._sockets]:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()


__all__ = ["StallingServer"]
