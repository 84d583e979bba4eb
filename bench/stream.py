"""A synthetic, realistic Celery event stream, as the bytes kombu publishes on Redis pub/sub.

40,000 tasks on 8 workers: each task is sent by a client (one message), then received, started
and succeeded or failed on a worker (task events batched per worker as Celery's buffered
dispatcher does, up to 10 per message), interleaved in time, plus worker heartbeats; 200,000
events in all. Written to a file of length-prefixed payloads by a separate process, so the
benchmark's own memory is only what the collector needs.
"""

from __future__ import annotations

import base64
import json
import random
import struct
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

TASKS = 40_000
WORKERS = 8
TOTAL_EVENTS = 200_000
NAMES = (
    "proj.tasks.analyze_audio",
    "proj.tasks.transcribe",
    "proj.tasks.cleanup_storage",
    "proj.tasks.send_report",
)
TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "/app/.venv/lib/python3.11/site-packages/celery/app/trace.py", line 453, in trace_task\n'
    "    R = retval = fun(*args, **kwargs)\n"
    '  File "/app/proj/tasks.py", line 88, in analyze_audio\n'
    "    raise ValueError(f'model file missing: {path}')\n"
    "ValueError: model file missing: /models/v3.bin\n"
)


def _payload(body: Any, routing_key: str) -> bytes:
    envelope = {
        "body": base64.b64encode(json.dumps(body).encode()).decode(),
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": {},
        "properties": {
            "delivery_mode": 1,
            "delivery_info": {"exchange": "celeryev", "routing_key": routing_key},
            "priority": 0,
            "body_encoding": "base64",
            "delivery_tag": str(uuid.uuid4()),
        },
    }
    return json.dumps(envelope).encode()


def events(seed: int = 7) -> Iterator[tuple[float, str, dict[str, Any]]]:
    """(time, worker or '', event) in time order."""
    rng = random.Random(seed)
    now = time.time() - 3600
    workers = [f"celery@worker-{i}" for i in range(WORKERS)]
    timeline: list[tuple[float, str, dict[str, Any]]] = []
    for i in range(TASKS):
        task_id = str(uuid.UUID(int=rng.getrandbits(128)))
        worker = workers[i % WORKERS]
        name = NAMES[i % len(NAMES)]
        t0 = now + i * 0.002
        base = {"utcoffset": 0, "pid": 4000 + i % WORKERS}
        clock = i + 1
        args = f"({rng.randint(1, 10**6)}, 'recording-{i}.wav')"
        kwargs = f"{{'language': 'en', 'priority': {i % 3}}}"
        timeline.append(
            (
                t0,
                "",
                {
                    "type": "task-sent",
                    "uuid": task_id,
                    "root_id": task_id,
                    "parent_id": None,
                    "name": name,
                    "args": args,
                    "kwargs": kwargs,
                    "retries": 0,
                    "eta": None,
                    "expires": None,
                    "queue": "ai_analysis",
                    "exchange": "",
                    "routing_key": "ai_analysis",
                    "hostname": "gen1@api-7f9c",
                    "timestamp": t0,
                    "clock": clock,
                    **base,
                },
            )
        )
        received = t0 + rng.uniform(0.001, 0.02)
        started = received + rng.uniform(0.001, 0.05)
        finished = started + rng.uniform(0.05, 1.5)
        common = {"hostname": worker, **base}
        timeline.append(
            (
                received,
                worker,
                {
                    "type": "task-received",
                    "uuid": task_id,
                    "name": name,
                    "args": args,
                    "kwargs": kwargs,
                    "root_id": task_id,
                    "parent_id": None,
                    "retries": 0,
                    "eta": None,
                    "expires": None,
                    "timestamp": received,
                    "clock": clock,
                    **common,
                },
            )
        )
        timeline.append(
            (
                started,
                worker,
                {"type": "task-started", "uuid": task_id, "timestamp": started, **common},
            )
        )
        if i % 10 == 3:
            end = {
                "type": "task-failed",
                "uuid": task_id,
                "exception": "ValueError('model file missing: /models/v3.bin')",
                "traceback": TRACEBACK,
                "timestamp": finished,
                **common,
            }
        else:
            end = {
                "type": "task-succeeded",
                "uuid": task_id,
                "result": f"{{'recording_id': {i}, 'score': 0.{i % 1000:03d}}}",
                "runtime": finished - started,
                "timestamp": finished,
                **common,
            }
        timeline.append((finished, worker, end))
    span = TASKS * 0.002 + 2
    beats = TOTAL_EVENTS - len(timeline)
    for j in range(beats):
        worker = workers[j % WORKERS]
        at = now + span * j / beats
        timeline.append(
            (
                at,
                worker,
                {
                    "type": "worker-heartbeat",
                    "hostname": worker,
                    "timestamp": at,
                    "freq": 2.0,
                    "sw_ident": "py-celery",
                    "sw_ver": "5.7.0",
                    "sw_sys": "Linux",
                    "active": rng.randint(0, 8),
                    "processed": j,
                    "loadavg": [0.5, 0.4, 0.3],
                    "utcoffset": 0,
                    "pid": 4000 + j % WORKERS,
                    "clock": j,
                },
            )
        )
    timeline.sort(key=lambda item: item[0])
    yield from timeline


def payloads(seed: int = 7) -> Iterator[tuple[bytes, int]]:
    """(payload, number of events in it): task events of a worker batched up to 10."""
    buffers: dict[str, list[dict[str, Any]]] = {}
    for _at, worker, event in events(seed):
        kind = event["type"]
        if not worker or kind.startswith("worker-"):
            yield _payload(event, kind.replace("-", ".")), 1
            continue
        buf = buffers.setdefault(worker, [])
        buf.append(event)
        if len(buf) >= 10:
            yield _payload(buf, "task.multi"), len(buf)
            buffers[worker] = []
    for buf in buffers.values():
        if buf:
            yield _payload(buf, "task.multi"), len(buf)


def write_stream(path: Path, seed: int = 7) -> tuple[int, int]:
    messages = count = 0
    with path.open("wb") as fh:
        for payload, n in payloads(seed):
            fh.write(struct.pack("<II", len(payload), n))
            fh.write(payload)
            messages += 1
            count += n
    return messages, count


def read_stream(fh: BinaryIO, max_messages: int) -> list[tuple[bytes, int]]:
    out = []
    for _ in range(max_messages):
        head = fh.read(8)
        if len(head) < 8:
            break
        size, n = struct.unpack("<II", head)
        out.append((fh.read(size), n))
    return out


__all__ = ["TASKS", "TOTAL_EVENTS", "WORKERS", "payloads", "read_stream", "write_stream"]


if __name__ == "__main__":
    import sys

    print(*write_stream(Path(sys.argv[1])))
