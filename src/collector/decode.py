"""Turning broker messages into Celery event dicts.

On Redis, kombu publishes each event as a JSON envelope whose `body` is the serialized event
(base64 by default); a worker's buffered task events arrive as one message whose body is a list.
The direct Redis reader calls `decode_payload` on the raw pub/sub data; the kombu path already has
the body and calls `events_from_body`.

Timestamps are kept as the workers sent them (`time.time()`, an epoch, whatever the worker's
zone); unlike Celery's receiver we do not shift them by `utcoffset`, which would only be right
for a worker whose clock is set to local time.
"""

from __future__ import annotations

import binascii
import logging
from typing import Any

import orjson

log = logging.getLogger(__name__)

_loads = orjson.loads
_b64decode = binascii.a2b_base64


class Decoder:
    """Stateless apart from counters: call `decode_payload(raw)` for each pub/sub message."""

    def __init__(self) -> None:
        self.errors = 0

    def decode_payload(self, raw: bytes | str) -> list[dict[str, Any]]:
        try:
            envelope = _loads(raw)
            body = envelope["body"]
            properties = envelope.get("properties") or {}
            if properties.get("body_encoding") == "base64":
                body = _b64decode(body)  # str or bytes, ASCII
            content_type = envelope.get("content-type", "application/json")
            if content_type == "application/json":
                event: Any = _loads(body)
            else:
                from kombu.serialization import loads as kombu_loads

                event = kombu_loads(
                    body, content_type, envelope.get("content-encoding", "utf-8"), accept=None
                )
        except Exception:
            self.errors += 1
            log.debug("undecodable event message: %r", raw[:200])
            return []
        return self.events_from_body(event)

    def events_from_body(self, body: Any) -> list[dict[str, Any]]:
        events = body if isinstance(body, list) else [body]
        out = []
        for event in events:
            if isinstance(event, dict) and "type" in event:
                out.append(event)
            else:
                self.errors += 1
        return out


__all__ = ["Decoder"]
