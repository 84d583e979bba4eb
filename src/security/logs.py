"""Log records with secrets masked, whoever logs them (our code, Celery, kombu, uvicorn).

A record factory rather than a handler filter: it sees every record of every logger once,
whichever handlers are attached later, and only records of enabled levels are built at all.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

from src.security.masking import mask_text

_installed = False


def install_log_masking() -> None:
    """Mask URLs' passwords and `password=...` pairs in every log message and traceback."""
    global _installed
    if _installed:
        return
    _installed = True
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a malformed call: leave it to logging to report
            return record
        record.msg, record.args = mask_text(message), None
        if record.exc_info and record.exc_info[0] is not None:
            text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            record.exc_text = mask_text(text)
        return record

    logging.setLogRecordFactory(factory)


__all__ = ["install_log_masking"]
