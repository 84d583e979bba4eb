"""The flood shield: a blocked address's token-less requests answered 429 before anything else.

Pure ASGI, in front of routing and of the body limit: a GraphQL request (POST, or GET with a
query string) that carries no token, or one the gate already refused, from an address the rate
limiter knows to be over its `anonymous` or `denied` budget this window
(`RateLimiter.blocked`, filled from Redis's answers), is answered 429 RATE_LIMITED with
Retry-After at once: no body read, no Redis round trip, no parsing, no log line, no audit row
(the gate wrote the window's one `rateLimited` row when the block began). Everything else
passes through untouched; a caller with a valid token is never held up by its address.

The refusal is sent after RATE_LIMIT_TARPIT_SECONDS (1 s; never past the block's end): the
client was told to wait, and a client that does not is held to it. Answered at once, a flood
is a closed loop: 20 connections got ~1,600 refusals/s out of one process, which then never
slept, and the scheduler made every other request of the process wait its turn (bench/abuse.py:
systemStatus p50 21 -> 207 ms on a loaded 2-core machine). Held, each connection costs one
sleeping task and one request a second.

Why here: under 20 clients flooding from one address, each refusal used to cost a body read,
FastAPI's routing and dependencies, Strawberry's request parsing, a Redis GET and a JSON
encoding, on the event loop every authenticated request and the collector share.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from functools import lru_cache
from typing import Any

from src.errors import ErrorCode
from src.logs import current_request_id
from src.security.rate_limit import Block, RateLimiter

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

GRAPHQL_RESPONSE = "application/graphql-response+json"


def accepts_graphql_response(accept: str) -> bool:
    """Whether an Accept header takes application/graphql-response+json (then it gets that)."""
    for item in accept.split(","):
        kind, _, params = item.strip().partition(";")
        if kind.strip().lower() == GRAPHQL_RESPONSE and "q=0" not in params.replace(" ", ""):
            return True
    return False


def wants_graphql_response(headers: Mapping[str, str]) -> bool:
    return accepts_graphql_response(headers.get("accept", ""))


def client_address(
    peer: str | None, forwarded_for: str | None, trusted: frozenset[str]
) -> str | None:
    """The caller's address: the peer, or from a trusted proxy the last X-Forwarded-For hop that
    is not itself a trusted proxy (the one the gate's budgets are counted for)."""
    if peer is None:
        return None
    if peer in trusted and forwarded_for:
        hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
        for hop in reversed(hops):
            if hop not in trusted:
                return hop
    return peer


def _encode(bucket: str, limit: int, retry_after: int, request_id: str | None) -> bytes:
    message = f"too many requests ({bucket}: {limit} a minute); retry in {retry_after} s"
    extensions: dict[str, Any] = {
        "code": ErrorCode.RATE_LIMITED.value,
        "details": {"bucket": bucket, "limit": limit, "retryAfter": retry_after},
    }
    if request_id is not None:
        extensions["requestId"] = request_id
    error = {"message": message, "extensions": extensions}
    return json.dumps({"errors": [error]}, separators=(",", ":")).encode()


_encoded = lru_cache(maxsize=256)(_encode)  # without a request id, a few bodies serve all


def refusal_body(block: Block, retry_after: int) -> bytes:
    """The 429 body, as the gate's RATE_LIMITED refusal reads (with the request id if bound)."""
    request_id = current_request_id()
    if request_id is None:
        return _encoded(block.bucket.value, block.limit, retry_after, None)
    return _encode(block.bucket.value, block.limit, retry_after, request_id)


class FloodShield:
    def __init__(
        self,
        app: ASGIApp,
        *,
        path: str,
        trusted_proxies: frozenset[str],
        limiter: Callable[[Scope], RateLimiter | None],
        tarpit_seconds: float = 0.0,
    ) -> None:
        self.app = app
        self.tarpit = tarpit_seconds
        self.path = path.rstrip("/")
        self.trusted = trusted_proxies
        self.limiter = limiter

    def _applies(self, scope: Scope) -> bool:
        if scope["type"] != "http" or scope["path"].rstrip("/") != self.path:
            return False
        method = scope["method"]
        return method == "POST" or (method == "GET" and bool(scope.get("query_string")))

    @staticmethod
    def _headers(
        raw: Iterable[tuple[bytes, bytes]],
    ) -> tuple[bytes | None, bytes | None, bytes | None]:
        authorization = forwarded = accept = None
        for key, value in raw:
            if key == b"authorization":
                authorization = value
            elif key == b"x-forwarded-for":
                forwarded = value if forwarded is None else forwarded + b"," + value
            elif key == b"accept":
                accept = value
        return authorization, forwarded, accept

    def _block(self, scope: Scope) -> Block | None:
        limiter = self.limiter(scope)
        if limiter is None:
            return None
        authorization, forwarded, _ = self._headers(scope.get("headers") or ())
        client = scope.get("client")
        who = client_address(
            client[0] if client else None,
            forwarded.decode("latin-1") if forwarded else None,
            self.trusted,
        )
        block = limiter.blocked(who or "unknown")
        if block is None:
            return None
        if authorization is not None:
            scheme, _, token = authorization.decode("latin-1").partition(" ")
            token = token.strip()
            if scheme.lower() == "bearer" and token and not limiter.known_bad(token):
                return None  # perhaps a valid token: the gate decides
        return block

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        block = self._block(scope) if self._applies(scope) else None
        if block is None:
            await self.app(scope, receive, send)
            return
        if self.tarpit > 0:  # the client was told to wait: its connection waits too
            await asyncio.sleep(min(self.tarpit, max(0.0, block.until - time.monotonic())))
        retry_after = block.retry_after(time.monotonic())
        body = refusal_body(block, retry_after)
        _, _, accept = self._headers(scope.get("headers") or ())
        graphql = accept is not None and accepts_graphql_response(accept.decode("latin-1"))
        media = GRAPHQL_RESPONSE if graphql else "application/json"
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", media.encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", str(retry_after).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def runtime_limiter(scope: Scope) -> RateLimiter | None:
    """The running app's limiter (none before the lifespan built the runtime)."""
    app = scope.get("app")
    runtime = getattr(getattr(app, "state", None), "runtime", None)
    return getattr(runtime, "limiter", None)


__all__ = [
    "GRAPHQL_RESPONSE",
    "FloodShield",
    "accepts_graphql_response",
    "client_address",
    "refusal_body",
    "runtime_limiter",
    "wants_graphql_response",
]
