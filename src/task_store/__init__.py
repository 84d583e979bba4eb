"""Tasks in `celery_task_results_ext`: filters compiled to SQL."""
