"""The log context of the work in hand, in contextvars: set once where it becomes known (the
request id in the ASGI middleware, subject and operation by the GraphQL extension, the audit id
by the guard) and read by every log line written meanwhile, in any module, without passing it on.

Contextvars follow asyncio tasks (a task copies its creator's context), so a value set while a
request is served never leaks into another request's lines.
"""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

REQUEST_ID_HEADER = "X-Request-ID"

# A caller's own id is kept only when it is short and plain (it is echoed into headers and log
# lines): letters, digits and . _ : - , at most 128 characters.
_SANE = re.compile(r"[A-Za-z0-9._:-]{1,128}")

_request_id: ContextVar[str | None] = ContextVar("celery_admin_request_id", default=None)
_subject: ContextVar[str | None] = ContextVar("celery_admin_subject", default=None)
_operation: ContextVar[str | None] = ContextVar("celery_admin_operation", default=None)
_audit_id: ContextVar[int | None] = ContextVar("celery_admin_audit_id", default=None)


def sane_request_id(incoming: str | None) -> str:
    """The caller's X-Request-ID when it is sane, else a new one."""
    if incoming is not None and _SANE.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


def bind(
    *,
    request_id: str | None = None,
    subject: str | None = None,
    operation: str | None = None,
    audit_id: int | None = None,
) -> None:
    """Set the given fields for the rest of the current task (and the tasks it starts)."""
    if request_id is not None:
        _request_id.set(request_id)
    if subject is not None:
        _subject.set(subject)
    if operation is not None:
        _operation.set(operation)
    if audit_id is not None:
        _audit_id.set(audit_id)


def current_request_id() -> str | None:
    return _request_id.get()


def current_fields() -> dict[str, str | int]:
    """The fields that are set, by their log names."""
    fields: dict[str, str | int | None] = {
        "request_id": _request_id.get(),
        "subject": _subject.get(),
        "operation": _operation.get(),
        "audit_id": _audit_id.get(),
    }
    return {k: v for k, v in fields.items() if v is not None}


__all__ = ["REQUEST_ID_HEADER", "bind", "current_fields", "current_request_id", "sane_request_id"]
