"""One HTTP attempt, bounded by the sink's timeout, and what its answer means.

2xx is delivered. A receiver that is down, slow, overloaded or failing (connection errors,
timeouts, 408, 425, 429, 5xx) is retried with backoff, honouring `Retry-After` (within the sink's
longest backoff). Any other answer (a 4xx, a redirect) will not get better by itself: the delivery
fails at once, with the answer in `last_error`. Error texts never carry the sink's secrets: they
are built here, not taken from the HTTP client's messages (which name the URL), and scrubbed.
"""

from __future__ import annotations

import asyncio
import logging

import httpx

from src.monitoring.delivery.formats import Request
from src.monitoring.delivery.sinks import Sink, scrub
from src.monitoring.delivery.store import Outcome, Status

log = logging.getLogger(__name__)

RETRYABLE = {408, 425, 429}
MAX_BODY_CHARS = 300


def client() -> httpx.AsyncClient:
    """The client deliveries go through: no redirects followed, no environment proxies or netrc
    (a sink's URL is exactly where the notification goes), a small pool."""
    return httpx.AsyncClient(
        follow_redirects=False,
        trust_env=False,
        limits=httpx.Limits(max_connections=8, max_keepalive_connections=4),
    )


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


async def send(http: httpx.AsyncClient, sink: Sink, request: Request, attempt: int) -> Outcome:
    """Post `request`; the outcome of this attempt (`attempt` counts from 1)."""
    backoff = sink.backoff(attempt)
    try:
        async with asyncio.timeout(sink.timeout_seconds):
            response = await http.post(
                request.url,
                content=request.body,
                headers=request.headers,
                timeout=sink.timeout_seconds,
            )
    except (TimeoutError, httpx.TimeoutException):
        return Outcome(
            Status.RETRYING, error=f"no answer within {sink.timeout_seconds:g} s", retry_in=backoff
        )
    except httpx.HTTPError as exc:
        reason = scrub(sink, f"{type(exc).__name__}: {exc}")
        return Outcome(Status.RETRYING, error=reason, retry_in=backoff)
    status = response.status_code
    if 200 <= status < 300:
        return Outcome(Status.DELIVERED, response_status=status)
    text = scrub(sink, response.text[:MAX_BODY_CHARS].strip())
    error = f"HTTP {status}" + (f": {text}" if text else "")
    if status in RETRYABLE or status >= 500:
        wait = _retry_after(response)
        retry_in = backoff if wait is None else min(max(wait, backoff), sink.max_backoff_seconds)
        return Outcome(Status.RETRYING, response_status=status, error=error, retry_in=retry_in)
    return Outcome(Status.FAILED, response_status=status, error=error)


__all__ = ["client", "send"]
