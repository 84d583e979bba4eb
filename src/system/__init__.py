"""The system domain: health of the dependencies, the editable configuration, Celery's conf."""
