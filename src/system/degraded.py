"""What this process does in a lesser way right now: serving, but not as configured.

Shared by REST health (`degraded`) and GraphQL `systemStatus.degraded`, so a probe and an operator
read the same words. None of these is a failure: no probe should restart the process for it.
"""

from __future__ import annotations

from src.security.rate_limit import RateLimiter


def degraded_reasons(limiter: RateLimiter) -> list[str]:
    """In words for an operator; empty when everything works as configured."""
    reasons = []
    if limiter.degraded:
        reasons.append(
            "rate limits are counted in this process only, against a quarter of each budget "
            "(Redis unreachable or not configured)"
        )
    return reasons


__all__ = ["degraded_reasons"]
