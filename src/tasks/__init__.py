"""The demo Celery app and its tasks (`celery -A src.tasks.celery_app.app worker`)."""
