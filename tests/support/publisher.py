"""A separate publisher process, standing in for the collector: publishes JSON lines from stdin.

`python -m tests.support.publisher redis://host:port/0 celery_admin.tasks < messages.jsonl`
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import redis

ROOT = Path(__file__).resolve().parents[2]


def publish_from_another_process(url: str, channel: str, messages: list[dict[str, Any]]) -> None:
    lines = "".join(json.dumps(m) + "\n" for m in messages)
    subprocess.run(
        [sys.executable, "-m", "tests.support.publisher", url, channel],
        input=lines.encode(),
        cwd=ROOT,
        check=True,
        timeout=30,
    )


def main() -> None:
    url, channel = sys.argv[1], sys.argv[2]
    client = redis.Redis.from_url(url)
    for line in sys.stdin:
        if line.strip():
            client.publish(channel, line.strip())
    client.close()


if __name__ == "__main__":
    main()


__all__ = ["publish_from_another_process"]
