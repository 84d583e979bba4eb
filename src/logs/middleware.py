"""The request id: the caller's X-Request-ID when sane, else a new one; bound for the request's
log lines and returned in the response's X-Request-ID header (a WebSocket's lines carry the id of
its handshake)."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from src.logs.context import REQUEST_ID_HEADER, bind, sane_request_id

_HEADER = REQUEST_ID_HEADER.lower().encode()


class RequestIdMiddleware:
    """Pure ASGI (not BaseHTTPMiddleware): the endpoint runs in this task, so the contextvar set
    here is what its log lines read."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = next((v for k, v in scope.get("headers", ()) if k == _HEADER), None)
        request_id = sane_request_id(incoming.decode("latin-1") if incoming else None)
        bind(request_id=request_id)
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        await self.app(scope, receive, send_with_id)


__all__ = ["RequestIdMiddleware"]
