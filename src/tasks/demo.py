"""Demo tasks: quick, slow, failing and retrying ones on the seed's three queues."""

from __future__ import annotations

import random
import time
from typing import Any

from src.tasks.celery_app import app


@app.task(name="src.tasks.demo.analyze_audio")
def analyze_audio(recording_id: int, seconds: float = 0.2) -> dict[str, Any]:
    """A typical AI-analysis job: takes a while, returns a small result."""
    time.sleep(seconds)
    return {"recording_id": recording_id, "score": round(random.random(), 3)}


@app.task(name="src.tasks.demo.analyze_slow")
def analyze_slow(seconds: float = 30.0) -> str:
    """Long enough to be seen active, revoked or terminated."""
    time.sleep(seconds)
    return "done"


@app.task(name="src.tasks.demo.analyze_flaky", bind=True, max_retries=3, default_retry_delay=0.5)
def analyze_flaky(self: Any, fail_times: int = 2) -> str:
    """Fails `fail_times` times, retrying, then succeeds."""
    if self.request.retries < fail_times:
        raise self.retry(exc=RuntimeError(f"transient failure #{self.request.retries + 1}"))
    return f"succeeded after {self.request.retries} retries"


@app.task(name="src.tasks.demo.analyze_broken")
def analyze_broken(reason: str = "model file missing") -> None:
    """Always fails, so failures and tracebacks show up."""
    raise ValueError(reason)


@app.task(name="src.tasks.demo.cleanup_storage")
def cleanup_storage(days: int = 30) -> int:
    time.sleep(0.05)
    return random.randint(0, 100)


@app.task(name="src.tasks.demo.health_ping")
def health_ping() -> str:
    return "pong"


@app.task(name="src.tasks.demo.add")
def add(x: int, y: int) -> int:
    return x + y


__all__ = [
    "add",
    "analyze_audio",
    "analyze_broken",
    "analyze_flaky",
    "analyze_slow",
    "cleanup_storage",
    "health_ping",
]
