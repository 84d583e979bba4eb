"""A minimal RESP2 reader for a pub/sub connection: arrays of bulk strings and integers.

Parsing pub/sub frames by hand costs a few microseconds per message, several times less than a
general client, which is what lets one reader thread keep up with bursts of tens of thousands of
events per second.

A frame that is not valid RESP (bytes lost in the middle of the stream, a corrupted length) raises
`MalformedFrame`, which carries the frames parsed before it and where the bad one starts, so the
caller can keep those and resynchronise with `resync`: on a PSUBSCRIBE connection every frame
after the confirmation is a `pmessage` array, whose head `PMESSAGE_HEAD` cannot occur inside a
Celery event message (JSON has no raw CR LF), so the next occurrence is the next frame boundary.
"""

from __future__ import annotations

from typing import Any

# A bulk string longer than this is a corrupted length, not a Celery event: without the bound a
# wrong length would make the reader wait for data that never comes (a stall).
MAX_BULK = 64 << 20
PMESSAGE_HEAD = b"*4\r\n$8\r\npmessage\r\n"
PMESSAGE_MARK = b"$8\r\npmessage\r\n"  # what counts a pmessage frame in a raw chunk


class ProtocolError(Exception):
    pass


class ReplyError(ProtocolError):
    """A `-ERR ...` reply from Redis (to AUTH or PSUBSCRIBE)."""


class MalformedFrame(ProtocolError):
    """Bytes at `at` are not a RESP frame; `frames` were complete before them."""

    def __init__(self, message: str, frames: list[Any], at: int) -> None:
        super().__init__(message)
        self.frames = frames
        self.at = at


def command(*parts: str | bytes) -> bytes:
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def resync(buf: bytes | bytearray, pos: int) -> int:
    """Where the next pmessage frame starts at or after `pos` (-1 when none is in `buf`)."""
    return buf.find(PMESSAGE_HEAD, pos)


def parse_frames(buf: bytes | bytearray, pos: int = 0) -> tuple[list[Any], int]:
    """Complete top-level replies in `buf` from `pos`, and where the first incomplete one starts.

    An error reply comes back as a `ReplyError` instance among the frames."""
    frames: list[Any] = []
    end = len(buf)
    find = buf.find
    start = pos
    try:
        while pos < end:
            start = pos
            kind = buf[pos]
            nl = find(b"\r\n", pos)
            if nl < 0:
                if end - pos > 32:  # no header is that long
                    raise MalformedFrame("header without CR LF", frames, start)
                return frames, start
            if kind == 42:  # '*' array
                count = int(buf[pos + 1 : nl])
                if count < 0 or count > 64:
                    raise MalformedFrame(f"array of {count}", frames, start)
                pos = nl + 2
                items: list[Any] = []
                complete = True
                for _ in range(count):
                    if pos >= end:
                        complete = False
                        break
                    nl = find(b"\r\n", pos)
                    if nl < 0:
                        if end - pos > 32:
                            raise MalformedFrame("element header without CR LF", frames, start)
                        complete = False
                        break
                    k = buf[pos]
                    if k == 36:  # '$' bulk string
                        size = int(buf[pos + 1 : nl])
                        if size < 0:
                            items.append(None)
                            pos = nl + 2
                            continue
                        if size > MAX_BULK:
                            raise MalformedFrame(f"bulk string of {size} bytes", frames, start)
                        data_end = nl + 2 + size
                        if data_end + 2 > end:
                            complete = False
                            break
                        if buf[data_end : data_end + 2] != b"\r\n":
                            raise MalformedFrame("bulk string not ended by CR LF", frames, start)
                        items.append(bytes(buf[nl + 2 : data_end]))
                        pos = data_end + 2
                    elif k == 58:  # ':' integer
                        items.append(int(buf[pos + 1 : nl]))
                        pos = nl + 2
                    elif k == 43:  # '+' simple string
                        items.append(bytes(buf[pos + 1 : nl]))
                        pos = nl + 2
                    else:
                        raise MalformedFrame(f"unexpected element type {k:#x}", frames, start)
                if not complete:
                    return frames, start
                frames.append(items)
            elif kind == 43:  # '+OK'
                frames.append(bytes(buf[pos + 1 : nl]))
                pos = nl + 2
            elif kind == 45:  # '-ERR'
                frames.append(ReplyError(bytes(buf[pos + 1 : nl]).decode(errors="replace")))
                pos = nl + 2
            elif kind == 58:
                frames.append(int(buf[pos + 1 : nl]))
                pos = nl + 2
            else:
                raise MalformedFrame(f"unexpected reply type {kind:#x}", frames, start)
    except ValueError as exc:  # a length or integer that is not a number
        raise MalformedFrame(f"bad number: {exc}", frames, start) from None
    return frames, pos


__all__ = [
    "MAX_BULK",
    "PMESSAGE_HEAD",
    "PMESSAGE_MARK",
    "MalformedFrame",
    "ProtocolError",
    "ReplyError",
    "command",
    "parse_frames",
    "resync",
]
