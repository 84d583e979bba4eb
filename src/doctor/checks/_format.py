"""Small helpers for evidence text."""

from __future__ import annotations

from src.security.masking import mask_url


def seconds(value: float) -> str:
    """'45 s', '12 min', '3.5 h', '2.0 d'."""
    if value < 120:
        return f"{value:.0f} s"
    if value < 7200:
        return f"{value / 60:.0f} min"
    if value < 172800:
        return f"{value / 3600:.1f} h"
    return f"{value / 86400:.1f} d"


def megabytes(value: int | float) -> str:
    return f"{value / (1 << 20):.0f} MiB"


def url(value: str) -> str:
    return mask_url(value)


__all__ = ["megabytes", "seconds", "url"]
