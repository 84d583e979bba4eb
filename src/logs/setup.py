"""Logging for `serve`, `collect` and `demo`: one stderr handler on the root logger, plain or JSON
(LOG_FORMAT), which uvicorn's loggers use too when the format is JSON."""

from __future__ import annotations

import logging
import sys
from typing import Any, Literal

from src.logs.formatter import JsonFormatter, TextFormatter

LogFormat = Literal["text", "json"]


def configure_logging(level: str, log_format: LogFormat = "text") -> None:
    """Replace the root logger's handlers with one writing `log_format` lines to stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)


def uvicorn_log_config(log_format: LogFormat, level: str = "INFO") -> dict[str, Any]:
    """uvicorn's `log_config`: its own (coloured) default for text; for JSON the same root
    handler as `configure_logging`, stated as a dictConfig so that uvicorn applies it in each of
    its worker processes too (`serve --workers N`), with its loggers propagating to it."""
    if log_format != "json":
        from uvicorn.config import LOGGING_CONFIG

        return LOGGING_CONFIG
    propagate = {"handlers": [], "propagate": True}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "src.logs.formatter.JsonFormatter"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {name: propagate for name in ("uvicorn", "uvicorn.error", "uvicorn.access")},
    }


__all__ = ["LogFormat", "configure_logging", "uvicorn_log_config"]
