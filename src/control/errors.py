"""Failures specific to control commands, with the shared stable codes."""

from __future__ import annotations

from src.errors import AppError, ErrorCode


class WorkerUnavailable(AppError):
    """A named worker is known but did not answer."""

    code = ErrorCode.WORKER_UNAVAILABLE


class Unsupported(AppError):
    """The worker (or broker) cannot do this as configured, e.g. autoscale without --autoscale."""

    code = ErrorCode.UNSUPPORTED


__all__ = ["Unsupported", "WorkerUnavailable"]
