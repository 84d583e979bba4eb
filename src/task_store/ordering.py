"""Listing orders and opaque keyset cursors.

Every order is `(sort column, task_id)` in one direction, so ties are broken by the task id and a
position is a pair of values. Tasks without a value for the sort column (not yet started, still
running, ...) always come after those with one, in either direction, ordered by task id: a page
walks the valued segment first, then the null segment, each an index range scan on
`(column, task_id)`. A cursor names its order, its segment and its position; it is opaque to
clients (base64url of a small JSON document) and checked strictly when it comes back.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import InstrumentedAttribute

from src.db.models.tasks import TaskRecord
from src.errors import BadInput

CURSOR_VERSION = 1


class TaskOrderKey(StrEnum):
    SEEN = "seen"
    RECEIVED = "received"
    STARTED = "started"
    FINISHED = "finished"
    RUNTIME = "runtime"


_COLUMNS: dict[TaskOrderKey, InstrumentedAttribute[Any]] = {
    TaskOrderKey.SEEN: TaskRecord.seen_at,
    TaskOrderKey.RECEIVED: TaskRecord.received_at,
    TaskOrderKey.STARTED: TaskRecord.started_at,
    TaskOrderKey.FINISHED: TaskRecord.finished_at,
    TaskOrderKey.RUNTIME: TaskRecord.runtime,
}


@dataclass(frozen=True, slots=True)
class TaskOrder:
    key: TaskOrderKey = TaskOrderKey.SEEN
    descending: bool = True

    @property
    def column(self) -> InstrumentedAttribute[Any]:
        return _COLUMNS[self.key]

    @property
    def nullable(self) -> bool:
        return self.key is not TaskOrderKey.SEEN

    @property
    def name(self) -> str:
        return f"{self.key.value}_{'desc' if self.descending else 'asc'}"

    def value_of(self, record: TaskRecord) -> datetime | float | None:
        value: datetime | float | None = getattr(record, self.column.key)
        return value


@dataclass(frozen=True, slots=True)
class Cursor:
    """A position: after the row with this sort value (None: in the null segment) and task id."""

    order: str
    value: datetime | float | None
    task_id: str


def encode_cursor(order: TaskOrder, value: datetime | float | None, task_id: str) -> str:
    raw: Any = value.isoformat() if isinstance(value, datetime) else value
    document = {"v": CURSOR_VERSION, "o": order.name, "k": raw, "i": task_id}
    packed = json.dumps(document, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(packed).decode().rstrip("=")


def decode_cursor(text: str, order: TaskOrder) -> Cursor:
    """The position `text` names; BAD_INPUT when it is not one of ours or is for another order."""
    bad = BadInput("after: not a valid cursor for this query", field="after")
    try:
        padded = text + "=" * (-len(text) % 4)
        document = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, UnicodeError, binascii.Error):
        raise bad from None
    if not isinstance(document, dict) or document.get("v") != CURSOR_VERSION:
        raise bad
    task_id, raw = document.get("i"), document.get("k")
    if not isinstance(task_id, str) or not task_id:
        raise bad
    if document.get("o") != order.name:
        raise BadInput(
            f"after: the cursor belongs to order {document.get('o')}, not {order.name}",
            field="after",
        )
    value: datetime | float | None
    if raw is None:
        value = None
    elif order.key is TaskOrderKey.RUNTIME:
        if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
            raise bad
        value = float(raw)
    else:
        if not isinstance(raw, str):
            raise bad
        try:
            value = datetime.fromisoformat(raw)
        except ValueError:
            raise bad from None
        if value.tzinfo is None:
            raise bad
    if value is None and not order.nullable:
        raise bad
    return Cursor(order.name, value, task_id)


__all__ = ["Cursor", "TaskOrder", "TaskOrderKey", "decode_cursor", "encode_cursor"]
