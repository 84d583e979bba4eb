"""Every check the doctor runs, in the order they are reported within a severity."""

from __future__ import annotations

from src.doctor.checks import (
    acks_late,
    clock_skew,
    memory_growth,
    prefetch,
    redis_eviction,
    result_expiry,
    sent_events,
    visibility_timeout,
    worker_events,
)
from src.doctor.model import Check

CHECKS: tuple[Check, ...] = (
    redis_eviction.CHECK,
    visibility_timeout.CHECK,
    acks_late.CHECK,
    worker_events.CHECK,
    sent_events.CHECK,
    prefetch.CHECK,
    result_expiry.CHECK,
    memory_growth.CHECK,
    clock_skew.CHECK,
)

__all__ = ["CHECKS"]
