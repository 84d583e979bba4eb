"""The worker app of bench/durable.py: the demo app with celery_admin_events installed and no
result backend (results are where pub/sub-only collection would otherwise recover from)."""

from __future__ import annotations

import celery_admin_events
from src.tasks.celery_app import app

app.conf.result_backend = None
app.conf.result_extended = False
celery_admin_events.install(app)

__all__ = ["app"]
