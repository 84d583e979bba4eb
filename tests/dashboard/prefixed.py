"""The real app served under a URL prefix, as behind a reverse proxy that forwards `/ops/...`:
mounted at /ops in an outer ASGI app (so the app sees `root_path="/ops"`, as with uvicorn
`--root-path`), under uvicorn on a free port. HTTP and WebSocket both go through the prefix."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import uvicorn
from starlette.applications import Starlette
from starlette.routing import Mount

from src.config import Settings
from src.embedded_redis import free_port
from src.main import create_app

PREFIX = "/ops"


@contextmanager
def prefixed_api(settings: Settings) -> Iterator[str]:
    """Yields the base URL including the prefix, e.g. http://127.0.0.1:1234/ops."""
    inner = create_app(settings)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        async with inner.router.lifespan_context(inner):
            yield

    outer = Starlette(routes=[Mount(PREFIX, app=inner)], lifespan=lifespan)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(outer, host="127.0.0.1", port=port, log_level="warning", proxy_headers=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("prefixed API did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}{PREFIX}"
    finally:
        server.should_exit = True
        thread.join(15)


__all__ = ["PREFIX", "prefixed_api"]
