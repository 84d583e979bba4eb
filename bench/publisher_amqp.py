"""Publishes the synthetic stream to RabbitMQ's `celeryev` topic exchange as Celery's event
dispatcher does (one message per event or per buffered group, JSON, the stream's routing keys),
paced to a rate in events/s or as one full-speed burst.

    python bench/publisher_amqp.py STREAM_FILE AMQP_URL RATE MAX_EVENTS   (RATE 0 = burst)

Every 0.25 s it prints a progress line `progress <seconds> <events> <task events>`. A line
`pause` on its stdin makes it stop publishing, make sure the broker has routed everything (a
synchronous round trip on the publishing channel) and print `paused <messages> <events>`; `resume`
goes on. At the end:
`done <messages> <events> <task events> <finished tasks> <tasks> <seconds>`, where finished tasks
counts the tasks whose final event (succeeded or failed) was published.
"""

from __future__ import annotations

import base64
import json
import struct
import sys
import threading
import time
from pathlib import Path
from typing import Any

import amqp
from kombu import Connection

FINAL = {"task-succeeded", "task-failed"}


def event_counts(path: Path, max_events: int) -> list[int]:
    """Events per message of the stream, in publishing order."""
    return [n for _key, _body, n, _tasks, _kinds in load(path, max_events)]


def load(path: Path, max_events: int) -> list[tuple[str, bytes, int, int, list[Any]]]:
    """(routing key, body, events, task events, events' (type, uuid)) per message."""
    out = []
    total = 0
    with path.open("rb") as fh:
        while total < max_events:
            head = fh.read(8)
            if len(head) < 8:
                break
            size, n = struct.unpack("<II", head)
            envelope = json.loads(fh.read(size))
            key = envelope["properties"]["delivery_info"]["routing_key"]
            body = base64.b64decode(envelope["body"])
            decoded = json.loads(body)
            events = decoded if isinstance(decoded, list) else [decoded]
            tasks = 0 if key.startswith("worker.") else n
            kinds = [(e.get("type"), e.get("uuid")) for e in events]
            out.append((key, body, n, tasks, kinds))
            total += n
    return out


def main() -> None:
    path, url, rate, max_events = (
        Path(sys.argv[1]),
        sys.argv[2],
        float(sys.argv[3]),
        int(sys.argv[4]),
    )
    messages = load(path, max_events)
    parts = Connection(url)
    conn = amqp.Connection(
        host=f"{parts.hostname}:{parts.port or 5672}",
        userid=parts.userid,
        password=parts.password,
        virtual_host=parts.virtual_host,
    )
    conn.connect()
    channel = conn.channel()
    commands: list[str] = []
    resumed = threading.Event()

    def listen() -> None:
        for line in sys.stdin:
            commands.append(line.strip())
            if line.strip() == "resume":
                resumed.set()

    threading.Thread(target=listen, daemon=True).start()
    started = time.perf_counter()
    last_report = started
    sent_events = sent_tasks = 0
    tasks: set[str] = set()
    finished: set[str] = set()
    tick = 0.005
    index = 0
    while index < len(messages):
        due = (time.perf_counter() - started) * rate if rate > 0 else float("inf")
        while index < len(messages) and sent_events < due + rate * tick:
            key, body, n, task_n, kinds = messages[index]
            channel.basic_publish(
                amqp.Message(body, content_type="application/json", content_encoding="utf-8"),
                exchange="celeryev",
                routing_key=key,
            )
            sent_events += n
            sent_tasks += task_n
            for kind, task_id in kinds:
                if task_id:
                    tasks.add(task_id)
                    if kind in FINAL:
                        finished.add(task_id)
            index += 1
            if rate <= 0 and index % 1000 == 0:
                break
        if "pause" in commands:
            commands.remove("pause")
            channel.exchange_declare("celeryev", "topic", passive=True)  # a round trip
            print(f"paused {index} {sent_events}", flush=True)
            resumed.wait()
            resumed.clear()
        now = time.perf_counter()
        if now - last_report >= 0.25:
            print(f"progress {now - started:.3f} {sent_events} {sent_tasks}", flush=True)
            last_report = now
        if rate > 0:
            time.sleep(tick)
    conn.close()  # waits for the broker to have taken everything
    elapsed = time.perf_counter() - started
    print(
        f"done {len(messages)} {sent_events} {sent_tasks} {len(finished)} {len(tasks)} "
        f"{elapsed:.3f}",
        flush=True,
    )


if __name__ == "__main__":
    main()
