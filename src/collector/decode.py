"""Turning broker messages into Celery event dicts.

On Redis, kombu publishes each event as a JSON envelope whose `body` is the serialized event
(base64 by default); a worker's buffered task events arrive as one message whose body is a list.
The direct Redis reader hands over raw socket bytes; `PubSubDecoder` cuts them into pub/sub
frames and decodes each message's data with `decode_payload`. The kombu path already has the
body and calls `events_from_body`.

Timestamps are kept as the workers sent them (`time.time()`, an epoch, whatever the worker's
zone); unlike Celery's receiver we do not shift them by `utcoffset`, which would only be right
for a worker whose clock is set to local time.
"""

from __future__ import annotations

import binascii
import logging
from typing import Any

import orjson

from src.collector.resp import parse_frames

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


class PubSubDecoder:
    """Raw bytes of a PSUBSCRIBE connection in, Celery events out (frames may span chunks)."""

    def __init__(self) -> None:
        self.decoder = Decoder()
        self.messages = 0
        self._rest = b""

    @property
    def errors(self) -> int:
        return self.decoder.errors

    def reset(self) -> None:
        """A new connection: a partial frame of the old one is garbage."""
        self._rest = b""

    def feed(self, chunk: bytes) -> list[dict[str, Any]]:
        data = self._rest + chunk if self._rest else chunk
        frames, pos = parse_frames(data)
        self._rest = data[pos:] if pos < len(data) else b""
        decode = self.decoder.decode_payload
        events: list[dict[str, Any]] = []
        for frame in frames:
            if frame.__class__ is list and frame and frame[0] == b"pmessage":
                self.messages += 1
                events.extend(decode(frame[3]))
        return events


__all__ = ["Decoder", "PubSubDecoder"]
