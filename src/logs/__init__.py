"""Structured logs: who and what each line is about (request id, subject, operation, audit id),
kept in contextvars, and the JSON formatter for log aggregation (LOG_FORMAT=json)."""

from src.logs.context import (
    REQUEST_ID_HEADER,
    bind,
    current_fields,
    current_request_id,
    sane_request_id,
)
from src.logs.setup import configure_logging, uvicorn_log_config

__all__ = [
    "REQUEST_ID_HEADER",
    "bind",
    "configure_logging",
    "current_fields",
    "current_request_id",
    "sane_request_id",
    "uvicorn_log_config",
]
