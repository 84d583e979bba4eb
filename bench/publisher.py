"""Publishes the synthetic stream to Redis pub/sub exactly as kombu does (PUBLISH on
`/0.celeryev/<routing key>`), paced to a rate in events/s or as one full-speed burst.

    python bench/publisher.py STREAM_FILE REDIS_PORT RATE MAX_EVENTS   (RATE 0 = burst)

Prints: messages, events, task events, seconds spent publishing, subscribers reached (min).
"""

from __future__ import annotations

import json
import socket
import struct
import sys
import threading
import time
from pathlib import Path


def _command(channel: bytes, payload: bytes) -> bytes:
    return b"*3\r\n$7\r\nPUBLISH\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (
        len(channel),
        channel,
        len(payload),
        payload,
    )


def load(path: Path, max_events: int) -> list[tuple[bytes, int, int]]:
    """(command, events, task events) per message, up to max_events."""
    out = []
    total = 0
    with path.open("rb") as fh:
        while total < max_events:
            head = fh.read(8)
            if len(head) < 8:
                break
            size, n = struct.unpack("<II", head)
            payload = fh.read(size)
            envelope = json.loads(payload)
            key = envelope["properties"]["delivery_info"]["routing_key"]
            tasks = 0 if key.startswith("worker.") else n
            out.append((_command(b"/0.celeryev/" + key.encode(), payload), n, tasks))
            total += n
    return out


def main() -> None:
    path, port, rate, max_events = (
        Path(sys.argv[1]),
        int(sys.argv[2]),
        float(sys.argv[3]),
        int(sys.argv[4]),
    )
    messages = load(path, max_events)
    sock = socket.create_connection(("127.0.0.1", port))
    replies = {"count": 0, "min": None}

    def drain() -> None:
        buf = b""
        while replies["count"] < len(messages):
            chunk = sock.recv(1 << 16)
            if not chunk:
                return
            buf += chunk
            *lines, buf = buf.split(b"\r\n")
            for line in lines:
                if line.startswith(b":"):
                    reached = int(line[1:])
                    replies["count"] += 1
                    if replies["min"] is None or reached < replies["min"]:
                        replies["min"] = reached

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    started = time.perf_counter()
    if rate <= 0:
        chunk: list[bytes] = []
        for command, _n, _t in messages:
            chunk.append(command)
            if len(chunk) >= 200:
                sock.sendall(b"".join(chunk))
                chunk = []
        if chunk:
            sock.sendall(b"".join(chunk))
    else:
        tick = 0.005
        sent_events = 0
        index = 0
        while index < len(messages):
            due = (time.perf_counter() - started) * rate
            chunk = []
            while index < len(messages) and sent_events < due + rate * tick:
                command, n, _t = messages[index]
                chunk.append(command)
                sent_events += n
                index += 1
            if chunk:
                sock.sendall(b"".join(chunk))
            time.sleep(tick)
    elapsed = time.perf_counter() - started
    reader.join(30)
    events = sum(n for _c, n, _t in messages)
    tasks = sum(t for _c, _n, t in messages)
    print(len(messages), events, tasks, f"{elapsed:.3f}", replies["min"])


if __name__ == "__main__":
    main()
