"""Keeping secrets out of responses and audit records."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

SECRET_KEY = re.compile(r"pass(word)?|secret|token|api[_-]?key|credential|private|auth", re.I)
MASK = "********"


def mask_url(url: str) -> str:
    """The URL with any password replaced by asterisks."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[-1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{netloc}"))


def redact(value: Any, *, depth: int = 0) -> Any:
    """A copy of `value` with secret-looking keys masked and URLs' passwords removed."""
    if depth > 20:
        return MASK
    if isinstance(value, dict):
        return {
            k: (MASK if isinstance(k, str) and SECRET_KEY.search(k) else redact(v, depth=depth + 1))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(v, depth=depth + 1) for v in value]
    if isinstance(value, str) and "://" in value and "@" in value:
        return mask_url(value)
    return value


__all__ = ["MASK", "mask_url", "redact"]
