"""The URL prefix the browser sees in front of our paths, for absolute links we must emit.

Behind a reverse proxy that serves us under a path (`https://ops.example/celery/...`), the
browser's URLs start with that path. The app learns it from ASGI's `root_path` (uvicorn
`--root-path`), or from `X-Forwarded-Prefix` sent by a proxy listed in TRUSTED_PROXIES. Anyone else's
header is ignored: the value lands in a redirect and in HTML, so it must not be attacker-chosen.
"""

from __future__ import annotations

import re

from starlette.requests import HTTPConnection

_SAFE_PREFIX = re.compile(r"^(/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)*$")
MAX_PREFIX = 200


def _clean(value: str) -> str | None:
    value = value.strip().rstrip("/")
    if len(value) > MAX_PREFIX or not _SAFE_PREFIX.fullmatch(value) or "//" in value:
        return None
    return value


def url_prefix(connection: HTTPConnection, trusted_proxies: frozenset[str]) -> str:
    """'' or a path like '/celery' (no trailing slash)."""
    peer = connection.client.host if connection.client else None
    if peer is not None and peer in trusted_proxies:
        forwarded = connection.headers.get("x-forwarded-prefix")
        if forwarded:
            cleaned = _clean(forwarded.split(",")[0])
            if cleaned is not None:
                return cleaned
    return _clean(str(connection.scope.get("root_path") or "")) or ""


__all__ = ["url_prefix"]
