"""Request bodies: a size cap enforced while reading, and a nesting cap on JSON.

`BodyLimit` is an ASGI middleware: a request whose Content-Length, or whose bytes as they arrive,
pass MAX_REQUEST_BYTES is answered 413 (REQUEST_TOO_LARGE) without reading the rest (a 60 MB
anonymous body used to be read whole). `load_json` refuses JSON nested deeper than MAX_JSON_DEPTH
(BAD_INPUT): Python's decoder recurses, so a deep enough body used to be an internal error.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from src.errors import BadInput, ErrorCode

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def error_body(message: str, code: ErrorCode, **details: Any) -> bytes:
    extensions: dict[str, Any] = {"code": code.value}
    if details:
        extensions["details"] = details
    return json.dumps({"errors": [{"message": message, "extensions": extensions}]}).encode()


class BodyLimit:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def _refuse(self, send: Send) -> None:
        body = error_body(
            f"the request body is larger than {self.max_bytes} bytes (MAX_REQUEST_BYTES)",
            ErrorCode.REQUEST_TOO_LARGE,
            limit=self.max_bytes,
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None:
            try:
                too_large = int(length) > self.max_bytes
            except ValueError:
                too_large = False
            if too_large:
                await self._refuse(send)
                return
        elif b"transfer-encoding" not in headers:
            await self.app(scope, receive, send)  # no body
            return
        chunks: list[bytes] = []
        total = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            total += len(chunk)
            if total > self.max_bytes:
                await self._refuse(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class BadBody(BadInput):
    """The request body itself is unusable (answered 400 whatever the client accepts)."""


def _utf8(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadBody(
            "the JSON body holds a lone surrogate (\\ud800-\\udfff unpaired): not text"
        ) from None


def _depth(value: object, limit: int) -> bool:
    """True when `value` nests no deeper than `limit` (iterative: no recursion of our own)."""
    pending: list[tuple[object, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            _utf8(item)
            continue
        if isinstance(item, dict):
            for key in item:
                _utf8(key)
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return False
        pending.extend((child, depth + 1) for child in children)
    return True


def load_json(data: str | bytes, *, max_depth: int) -> object:
    """Decode a request's JSON; BAD_INPUT when it nests deeper than `max_depth`.
    (json.JSONDecodeError for malformed JSON, as `json.loads`.)"""
    try:
        value = json.loads(data)
    except RecursionError:
        value = None
        deep = True
    except UnicodeDecodeError:
        raise BadBody("the request body is not UTF-8") from None
    else:
        deep = not _depth(value, max_depth)
    if deep:
        raise BadBody(
            f"the JSON body nests deeper than {max_depth} levels (MAX_JSON_DEPTH)",
            details={"limit": max_depth},
        )
    return value


__all__ = ["BadBody", "BodyLimit", "error_body", "load_json"]
