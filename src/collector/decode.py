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
import time
from typing import Any

import orjson

from src.collector.resp import (
    MAX_BULK,
    PMESSAGE_HEAD,
    PMESSAGE_MARK,
    MalformedFrame,
    parse_frames,
    resync,
)

log = logging.getLogger(__name__)

_loads = orjson.loads
_b64decode = binascii.a2b_base64


class Decoder:
    """Stateless apart from counters: call `decode_payload(raw)` for each pub/sub message."""

    def __init__(self) -> None:
        self.errors = 0
        self.refused = 0  # messages in a content type other than JSON, never decoded

    def decode_payload(self, raw: bytes | str) -> list[dict[str, Any]]:
        try:
            envelope = _loads(raw)
            body = envelope["body"]
            properties = envelope.get("properties") or {}
            if properties.get("body_encoding") == "base64":
                body = _b64decode(body)  # str or bytes, ASCII
            content_type = envelope.get("content-type", "application/json")
            if content_type != "application/json":
                # Only JSON is read from the broker (src/cluster.py): a pickled or YAML event is
                # code anyone with broker access could have written.
                self.refused += 1
                self.errors += 1
                return []
            event: Any = _loads(body)
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
    """Raw bytes of a PSUBSCRIBE connection in, Celery events out (frames may span chunks).

    It never raises and never waits for bytes that cannot come: a malformed frame, or a cut in the
    stream (`cut()`: chunks were dropped before the next one), is skipped up to the next pmessage
    head, logged at WARNING, counted (`bad_frames`, `lost_messages`) and reported once in
    `take_gaps()` so the collector records it; the frames around it are decoded as usual."""

    def __init__(self, max_partial: int = MAX_BULK + 1024) -> None:
        self.decoder = Decoder()
        self.messages = 0
        self.bad_frames = 0
        self.lost_messages = 0  # pub/sub messages lost to cuts and malformed frames
        self.max_partial = max_partial
        self._rest = b""
        self._resync = False  # the next bytes may start mid-frame
        self._gaps: list[dict[str, Any]] = []

    @property
    def errors(self) -> int:
        return self.decoder.errors

    def reset(self) -> None:
        """A new connection: a partial frame of the old one is garbage (a gap is recorded
        separately, by the reader's disconnect)."""
        self._rest = b""
        self._resync = False

    def cut(self, messages: int, nbytes: int, started_at: float, ended_at: float) -> None:
        """Raw chunks were dropped before the next one: drop the partial frame and resync."""
        if self._head_before_cut():
            messages += 1  # its head came before the cut, its end was dropped
            self.lost_messages += 1
        self._rest = b""
        self._resync = True
        self._gaps.append(
            {
                "start": started_at,
                "end": ended_at,
                "error": f"intake full: {messages} message(s), {nbytes} bytes dropped",
            }
        )

    def _head_before_cut(self) -> bool:
        """Whether the partial frame kept from before a cut is a message the intake did not count:
        it counts the pmessage marks (`$8\\r\\npmessage\\r\\n`, from the 5th byte of a frame)
        that start in dropped bytes, so one whose mark started here is counted here."""
        rest, mark_at = self._rest, len(PMESSAGE_HEAD) - len(PMESSAGE_MARK)
        if not self._resync:
            return len(rest) > mark_at  # a frame from its start
        # resynchronising: what is kept is only the start of a head, if any
        return any(rest.endswith(PMESSAGE_HEAD[:k]) for k in range(mark_at + 1, len(PMESSAGE_HEAD)))

    def has_gaps(self) -> bool:
        return bool(self._gaps)

    def take_gaps(self) -> list[dict[str, Any]]:
        gaps, self._gaps = self._gaps, []
        return gaps

    def feed(self, chunk: bytes) -> list[dict[str, Any]]:
        data = self._rest + chunk if self._rest else chunk
        pos = 0
        events: list[dict[str, Any]] = []
        if self._resync:
            pos = resync(data, 0)
            if pos < 0:  # no frame starts here: keep only what may be the start of a head
                self._rest = data[-len(PMESSAGE_HEAD) :]
                return events
            self._resync = False
        while True:
            try:
                frames, pos = parse_frames(data, pos)
            except MalformedFrame as bad:
                self._decode(bad.frames, events)
                pos = self._skip(data, bad)
                if pos < 0:
                    self._resync = True
                    self._rest = data[-len(PMESSAGE_HEAD) :]
                    return events
                continue
            self._decode(frames, events)
            break
        rest = data[pos:] if pos < len(data) else b""
        if len(rest) > self.max_partial:  # a length that promises more than any event holds
            self._skip(rest, MalformedFrame("frame never completes", [], 0))
            self._resync, rest = True, rest[-len(PMESSAGE_HEAD) :]
        self._rest = rest
        return events

    def _decode(self, frames: list[Any], events: list[dict[str, Any]]) -> None:
        decode = self.decoder.decode_payload
        for frame in frames:
            if frame.__class__ is list and frame and frame[0] == b"pmessage":
                self.messages += 1
                events.extend(decode(frame[3]))

    def _skip(self, data: bytes, bad: MalformedFrame) -> int:
        """Count and report the malformed frame at `bad.at`; where the next frame starts."""
        nxt = resync(data, bad.at + 1)
        upto = nxt if nxt >= 0 else len(data)
        lost = max(1, data.count(PMESSAGE_MARK, bad.at, upto))
        self.bad_frames += 1
        self.lost_messages += lost
        now = time.time()
        error = f"malformed frame ({bad}): {upto - bad.at} bytes, {lost} message(s) skipped"
        log.warning("event stream: %s; resynchronised", error)
        self._gaps.append({"start": now, "end": now, "error": error})
        return nxt


__all__ = ["Decoder", "PubSubDecoder"]
