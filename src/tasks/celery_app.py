"""The demo Celery app, configured as the seed describes.

Workers started from it send task events, sent events and extended results, which is what
celery-admin's collector and retry need. Its `beat_schedule` holds two periodic entries (one every
10 s, one crontab) that `celery-admin demo` runs a real `celery beat` for. celery-admin itself never
requires this module: it manages any cluster given its broker URL.
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from celery.schedules import crontab
from kombu import Exchange, Queue

from src.config import get_settings

DEMO_QUEUES = ("ai_analysis", "maintenance", "health")
DEMO_BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    "add-every-10s": {
        "task": "src.tasks.demo.add",
        "schedule": 10.0,
        "args": (2, 3),
        "options": {"queue": "health"},
    },
    "cleanup-storage-every-minute": {
        "task": "src.tasks.demo.cleanup_storage",
        "schedule": crontab(minute="*"),
        "kwargs": {"days": 30},
        "options": {"queue": "maintenance"},
    },
}


def create_demo_app() -> Celery:
    settings = get_settings()
    celery = Celery("celery_admin_demo", include=["src.tasks.demo"])
    celery.conf.update(
        broker_url=settings.broker_url,
        result_backend=settings.result_backend,
        task_queues=[
            Queue(name, Exchange(name, type="direct"), routing_key=name, queue_arguments={})
            for name in DEMO_QUEUES
        ],
        task_default_queue="ai_analysis",
        task_routes={
            "src.tasks.demo.analyze_*": {"queue": "ai_analysis"},
            "src.tasks.demo.cleanup_*": {"queue": "maintenance"},
            "src.tasks.demo.health_*": {"queue": "health"},
        },
        task_track_started=True,
        task_send_sent_event=True,
        worker_send_task_events=True,
        result_extended=True,
        result_expires=86400,
        task_acks_late=False,
        worker_hijack_root_logger=False,
        worker_log_color=False,
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            "queue_order_strategy": "priority",
            "priority_steps": [0, 3, 6, 9],
        },
        worker_prefetch_multiplier=1,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        enable_utc=True,
        beat_schedule=DEMO_BEAT_SCHEDULE,
    )
    return celery


app = create_demo_app()

__all__ = ["DEMO_BEAT_SCHEDULE", "DEMO_QUEUES", "app", "create_demo_app"]
