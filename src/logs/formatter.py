"""One JSON object per line, for ELK and Loki; secrets masked by `src.security.masking.redact`."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from src.logs.context import current_fields
from src.security.masking import redact

# The attributes every LogRecord has: anything else on a record came from `extra=` and is kept.
_STANDARD = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys()
    | {"message", "asctime", "color_message", "taskName"}
)


class JsonFormatter(logging.Formatter):
    """time (ISO 8601, UTC), level, logger, message, then request_id, subject, operation and
    audit_id when set, then the record's extras and its exception; every value redacted."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(current_fields())
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in entry and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(redact(entry), default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """The plain format, with the request id when there is one; URLs' passwords masked."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = redact(super().format(record))
        request_id = current_fields().get("request_id")
        return f"{text} [request {request_id}]" if request_id else str(text)


__all__ = ["JsonFormatter", "TextFormatter"]
