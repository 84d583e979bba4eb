"""The listening socket, bound before anything else starts.

uvicorn binds only after the application's start-up has run: on a busy port the leader jobs and the
event bus were already running when the bind failed, and that half-started process then hung in its
shutdown. Binding first makes a busy port one start-up line, and the bound socket is what uvicorn
serves (no window for another process to take the port in between).
"""

from __future__ import annotations

import errno
import socket

from src.config import ConfigError


def bind_listener(host: str, port: int) -> socket.socket:
    """A bound TCP socket for `host:port` (not yet listening: uvicorn does that).

    Raises ConfigError with one line when the address is taken or cannot be used."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        why = "address already in use" if exc.errno == errno.EADDRINUSE else exc.strerror or exc
        raise ConfigError(f"cannot listen on {host}:{port}: {why}") from None
    sock.set_inheritable(True)
    return sock


__all__ = ["bind_listener"]
