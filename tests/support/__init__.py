"""Real parts for the tests: Redis servers, Celery workers, the API over HTTP, databases."""
