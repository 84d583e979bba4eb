"""The demo app as a user would configure durable mode: one line, and no extended results (so
exact-args retry can only come from what the extension recorded)."""

from __future__ import annotations

import celery_admin_events
from src.tasks.celery_app import app

app.conf.result_extended = False
celery_admin_events.install(app)

__all__ = ["app"]
