"""A task's exact call as JSON, size-capped and redacted, with a status saying what it holds.

Retry re-sends a task with its exact arguments only when they are known: `exact` means the JSON
is the call itself; `redacted` means secret-looking keys or URL passwords were masked (shown, but
not re-sendable as is); `too_large` and `opaque` (not JSON-able) store nothing but the reason.
"""

from __future__ import annotations

import json
from typing import Any

from celery_admin_events.masking import redact

EXACT, REDACTED, TOO_LARGE, OPAQUE = "exact", "redacted", "too_large", "opaque"


def capture(args: Any, kwargs: Any, max_bytes: int) -> dict[str, Any]:
    """`args_json`, `kwargs_json` (JSON texts or None), `args_status` and `args_note`."""
    args = list(args) if isinstance(args, list | tuple) else args
    kwargs = dict(kwargs) if isinstance(kwargs, dict) else kwargs
    if not isinstance(args, list) or not isinstance(kwargs, dict):
        return _nothing(OPAQUE, f"args {type(args).__name__}, kwargs {type(kwargs).__name__}")
    try:
        args_text = json.dumps(args, allow_nan=False, separators=(",", ":"))
        kwargs_text = json.dumps(kwargs, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        return _nothing(OPAQUE, f"not JSON-able: {exc}"[:255])
    size = len(args_text) + len(kwargs_text)
    if size > max_bytes:
        return _nothing(TOO_LARGE, f"{size} bytes of JSON, over the {max_bytes} cap")
    # JSON turns tuples into lists and keeps keys as strings: compare what a re-send would use.
    plain_args, plain_kwargs = json.loads(args_text), json.loads(kwargs_text)
    safe_args, safe_kwargs = redact(plain_args), redact(plain_kwargs)
    if safe_args == plain_args and safe_kwargs == plain_kwargs:
        status, note = EXACT, None
    else:
        status, note = REDACTED, "secret-looking values masked"
        args_text = json.dumps(safe_args, separators=(",", ":"))
        kwargs_text = json.dumps(safe_kwargs, separators=(",", ":"))
    return {"args_json": args_text, "kwargs_json": kwargs_text, "args_status": status,
            "args_note": note}  # fmt: skip


def _nothing(status: str, note: str) -> dict[str, Any]:
    return {"args_json": None, "kwargs_json": None, "args_status": status, "args_note": note}


__all__ = ["EXACT", "OPAQUE", "REDACTED", "TOO_LARGE", "capture"]
